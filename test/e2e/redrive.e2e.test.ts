import { afterEach, describe, expect, it } from 'vitest';
import { dlqList, redrive, replay, resolve } from '../../cli/operations';
import { type DeliveryRecord, TERMINAL_STATES as TERMINAL } from '../../functions/shared/state/ledger';
import type { SandboxVendor } from '../../sandbox';
import { assertInvariant, type Dropped, useLocalPipeline, vendorOfKey } from './support/harness';
import {
  armOnce,
  CLEVERTAP_CATALOGS,
  csvBody,
  dlqMessageFor,
  INSPECT_ASSETS,
  jpegBody,
  latestRecord,
  logFor,
  queueDepth,
  waitFor,
} from './support/inputs';

/**
 * Operator tools on a live pipeline: files parked by a vendor outage come back with `redrive` once
 * the fault is gone and complete exactly once; `replay` delivers a completed file again on purpose;
 * `resolve` settles a completion whose outcome was unknown, without (`completed`) or with (`retry`)
 * a new vendor call.
 */

const e2e = useLocalPipeline();
// A scenario that fails half-way must not leave its faults to the next one.
afterEach(() => {
  e2e.pipeline?.sandbox.faults.clear();
  e2e.clearFailpoints?.();
});
const OPERATOR = 'test-operator';
const ALL_VENDORS: SandboxVendor[] = ['cleartax-gst', 'cleartax-one', 'clevertap-catalog', 'inspect'];

let seq = 0;
const tag = (what: string) => `${what}-${++seq}-${Date.now()}`;

/** One file per vendor (five routes' worth of shapes). */
async function dropOnePerVendor(what: string): Promise<Dropped[]> {
  return Promise.all([
    e2e.drop('cleartax/sales/', `${what}-gst.csv`, csvBody(tag(what))),
    e2e.drop('cleartax-one/sales/', `${what}-one.csv`, csvBody(tag(what))),
    e2e.drop(`clevertap/${CLEVERTAP_CATALOGS[0]}/`, `${what}-ct.csv`, `id,title\n1,${tag(what)}\n`),
    e2e.drop(`inspect/${INSPECT_ASSETS[0]}/`, `${what}-photo.jpg`, jpegBody(tag(what))),
  ]);
}

/** Waits until the key's newest ledger entry satisfies `done` (terminal states are not enough here). */
async function waitForRecord(
  key: string,
  what: string,
  done: (r: DeliveryRecord) => boolean,
  timeoutMs = 45_000,
): Promise<DeliveryRecord> {
  return waitFor(
    async () => {
      const r = await latestRecord(e2e, key);
      return `${key} to be ${what}; it is ${r?.state} ${r?.reason ?? ''} ${r?.lastError ?? ''}\n  ${logFor(e2e, key).slice(-6).join('\n  ')}`;
    },
    async () => {
      const r = await latestRecord(e2e, key);
      return r && done(r) ? r : undefined;
    },
    timeoutMs,
    300,
  );
}

const vendorOf = (file: Dropped) => vendorOfKey(file.key) as SandboxVendor;
const accepted = (file: Dropped) =>
  e2e.pipeline.sandbox.log
    .calls({ vendor: vendorOf(file), operation: 'complete', fileName: file.fileName })
    .filter((c) => (c.status >= 200 && c.status < 300) || c.fault === 'reset-after-commit');
const completeCalls = (file: Dropped) =>
  e2e.pipeline.sandbox.log.calls({ vendor: vendorOf(file), operation: 'complete', fileName: file.fileName });

async function queuesIdle(): Promise<void> {
  const urls = [
    ...e2e.pipeline.resources.intake.flatMap((q) => [q.url]),
    e2e.pipeline.resources.completion.url,
  ];
  await waitFor(
    'every intake and completion queue to be empty',
    async () =>
      (await Promise.all(urls.map((u) => queueDepth(e2e, u)))).every((n) => n === 0) ? true : undefined,
    30_000,
  );
}

describe('redrive, replay and resolve on the local pipeline', () => {
  it('parks files in their intake DLQs during a presign outage past the outage horizon, and redrive completes each exactly once', async () => {
    for (const vendor of ALL_VENDORS) {
      e2e.pipeline.sandbox.faults.inject({
        vendor,
        operation: 'presign',
        times: 1000,
        action: { kind: 'status', status: 500 },
      });
    }
    const files = await dropOnePerVendor('presign-outage');
    // A file refused for good is parked too; a redrive must refuse it again, never deliver it.
    const refused = await e2e.drop('cleartax/sales/', 'presign-outage.pdf', '%PDF-1.4', {
      expectFailure: true,
      contentType: 'application/pdf',
    });

    for (const file of files) {
      const r = await waitForRecord(file.key, 'FAILED', (x) => x.state === 'FAILED');
      expect(r).toMatchObject({ reason: 'VENDOR_UNAVAILABLE', failedStep: 'dispatch' });
      expect(r.lastError).toMatch(/presign: HTTP 500/);
      const m = await dlqMessageFor(e2e, file.key);
      expect(m.queue).toMatch(/ intake$/);
      expect(m).toMatchObject({ errorCode: 'VENDOR_UNAVAILABLE', retryable: 'true' });
      expect(m.errorMessage).toMatch(/presign: HTTP 500/);
      expect(accepted(file)).toEqual([]);
    }
    await dlqMessageFor(e2e, refused.key);
    expect(await assertInvariant(e2e, [refused])).toMatchObject({ failed: 1 });

    e2e.pipeline.sandbox.faults.clear();
    const moved = await redrive(e2e.target);
    const intakeMoved = moved
      .filter((m) => m.queue !== 'completion')
      .reduce((n, m) => n + Number(m.moved), 0);
    expect(intakeMoved).toBeGreaterThanOrEqual(files.length + 1);

    for (const file of files) await waitForRecord(file.key, 'COMPLETED', (x) => x.state === 'COMPLETED');
    const again = await waitForRecord(
      refused.key,
      'refused again',
      (x) => x.state === 'FAILED' && (x.attempts ?? 0) >= 2,
    );
    expect(again.reason).toBe('FILE_REJECTED');
    await dlqMessageFor(e2e, refused.key);
    await queuesIdle();
    const parked = (await dlqList(e2e.target)).filter((m) => files.some((f) => f.key === m.subject));
    expect(parked, 'redriven files leave the DLQ').toEqual([]);
    expect(e2e.pipeline.sandbox.log.calls({ fileName: refused.fileName })).toEqual([]);
    await assertInvariant(e2e, [...files, refused]);
  });

  it('parks files in the completion DLQ during a completion outage past the outage horizon, and redrive completes each exactly once', async () => {
    for (const vendor of ALL_VENDORS) {
      e2e.pipeline.sandbox.faults.inject({
        vendor,
        operation: 'complete',
        times: 1000,
        action: { kind: 'status', status: 503 },
      });
    }
    const files = await dropOnePerVendor('complete-outage');

    for (const file of files) {
      const r = await waitForRecord(file.key, 'FAILED', (x) => x.state === 'FAILED');
      expect(r).toMatchObject({ reason: 'VENDOR_UNAVAILABLE', failedStep: 'complete' });
      expect(r.lastError).toMatch(/complete: HTTP 503/);
      const m = await dlqMessageFor(e2e, file.key);
      expect(m).toMatchObject({ queue: 'completion', errorCode: 'VENDOR_UNAVAILABLE', retryable: 'true' });
      expect(m.errorMessage).toMatch(/complete: HTTP 503/);
      // Waiting spends no receives: more refused completions than the queue's receive budget.
      expect(completeCalls(file).length, `${file.key}: refused completions while waiting`).toBeGreaterThan(
        e2e.pipeline.config.completion.maxReceiveCount,
      );
      expect(accepted(file)).toEqual([]);
      // The bytes went up once; the outage was at the completion step only.
      expect(
        e2e.pipeline.sandbox.log.uploads({ vendor: vendorOf(file), fileName: file.fileName }),
      ).toHaveLength(1);
    }

    e2e.pipeline.sandbox.faults.clear();
    const moved = await redrive(e2e.target, 'completion');
    // moto has no StartMessageMoveTask: the CLI falls back to moving messages one by one, and says so.
    expect(moved).toEqual([
      {
        queue: 'completion',
        moved: files.length,
        left: 0,
        fallback: expect.stringContaining('no StartMessageMoveTask'),
      },
    ]);

    for (const file of files) await waitForRecord(file.key, 'COMPLETED', (x) => x.state === 'COMPLETED');
    await queuesIdle();
    const parked = (await dlqList(e2e.target)).filter((m) => files.some((f) => f.key === m.subject));
    expect(parked, 'redriven files leave the DLQ').toEqual([]);
    for (const file of files) {
      expect(
        e2e.pipeline.sandbox.log.uploads({ vendor: vendorOf(file), fileName: file.fileName }),
      ).toHaveLength(1);
    }
    await assertInvariant(e2e, files);
  });

  it('replay delivers and completes a COMPLETED file once more, recording the replay', async () => {
    const [gst, ct] = await Promise.all([
      e2e.drop('cleartax/sales/', 'replayed-gst.csv', csvBody(tag('replay'))),
      e2e.drop(`clevertap/${CLEVERTAP_CATALOGS[1]}/`, 'replayed-ct.csv', `id,title\n2,${tag('replay')}\n`),
    ]);
    const control = await e2e.drop('cleartax-one/sales/', 'not-replayed.csv', csvBody(tag('replay')));
    const first = await e2e.settle([gst.key, ct.key, control.key]);
    for (const file of [gst, ct, control]) expect(first.get(file.key)?.state).toBe('COMPLETED');
    for (const file of [gst, ct]) expect(accepted(file)).toHaveLength(1);

    for (const file of [gst, ct]) {
      const reset = await replay(e2e.target, file.key, OPERATOR);
      expect(reset).toMatchObject({ state: 'RECEIVED', replays: 1 });
    }
    for (const file of [gst, ct]) {
      const before = first.get(file.key) as DeliveryRecord;
      const r = await waitForRecord(
        file.key,
        'COMPLETED again',
        (x) =>
          x.state === 'COMPLETED' &&
          (x.replays ?? 0) === 1 &&
          (x.completedAt ?? '') > (before.completedAt ?? ''),
      );
      expect(r.sk, 'the same version, not a new one').toBe(before.sk);
      expect(r.history?.some((h) => h.note === `replay requested by ${OPERATOR}`)).toBe(true);
      const states = (r.history ?? []).map((h) => h.state);
      expect(states.lastIndexOf('COMPLETED')).toBeGreaterThan(states.lastIndexOf('RECEIVED'));
      // The deliberate exception to exactly-once: two accepted completions, two uploads of the same bytes.
      expect(accepted(file), `${file.key}: completions at the vendor`).toHaveLength(2);
      const uploads = e2e.pipeline.sandbox.log.uploads({ vendor: vendorOf(file), fileName: file.fileName });
      expect(uploads.map((u) => u.sha256Hex)).toEqual([file.sha256Hex, file.sha256Hex]);
      expect(
        (await dlqList(e2e.target)).filter((m) => m.subject === file.key),
        'nothing parked',
      ).toEqual([]);
    }
    await assertInvariant(e2e, [control]);
  });

  it('resolve --as completed settles a COMPLETION_UNCERTAIN delivery without calling the vendor again', async () => {
    // The vendor creates the activity, then the connection drops before its answer: outcome unknown.
    e2e.pipeline.sandbox.faults.inject({
      vendor: 'cleartax-gst',
      operation: 'complete',
      times: 1,
      action: { kind: 'reset-after-commit' },
    });
    const file = await e2e.drop('cleartax/sales/', 'uncertain-done.csv', csvBody(tag('uncertain')));
    const control = await e2e.drop(`inspect/${INSPECT_ASSETS[1]}/`, 'control.jpg', jpegBody(tag('control')));

    const uncertain = await waitForRecord(
      file.key,
      'COMPLETION_UNCERTAIN',
      (x) => x.state === 'COMPLETION_UNCERTAIN',
    );
    expect(uncertain.reason).toBe('COMPLETION_UNCERTAIN');
    expect(uncertain.lastError).toMatch(/no idempotency key/);
    const m = await dlqMessageFor(e2e, file.key);
    expect(m).toMatchObject({ queue: 'completion', errorCode: 'COMPLETION_UNCERTAIN', retryable: 'false' });
    expect(completeCalls(file).map((c) => c.fault)).toEqual(['reset-after-commit']);

    const resolved = await resolve(e2e.target, file.key, 'completed', OPERATOR);
    expect(resolved.state).toBe('COMPLETED');
    expect(resolved.history?.some((h) => h.note === `resolved as completed by ${OPERATOR}`)).toBe(true);
    // Even the parked message, moved back, must not reach the vendor: the ledger says done.
    await redrive(e2e.target, 'completion');
    await queuesIdle();
    expect((await latestRecord(e2e, file.key))?.state).toBe('COMPLETED');
    expect(completeCalls(file), 'no new completion call').toHaveLength(1);
    await e2e.settle([control.key]);
    await assertInvariant(e2e, [file, control]);
  });

  it('a completion worker that dies after calling the vendor leaves COMPLETION_UNCERTAIN with a reason; resolve --as completed settles it', async () => {
    armOnce(e2e, { point: 'completion:after-call', keyContains: 'died-after-call' });
    const file = await e2e.drop('cleartax-one/sales/', 'died-after-call.csv', csvBody(tag('died')));
    try {
      const uncertain = await waitForRecord(
        file.key,
        'COMPLETION_UNCERTAIN',
        (x) => x.state === 'COMPLETION_UNCERTAIN',
        // The dead worker's lease lapses about 10 s after the crash (FAST: 5 s timeout + 5 s).
        30_000,
      );
      expect(uncertain.reason).toBe('COMPLETION_UNCERTAIN');
      const m = await dlqMessageFor(e2e, file.key);
      expect(m).toMatchObject({ queue: 'completion', errorCode: 'COMPLETION_UNCERTAIN', retryable: 'false' });
    } finally {
      e2e.clearFailpoints();
    }
    // Dropped after the crash: a file whose completion was in flight in the killed process is itself
    // uncertain (rightly), so a control sharing that batch would make the test depend on batching.
    const control = await e2e.drop('cleartax/sales/', 'control.csv', csvBody(tag('control')));
    expect(accepted(file)).toHaveLength(1);
    await resolve(e2e.target, file.key, 'completed', OPERATOR);
    await redrive(e2e.target, 'completion');
    await queuesIdle();
    expect((await latestRecord(e2e, file.key))?.state).toBe('COMPLETED');
    expect(completeCalls(file), 'no new completion call').toHaveLength(1);
    await e2e.settle([control.key]);
    await assertInvariant(e2e, [file, control]);
  });

  it('a dispatch worker that dies after the upload is taken over once its lease lapses: completed once, nothing parked', async () => {
    armOnce(e2e, { point: 'dispatch:after-upload', keyContains: 'died-after-upload' });
    const file = await e2e.drop(
      `clevertap/${CLEVERTAP_CATALOGS[1]}/`,
      'died-after-upload.csv',
      'id,title\n5,y\n',
    );
    try {
      const done = await waitForRecord(file.key, 'COMPLETED', (x) => TERMINAL.has(x.state), 30_000);
      expect(done.state, `${done.reason}: ${done.lastError}\n${logFor(e2e, file.key).join('\n')}`).toBe(
        'COMPLETED',
      );
      expect(done.attempts).toBeGreaterThanOrEqual(2);
    } finally {
      e2e.clearFailpoints();
    }
    await queuesIdle();
    expect(
      (await dlqList(e2e.target))
        .filter((m) => m.subject === file.key)
        .map((m) => `${m.queue} ${m.errorCode}`),
      'nothing parked',
    ).toEqual([]);
    await assertInvariant(e2e, [file]);
  });

  it('resolve --as retry completes a COMPLETION_UNCERTAIN delivery by calling the vendor again', async () => {
    // The connection drops before the vendor acts: outcome unknown to the pipeline, nothing done at the vendor.
    e2e.pipeline.sandbox.faults.inject({
      vendor: 'clevertap-catalog',
      operation: 'complete',
      times: 1,
      action: { kind: 'reset' },
    });
    const file = await e2e.drop(
      `clevertap/${CLEVERTAP_CATALOGS[0]}/`,
      'uncertain-retry.csv',
      'id,title\n9,x\n',
    );
    const control = await e2e.drop('cleartax/purchase/', 'control.csv', csvBody(tag('control')));

    const uncertain = await waitForRecord(
      file.key,
      'COMPLETION_UNCERTAIN',
      (x) => x.state === 'COMPLETION_UNCERTAIN',
    );
    expect(uncertain.reason).toBe('COMPLETION_UNCERTAIN');
    const m = await dlqMessageFor(e2e, file.key);
    expect(m).toMatchObject({ queue: 'completion', errorCode: 'COMPLETION_UNCERTAIN' });
    expect(accepted(file)).toEqual([]);

    const resolved = await resolve(e2e.target, file.key, 'retry', OPERATOR);
    expect(resolved.state).toBe('UPLOADED');
    const done = await waitForRecord(file.key, 'COMPLETED', (x) => x.state === 'COMPLETED');
    expect(done.history?.some((h) => h.note === `resolved as retry by ${OPERATOR}`)).toBe(true);
    expect(completeCalls(file).map((c) => c.fault ?? c.status)).toEqual(['reset', 200]);
    // The parked message, moved back, finds the delivery done.
    await redrive(e2e.target, 'completion');
    await queuesIdle();
    expect(completeCalls(file)).toHaveLength(2);
    await e2e.settle([control.key]);
    await assertInvariant(e2e, [file, control]);
  });
});
