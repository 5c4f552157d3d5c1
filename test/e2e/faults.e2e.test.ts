/**
 * The fault matrix: each scenario drops its own files (unique names), injects one fault — a vendor
 * answer, a broken connection, a killed function process, a duplicated or redelivered message — and
 * checks the end state in the ledger, the DLQs and the vendor sandbox, then the shared invariant.
 *
 * All scenarios run at once (see FaultMatrix), on three pipelines: the main one (FAST), one for the
 * scenarios that kill function processes (12, 13) and one whose dispatch outlives its queue's
 * visibility timeout (15). Faults are scoped to a scenario's file name, except the ClearTax token
 * fault, which is global: the main pipeline's other ClearTax scenarios start once that one is over.
 * The last line printed is the summary: `fault matrix: N scenarios survived, M files delivered, …`.
 */
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { DeliveryState } from '../../functions/shared/state/ledger';
import {
  actedCompletions,
  calls,
  catalogCsv,
  dlqFor,
  FaultMatrix,
  fakeJpeg,
  functionLog,
  INSPECT_ASSET,
  idempotentRetryView,
  invoiceCsv,
  lastSeq,
  logAbout,
  waitFor,
  waitForDlq,
} from './support/faults';
import { type E2E, FAST, s3NotificationBody, useLocalPipeline } from './support/harness';

const e2e = useLocalPipeline();

/**
 * Scenario 15 needs a dispatch invocation that outlives the intake queue's visibility timeout, which
 * FAST forbids (5 s function, 6 s visibility): its own pipeline with a 15 s function, 3 s visibility,
 * and vendor calls allowed to take 10 s. More receives than FAST, so the redelivered copy cannot run
 * out of receives (and be parked as LEASE_HELD) while the first worker legitimately still works.
 */
const slow = useLocalPipeline({
  overrides: {
    ...FAST,
    dispatch: { ...FAST.dispatch, timeoutSeconds: 15, visibilityTimeoutSeconds: 3, maxReceiveCount: 10 },
    vendorTimeoutMs: 10_000,
  },
});

/**
 * The scenarios that SIGKILL a function process (12, 13) run on their own pipeline whose completion
 * batches hold one message: a killed process takes its whole batch down (as a dying Lambda does), and
 * with FAST's batches of 5 another scenario's file in the same batch would die with it.
 */
const crash = useLocalPipeline({
  overrides: { ...FAST, completion: { ...FAST.completion, batchSize: 1 } },
});

const matrix = new FaultMatrix();
const TOKEN_SCENARIO = '3. a failed ClearTax token mint is retried and the token is minted once';

const sales = 'cleartax/sales/';
const purchase = 'cleartax/purchase/';
const one = 'cleartax-one/sales/';
const inspect = `inspect/${INSPECT_ASSET}/`;

async function settledState(pipeline: E2E, key: string) {
  const settled = await pipeline.settle([key], 60_000);
  const record = settled.get(key);
  if (!record) throw new Error(`${key} did not settle`);
  return record;
}

describe('fault matrix', () => {
  // After the pipelines' own beforeAll hooks (registered first); starts 400 ms apart.
  beforeAll(() => matrix.start(400));
  afterAll(async () => {
    await matrix.settled();
    console.log(matrix.summary());
    console.log(
      `function logs: main ${e2e.pipeline?.logFile}, crash ${crash.pipeline?.logFile}, slow ${slow.pipeline?.logFile}`,
    );
  });

  // Proves: 5xx answers to presign are transient; each one sends the message back through the queue
  // with backoff and the third receive delivers.
  matrix.scenario(
    '1. presign 500, then 503, then success → COMPLETED through queue retries',
    async (s) => {
      const file = await s.drop(e2e, one, 'presign-5xx.csv', invoiceCsv(5, 'p5xx'));
      const sandbox = e2e.pipeline.sandbox;
      const match = { fileName: file.fileName };
      sandbox.faults.inject({
        vendor: 'cleartax-one',
        operation: 'presign',
        match,
        action: { kind: 'status', status: 500 },
      });
      sandbox.faults.inject({
        vendor: 'cleartax-one',
        operation: 'presign',
        match,
        action: { kind: 'status', status: 503 },
      });
      const record = await settledState(e2e, file.key);
      expect(record.state).toBe(DeliveryState.COMPLETED);
      expect(
        calls(e2e, { vendor: 'cleartax-one', operation: 'presign', fileName: file.fileName }).map(
          (c) => c.status,
        ),
      ).toEqual([500, 503, 200]);
      expect(record.attempts).toBe(3);
      await s.invariant(e2e, [file]);
    },
    { after: TOKEN_SCENARIO },
  );

  // Proves: CleverTap's concurrency 429 (no Retry-After) is classified as throttling and retried with
  // backoff through the queue, not parked.
  matrix.scenario('2. CleverTap 429 without Retry-After → retried with backoff → COMPLETED', async (s) => {
    const file = await s.drop(e2e, 'clevertap/1001/', 'throttled.csv', catalogCsv(5, 'ct429'));
    e2e.pipeline.sandbox.faults.inject({
      vendor: 'clevertap-catalog',
      operation: 'presign',
      match: { fileName: file.fileName },
      action: {
        kind: 'status',
        status: 429,
        body: { status: 'fail', error: 'Too many concurrent requests' },
      },
    });
    const record = await settledState(e2e, file.key);
    expect(record.state).toBe(DeliveryState.COMPLETED);
    const presigns = calls(e2e, {
      vendor: 'clevertap-catalog',
      operation: 'presign',
      fileName: file.fileName,
    });
    expect(presigns.map((c) => c.status)).toEqual([429, 200]);
    const retried = logAbout(e2e, file.fileName).filter(
      (l) => l.message === 'delivery attempt failed; will retry' && l.errorCode === 'VENDOR_THROTTLED',
    );
    expect(retried).toHaveLength(1);
    await s.invariant(e2e, [file]);
  });

  // Proves: a failed token mint is a transient failure of the delivery, and the token cache shared by
  // every function mints once: the retried delivery, its completion and its status polls reuse it.
  // Runs before any other ClearTax traffic (the fault hits the next mint, whoever asks for it).
  matrix.scenario(TOKEN_SCENARIO, async (s) => {
    const from = lastSeq(e2e);
    e2e.pipeline.sandbox.faults.inject({
      vendor: 'cleartax-gst',
      operation: 'token',
      times: 1,
      action: { kind: 'status', status: 500 },
    });
    const file = await s.drop(e2e, sales, 'token-fails.csv', invoiceCsv(5, 'tok'));
    const record = await settledState(e2e, file.key);
    expect(record.state).toBe(DeliveryState.COMPLETED);
    // Let the first status poll run too: it must not mint either.
    await waitFor(
      'a status poll',
      () => calls(e2e, { vendor: 'cleartax-gst', operation: 'status', fileName: file.fileName }).length > 0,
      15_000,
    );
    const mints = calls(e2e, { vendor: 'cleartax-gst', operation: 'token' }).filter((c) => c.seq > from);
    expect(mints.filter((c) => c.fault === 'status').map((c) => c.status)).toEqual([500]);
    expect(mints.filter((c) => c.status >= 200 && c.status < 300)).toHaveLength(1);
    await s.invariant(e2e, [file]);
  });

  // Proves: a connection reset half-way through the PUT stores nothing and the upload is retried with
  // the same URL; what the vendor stores is exactly the dropped bytes, and it is completed once.
  matrix.scenario('4. upload reset mid-body → retried → COMPLETED byte-exact', async (s) => {
    const body = catalogCsv(6000, 'reset'); // ~90 KiB, so "half the body" is a real mid-stream cut
    const file = await s.drop(e2e, 'clevertap/1002/', 'reset-mid-body.csv', body);
    e2e.pipeline.sandbox.faults.inject({
      vendor: 'clevertap-catalog',
      operation: 'upload',
      match: { fileName: file.fileName },
      action: { kind: 'reset' },
    });
    const record = await settledState(e2e, file.key);
    expect(record.state).toBe(DeliveryState.COMPLETED);
    const puts = calls(e2e, { vendor: 'clevertap-catalog', operation: 'upload', fileName: file.fileName });
    // The reset PUT, then the same URL again (the retry within the invocation), accepted. (On a busy
    // machine the invocation may run out of time after that PUT and a later receive upload again.)
    expect(puts.slice(0, 2).map((c) => [c.fault ?? c.status, c.path])).toEqual([
      ['reset', puts[0]?.path],
      [200, puts[0]?.path],
    ]);
    // The reset PUT stored nothing; whatever was stored is the dropped bytes, whole.
    const stored = e2e.pipeline.sandbox.log.uploads({ fileName: file.fileName });
    expect(stored.length).toBe(puts.filter((c) => c.status === 200).length);
    expect(new Set(stored.map((u) => `${u.sha256Hex}/${u.size}`))).toEqual(
      new Set([`${file.sha256Hex}/${file.bytes}`]),
    );
    await s.invariant(e2e, [file]);
  });

  // Proves: an upload URL refused as expired (403 AccessDenied "Request has expired") makes dispatch
  // ask the vendor for a fresh URL within the same invocation.
  matrix.scenario('5. upload 403 expired URL → a fresh URL → COMPLETED', async (s) => {
    const file = await s.drop(e2e, inspect, 'expired-url.jpg', fakeJpeg('expired-url'));
    e2e.pipeline.sandbox.faults.inject({
      vendor: 'inspect',
      operation: 'presign',
      match: { fileName: file.fileName },
      action: { kind: 'expired-url' },
    });
    const record = await settledState(e2e, file.key);
    expect(record.state).toBe(DeliveryState.COMPLETED);
    expect(calls(e2e, { vendor: 'inspect', operation: 'presign', fileName: file.fileName })).toHaveLength(2);
    const puts = calls(e2e, { vendor: 'inspect', operation: 'upload', fileName: file.fileName });
    expect(puts.map((c) => c.status)).toEqual([403, 200]);
    expect(record.attempts).toBe(1);
    await s.invariant(e2e, [file]);
  });

  // Proves: a vendor storage that keeps failing makes the file wait (re-enqueued, receives not spent)
  // until the outage horizon, then it is parked in the intake DLQ with the reason, not retried forever
  // or lost.
  matrix.scenario(
    '6. upload 5xx on every try → waits without spending receives, parked with a reason past the outage horizon',
    async (s) => {
      const file = await s.drop(e2e, purchase, 'upload-5xx.csv', invoiceCsv(5, 'u5xx'), {
        expectFailure: true,
      });
      e2e.pipeline.sandbox.faults.inject({
        vendor: 'cleartax-gst',
        operation: 'upload',
        times: 1000, // every try until the (12 s) horizon has passed
        match: { fileName: file.fileName },
        action: { kind: 'status', status: 500 },
      });
      const record = await settledState(e2e, file.key);
      expect(record).toMatchObject({
        state: DeliveryState.FAILED,
        reason: 'VENDOR_UNAVAILABLE',
        failedStep: 'dispatch',
      });
      // Waiting re-enqueues the message: more attempts than the queue's receive budget allows.
      expect(record.attempts ?? 0).toBeGreaterThan(e2e.pipeline.config.dispatch.maxReceiveCount);
      const dlq = await waitForDlq(e2e, file.key);
      expect(dlq.map((m) => [m.queue.includes('intake'), m.errorCode, m.retryable])).toEqual([
        [true, 'VENDOR_UNAVAILABLE', 'true'],
      ]);
      const uploads = calls(e2e, { vendor: 'cleartax-gst', operation: 'upload', fileName: file.fileName });
      // Three tries per presigned URL on each attempt.
      expect(uploads).toHaveLength(3 * (record.attempts ?? 0));
      expect(
        calls(e2e, { vendor: 'cleartax-gst', operation: 'complete', fileName: file.fileName }),
      ).toHaveLength(0);
      await s.invariant(e2e, [file]);
    },
    { after: TOKEN_SCENARIO },
  );

  // Proves: a completion call answered 500 did nothing at the vendor, so it is retried through the
  // completion queue; the one that succeeds is the only completion.
  matrix.scenario(
    '7. completion 500 × 2 then success → one completion, COMPLETED',
    async (s) => {
      const file = await s.drop(e2e, one, 'complete-5xx.csv', invoiceCsv(5, 'c5xx'));
      e2e.pipeline.sandbox.faults.inject({
        vendor: 'cleartax-one',
        operation: 'complete',
        times: 2,
        match: { fileName: file.fileName },
        action: { kind: 'status', status: 500 },
      });
      const record = await settledState(e2e, file.key);
      expect(record.state).toBe(DeliveryState.COMPLETED);
      expect(
        calls(e2e, { vendor: 'cleartax-one', operation: 'complete', fileName: file.fileName }).map(
          (c) => c.status,
        ),
      ).toEqual([500, 500, 200]);
      expect(e2e.pipeline.sandbox.log.completions('cleartax-one', file.fileName)).toHaveLength(1);
      expect(record.completionAttempts).toBe(3);
      await s.invariant(e2e, [file]);
    },
    { after: TOKEN_SCENARIO },
  );

  // Proves: a 4xx refusal of the completion is permanent: parked at once in the completion DLQ with
  // the reason, ledger FAILED at the complete step, no further calls.
  matrix.scenario(
    '8. completion 400 → completion DLQ, ledger FAILED at the complete step',
    async (s) => {
      const file = await s.drop(e2e, sales, 'complete-400.csv', invoiceCsv(5, 'c400'), {
        expectFailure: true,
      });
      e2e.pipeline.sandbox.faults.inject({
        vendor: 'cleartax-gst',
        operation: 'complete',
        match: { fileName: file.fileName },
        action: { kind: 'status', status: 400 },
      });
      const record = await settledState(e2e, file.key);
      expect(record).toMatchObject({
        state: DeliveryState.FAILED,
        reason: 'VENDOR_REJECTED',
        failedStep: 'complete',
      });
      const dlq = await waitForDlq(e2e, file.key);
      expect(dlq.map((m) => [m.queue, m.errorCode, m.retryable])).toEqual([
        ['completion', 'VENDOR_REJECTED', 'false'],
      ]);
      expect(
        calls(e2e, { vendor: 'cleartax-gst', operation: 'complete', fileName: file.fileName }),
      ).toHaveLength(1);
      await s.invariant(e2e, [file]);
    },
    { after: TOKEN_SCENARIO },
  );

  // Proves: when the vendor acted but the answer was lost, a vendor without idempotency is not called
  // again (it would ingest twice): the delivery is parked COMPLETION_UNCERTAIN for an operator.
  matrix.scenario(
    '9a. ambiguous completion on cleartax-gst (no idempotency) → COMPLETION_UNCERTAIN, one completion',
    async (s) => {
      const file = await s.drop(e2e, sales, 'ambiguous.csv', invoiceCsv(5, 'amb'), { expectFailure: true });
      e2e.pipeline.sandbox.faults.inject({
        vendor: 'cleartax-gst',
        operation: 'complete',
        match: { fileName: file.fileName },
        action: { kind: 'reset-after-commit' },
      });
      const record = await settledState(e2e, file.key);
      expect(record).toMatchObject({
        state: DeliveryState.COMPLETION_UNCERTAIN,
        reason: 'COMPLETION_UNCERTAIN',
      });
      const dlq = await waitForDlq(e2e, file.key);
      expect(dlq.map((m) => [m.queue, m.errorCode])).toEqual([['completion', 'COMPLETION_UNCERTAIN']]);
      expect(
        calls(e2e, { vendor: 'cleartax-gst', operation: 'complete', fileName: file.fileName }),
      ).toHaveLength(1);
      expect(actedCompletions(e2e, 'cleartax-gst', file.fileName)).toHaveLength(1);
      await s.invariant(e2e, [file]);
    },
    { after: TOKEN_SCENARIO },
  );

  // Proves: the same lost answer on a route whose completion is idempotent (Inspect: marking a file id
  // uploaded names a state, creates nothing) is retried and completes. The vendor saw the same
  // "mark uploaded" for the same file id twice; the invariant is checked through a call log in which
  // the unanswered call superseded by the retry of the same file id is one effect (a second answered
  // completion would still fail it).
  matrix.scenario(
    '9b. ambiguous completion on an idempotent route (inspect) → retried → COMPLETED',
    async (s) => {
      const file = await s.drop(e2e, inspect, 'ambiguous.jpg', fakeJpeg('ambiguous-inspect'));
      e2e.pipeline.sandbox.faults.inject({
        vendor: 'inspect',
        operation: 'complete',
        match: { fileName: file.fileName },
        action: { kind: 'reset-after-commit' },
      });
      const record = await settledState(e2e, file.key);
      expect(record.state).toBe(DeliveryState.COMPLETED);
      const completes = calls(e2e, { vendor: 'inspect', operation: 'complete', fileName: file.fileName });
      expect(completes.map((c) => c.fault ?? c.status)).toEqual(['reset-after-commit', 200]);
      expect(new Set(completes.map((c) => c.ref)).size).toBe(1);
      expect(record.refs?.fileId).toBe(completes[0]?.ref);
      await s.invariant(e2e, [file], idempotentRetryView(e2e));
    },
  );

  // Proves: a 200 whose JSON is cut short is a bad answer, retried, never taken as an upload URL.
  matrix.scenario('10. malformed vendor JSON at presign → retried → COMPLETED', async (s) => {
    const file = await s.drop(e2e, 'clevertap/1001/', 'malformed.csv', catalogCsv(5, 'malformed'));
    e2e.pipeline.sandbox.faults.inject({
      vendor: 'clevertap-catalog',
      operation: 'presign',
      match: { fileName: file.fileName },
      action: { kind: 'malformed-json' },
    });
    const record = await settledState(e2e, file.key);
    expect(record.state).toBe(DeliveryState.COMPLETED);
    const presigns = calls(e2e, {
      vendor: 'clevertap-catalog',
      operation: 'presign',
      fileName: file.fileName,
    });
    expect(presigns.map((c) => c.fault ?? 'ok')).toEqual(['malformed-json', 'ok']);
    expect(
      logAbout(e2e, file.fileName).some(
        (l) => l.message === 'delivery attempt failed; will retry' && l.errorCode === 'VENDOR_BAD_RESPONSE',
      ),
    ).toBe(true);
    await s.invariant(e2e, [file]);
  });

  // Proves: an upload URL on a host outside the route's allow-list is refused before a single byte
  // leaves: nothing reaches the foreign listener, the file is parked UNSAFE_UPLOAD_TARGET.
  matrix.scenario('11. presigned URL on a foreign host → refused before any byte, intake DLQ', async (s) => {
    const file = await s.drop(e2e, inspect, 'foreign.jpg', fakeJpeg('foreign-host'), { expectFailure: true });
    e2e.pipeline.sandbox.faults.inject({
      vendor: 'inspect',
      operation: 'presign',
      match: { fileName: file.fileName },
      action: { kind: 'foreign-host' },
    });
    const record = await settledState(e2e, file.key);
    expect(record).toMatchObject({
      state: DeliveryState.FAILED,
      reason: 'UNSAFE_UPLOAD_TARGET',
      failedStep: 'dispatch',
    });
    const dlq = await waitForDlq(e2e, file.key);
    expect(dlq.map((m) => [m.queue.includes('intake'), m.errorCode, m.retryable])).toEqual([
      [true, 'UNSAFE_UPLOAD_TARGET', 'false'],
    ]);
    expect(e2e.pipeline.sandbox.log.foreignRequests()).toEqual([]);
    expect(calls(e2e, { vendor: 'inspect', operation: 'upload', fileName: file.fileName })).toEqual([]);
    expect(calls(e2e, { vendor: 'inspect', operation: 'presign', fileName: file.fileName })).toHaveLength(1);
    await s.invariant(e2e, [file]);
  });

  // Proves: a dispatch process killed after its completion call failed (recorded UPLOADED) but before
  // it sent the hand-over message is recovered from the ledger: the intake message comes back, the
  // stored completion message is sent, the file is not uploaded again and is completed once.
  matrix.scenario(
    '12a. dispatch killed between a failed completion call and its hand-over message → recovered, one completion',
    async (s) => {
      const file = await s.drop(crash, sales, 'kill-before-enqueue.csv', invoiceCsv(5, 'kbe'), {
        failpoint: { point: 'dispatch:before-enqueue', once: true },
      });
      crash.pipeline.sandbox.faults.inject({
        vendor: 'cleartax-gst',
        operation: 'complete',
        times: 1,
        match: { fileName: file.fileName },
        action: { kind: 'status', status: 500 },
      });
      const record = await settledState(crash, file.key);
      expect(record.state).toBe(DeliveryState.COMPLETED);
      expect(crash.pipeline.sandbox.log.uploads({ fileName: file.fileName })).toHaveLength(1);
      expect(
        calls(crash, { vendor: 'cleartax-gst', operation: 'presign', fileName: file.fileName }),
      ).toHaveLength(1);
      expect(
        calls(crash, { vendor: 'cleartax-gst', operation: 'complete', fileName: file.fileName }).map((c) =>
          c.status < 300 ? 'accepted' : c.status,
        ),
      ).toEqual([500, 'accepted']);
      expect(crash.pipeline.sandbox.log.completions('cleartax-gst', file.fileName)).toHaveLength(1);
      expect(
        logAbout(crash, file.fileName).some(
          (l) => l.message === 'uploaded version seen again: sending its stored completion message',
        ),
      ).toBe(true);
      await s.invariant(crash, [file]);
    },
  );

  // Proves: a dispatch process killed right after the bytes reached the vendor (before the ledger
  // knew) is taken over once its lease expires; the file is uploaded again and completed once.
  matrix.scenario('12b. dispatch killed right after the upload → recovered, one completion', async (s) => {
    const file = await s.drop(crash, 'clevertap/1002/', 'kill-after-upload.csv', catalogCsv(5, 'kau'), {
      failpoint: { point: 'dispatch:after-upload', once: true },
    });
    const record = await settledState(crash, file.key);
    expect(record.state).toBe(DeliveryState.COMPLETED);
    expect(record.attempts).toBeGreaterThanOrEqual(2);
    expect(crash.pipeline.sandbox.log.completions('clevertap-catalog', file.fileName)).toHaveLength(1);
    await s.invariant(crash, [file]);
  });

  // Proves: a process killed after the vendor's completion call acted (here the dispatch, which
  // completes at once; a completion worker's crash leaves the same ledger state) is never followed by a
  // second call to a vendor without idempotency; the delivery is parked COMPLETION_UNCERTAIN.
  matrix.scenario(
    '13a. killed after the completion call (cleartax-gst) → no second call, COMPLETION_UNCERTAIN',
    async (s) => {
      const file = await s.drop(crash, sales, 'kill-after-call.csv', invoiceCsv(5, 'kac'), {
        expectFailure: true,
        failpoint: { point: 'completion:after-call', once: true },
      });
      const record = await settledState(crash, file.key);
      expect(record).toMatchObject({
        state: DeliveryState.COMPLETION_UNCERTAIN,
        reason: 'COMPLETION_UNCERTAIN',
      });
      const dlq = await waitForDlq(crash, file.key);
      expect(dlq.map((m) => [m.queue, m.errorCode])).toEqual([['completion', 'COMPLETION_UNCERTAIN']]);
      expect(
        calls(crash, { vendor: 'cleartax-gst', operation: 'complete', fileName: file.fileName }),
      ).toHaveLength(1);
      expect(actedCompletions(crash, 'cleartax-gst', file.fileName)).toHaveLength(1);
      await s.invariant(crash, [file]);
    },
  );

  // Proves: killed *before* the vendor call, the ledger cannot tell "not sent" from "sent, no answer"
  // (both are COMPLETING with a lapsed lease), so by design a vendor without idempotency (CleverTap)
  // is parked COMPLETION_UNCERTAIN too — here with no completion at the vendor at all, which is
  // exactly why an operator has to look before resolving.
  matrix.scenario(
    '13b. killed before the completion call (clevertap) → COMPLETION_UNCERTAIN, no call',
    async (s) => {
      const file = await s.drop(crash, 'clevertap/1001/', 'kill-before-call.csv', catalogCsv(5, 'kbc'), {
        expectFailure: true,
        failpoint: { point: 'completion:before-call', once: true },
      });
      const record = await settledState(crash, file.key);
      expect(record).toMatchObject({
        state: DeliveryState.COMPLETION_UNCERTAIN,
        reason: 'COMPLETION_UNCERTAIN',
      });
      const dlq = await waitForDlq(crash, file.key);
      expect(dlq.map((m) => [m.queue, m.errorCode])).toEqual([['completion', 'COMPLETION_UNCERTAIN']]);
      expect(
        calls(crash, { vendor: 'clevertap-catalog', operation: 'complete', fileName: file.fileName }),
      ).toEqual([]);
      await s.invariant(crash, [file]);
    },
  );

  // Proves: the same kill on an idempotent route (Inspect) is simply taken over and completed once.
  matrix.scenario('13c. killed before the completion call (inspect, idempotent) → COMPLETED', async (s) => {
    const file = await s.drop(crash, inspect, 'kill-before-call.jpg', fakeJpeg('kill-before-call'), {
      failpoint: { point: 'completion:before-call', once: true },
    });
    const record = await settledState(crash, file.key);
    expect(record.state).toBe(DeliveryState.COMPLETED);
    expect(record.completionAttempts).toBeGreaterThanOrEqual(2);
    expect(crash.pipeline.sandbox.log.completions('inspect', file.fileName)).toHaveLength(1);
    await s.invariant(crash, [file]);
  });

  // Proves: S3's at-least-once notifications are absorbed by the ledger: the same event delivered three
  // times (one copy while the first is in flight, one after it is done) gives one upload, one completion.
  matrix.scenario(
    '14. the same S3 notification delivered 3 times → one upload, one completion',
    async (s) => {
      const file = await s.drop(e2e, sales, 'notified-thrice.csv', invoiceCsv(5, 'dup'));
      const bucket = e2e.pipeline.resources.bucket;
      // moto's events carry no versionId: the version is taken from the object, so every copy of the
      // notification (none names the version) lands on the same ledger entry.
      const first = await waitFor(
        'the ledger entry',
        async () => (await e2e.pipeline.ledger.listByKey(bucket, file.key))[0],
      );
      expect(first.versionId).toEqual(expect.any(String));
      const again = s3NotificationBody(bucket, [{ key: file.key, size: file.bytes, eTag: first.eTag }]);
      const record = await settledState(e2e, file.key);
      await e2e.sendRaw('cleartax-sales', again);
      await e2e.sendRaw('cleartax-sales', again);
      expect(record.state).toBe(DeliveryState.COMPLETED);
      await waitFor(
        'both duplicates to be recognised',
        () =>
          logAbout(e2e, file.fileName).filter(
            (l) => l.message === 'duplicate notification: this version is already handled',
          ).length >= 2,
        30_000,
      );
      expect(await e2e.pipeline.ledger.listByKey(bucket, file.key)).toHaveLength(1);
      expect(
        calls(e2e, { vendor: 'cleartax-gst', operation: 'presign', fileName: file.fileName }),
      ).toHaveLength(1);
      expect(e2e.pipeline.sandbox.log.uploads({ fileName: file.fileName })).toHaveLength(1);
      expect(e2e.pipeline.sandbox.log.completions('cleartax-gst', file.fileName)).toHaveLength(1);
      expect(await dlqFor(e2e, file.key)).toEqual([]);
      await s.invariant(e2e, [file]);
    },
    { after: TOKEN_SCENARIO },
  );

  // Proves: when the queue hands a message out again while the first worker still works on it (the
  // invocation outlived the visibility timeout), the lease keeps the second receive off: one presign,
  // one upload, one completion, and nothing parked.
  matrix.scenario(
    '15. queue redelivers while the first worker still works → one upload sequence, one completion',
    async (s) => {
      const file = await s.drop(slow, sales, 'redelivered.csv', invoiceCsv(5, 'redeliver'));
      slow.pipeline.sandbox.faults.inject({
        vendor: 'cleartax-gst',
        operation: 'presign',
        match: { fileName: file.fileName },
        action: { kind: 'delay', ms: 4_500 }, // > the 3 s visibility, < the 10 s vendor timeout
      });
      const record = await settledState(slow, file.key);
      expect(record.state).toBe(DeliveryState.COMPLETED);
      // The precondition: the message really was received again while the first worker held the lease.
      const heldOff = functionLog(slow).filter(
        (l) => l.errorCode === 'LEASE_HELD' && typeof l.error === 'string' && l.error.includes(file.fileName),
      );
      expect(heldOff.length).toBeGreaterThan(0);
      expect(
        calls(slow, { vendor: 'cleartax-gst', operation: 'presign', fileName: file.fileName }),
      ).toHaveLength(1);
      expect(slow.pipeline.sandbox.log.uploads({ fileName: file.fileName })).toHaveLength(1);
      expect(slow.pipeline.sandbox.log.completions('cleartax-gst', file.fileName)).toHaveLength(1);
      expect(record.attempts).toBe(1);
      expect(await dlqFor(slow, file.key)).toEqual([]);
      await s.invariant(slow, [file]);
    },
  );
});
