import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, expect } from 'vitest';
import { type DlqMessage, dlqList } from '../../../cli/operations';
import type { Target } from '../../../cli/target';
import type { FailpointRule } from '../../../functions/shared/failpoints';
import { encodeS3Key } from '../../../functions/shared/s3-event';
import type { DeliveryRecord } from '../../../functions/shared/state/ledger';
import { TERMINAL_STATES } from '../../../functions/shared/state/ledger';
import { type LocalPipeline, type LocalPipelineOptions, startLocalPipeline } from '../../../local/pipeline';
import type { SandboxVendor } from '../../../sandbox';
import { SANDBOX_PORT_ENV, SANDBOX_PORTS_PER_FILE } from '../../support/global-setup';
import { scratchDir } from '../../support/scratch';

/** Settings that keep the fault scenarios fast: short timeouts, short visibility, few receives. */
export const FAST: NonNullable<LocalPipelineOptions['overrides']> = {
  dispatch: {
    // Long enough to complete at once after an upload (two vendor calls of vendorTimeoutMs + 1 s), as
    // a deployed dispatch does; the short visibility keeps crash recovery quick (the lease holds
    // a redelivered copy back while a live worker finishes).
    timeoutSeconds: 10,
    visibilityTimeoutSeconds: 6,
    maxReceiveCount: 3,
    maxConcurrency: 4,
    batchSize: 1,
  },
  completion: {
    timeoutSeconds: 5,
    visibilityTimeoutSeconds: 6,
    maxReceiveCount: 3,
    maxConcurrency: 4,
    batchSize: 5,
  },
  retryBaseSeconds: 1,
  retryMaxSeconds: 2,
  vendorTimeoutMs: 3000,
  statusPollFirstSeconds: 1,
  // Outages compressed: files wait out vendor failures for 12 s, checking every second. The breaker
  // is out of the way here (a fault scenario's failures must not make another's files wait); the
  // outage suite turns it on.
  outage: { horizonHours: 12 / 3600, waitSeconds: 1, failureThreshold: 1000, probeIntervalSeconds: 1 },
  stallTimeoutSeconds: 3,
};

export interface Dropped {
  readonly key: string;
  readonly fileName: string;
  readonly bytes: number;
  readonly sha256Hex: string;
  /** The test expects this one to end in a DLQ (bad input, permanent vendor refusal …). */
  readonly expectFailure: boolean;
}

export interface E2E {
  pipeline: LocalPipeline;
  target: Target;
  readonly dropped: Dropped[];
  /** Puts an object; the file name is made unique so sandbox call logs can be told apart. */
  drop(
    prefix: string,
    name: string,
    body: Buffer | string,
    options?: {
      expectFailure?: boolean;
      contentType?: string;
      /** Armed for this very file before it is put, so the pipeline cannot reach the point first. */
      failpoint?: Omit<FailpointRule, 'keyContains'>;
    },
  ): Promise<Dropped>;
  /** Sends a raw message body to a route's intake queue (malformed bodies, duplicate notifications). */
  sendRaw(routeId: string, body: string): Promise<void>;
  /** Waits until every key's newest version is in a terminal ledger state (bounded). */
  settle(keys: readonly string[], timeoutMs?: number): Promise<Map<string, DeliveryRecord>>;
  /** Arms a failpoint for the function processes (read at each point). */
  armFailpoint(rule: FailpointRule): void;
  clearFailpoints(): void;
}

const VENDOR_BY_PREFIX: Array<[string, SandboxVendor]> = [
  ['cleartax-one/', 'cleartax-one'],
  ['cleartax/', 'cleartax-gst'],
  ['clevertap/', 'clevertap-catalog'],
  ['inspect/', 'inspect'],
];

/** An S3 ObjectCreated notification body as S3 sends it (key URL-encoded, `+` for spaces). */
export function s3NotificationBody(
  bucket: string,
  objects: ReadonlyArray<{ key: string; size: number; eTag?: string; eventTime?: string }>,
): string {
  return JSON.stringify({
    Records: objects.map((o) => ({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'ap-south-1',
      eventTime: o.eventTime ?? new Date().toISOString(),
      eventName: 'ObjectCreated:Put',
      s3: {
        s3SchemaVersion: '1.0',
        bucket: { name: bucket },
        object: { key: encodeS3Key(o.key), size: o.size, eTag: o.eTag ?? 'etag' },
      },
    })),
  });
}

export function vendorOfKey(key: string): SandboxVendor | undefined {
  return VENDOR_BY_PREFIX.find(([prefix]) => key.startsWith(prefix))?.[1];
}

export const sha256Hex = (body: Buffer | string) => createHash('sha256').update(body).digest('hex');

/** Pipelines this test file has set up so far (each file is a fresh module). */
let pipelinesInFile = 0;

/**
 * The vendor sandbox port of this file's n-th pipeline: fixed for the run (see the global setup), so
 * the same variant of the stack has the same synth context in every file and is synthesized once.
 */
function sandboxPort(index: number): number {
  const base = Number(process.env[SANDBOX_PORT_ENV] ?? 0);
  if (!base) return 0;
  if (index >= SANDBOX_PORTS_PER_FILE)
    throw new Error(`at most ${SANDBOX_PORTS_PER_FILE} pipelines per e2e file`);
  return base + index;
}

/** One local pipeline (moto + sandbox + both functions) for a test file. */
export function useLocalPipeline(options: LocalPipelineOptions = {}): E2E {
  const port = sandboxPort(pipelinesInFile++);
  const scratch = scratchDir('e2e-');
  const failpointsFile = path.join(scratch, 'failpoints.json');
  writeFileSync(failpointsFile, '[]');
  const e2e = { dropped: [] as Dropped[] } as unknown as E2E;
  let rules: FailpointRule[] = [];

  beforeAll(async () => {
    const pipeline = await startLocalPipeline({
      overrides: FAST,
      pollWaitSeconds: 1,
      ...options,
      sandbox: { jobDurationMs: 300, ...options.sandbox, port },
      failpointsFile,
    });
    e2e.pipeline = pipeline;
    e2e.target = pipeline.target;
  }, 120_000);

  afterAll(async () => {
    await e2e.pipeline?.stop();
    rmSync(scratch, { recursive: true, force: true });
  }, 60_000);

  e2e.drop = async (prefix, name, body, dropOptions = {}) => {
    const dot = name.lastIndexOf('.');
    const unique = `${dot > 0 ? name.slice(0, dot) : name}-${randomUUID().slice(0, 8)}${dot > 0 ? name.slice(dot) : ''}`;
    const key = `${prefix}${unique}`;
    if (dropOptions.failpoint) e2e.armFailpoint({ ...dropOptions.failpoint, keyContains: unique });
    await e2e.pipeline.clients.s3.send(
      new PutObjectCommand({
        Bucket: e2e.pipeline.resources.bucket,
        Key: key,
        Body: body,
        ContentType: dropOptions.contentType ?? (name.endsWith('.jpg') ? 'image/jpeg' : 'text/csv'),
      }),
    );
    const dropped: Dropped = {
      key,
      fileName: unique,
      bytes: Buffer.byteLength(body),
      sha256Hex: sha256Hex(body),
      expectFailure: dropOptions.expectFailure ?? false,
    };
    e2e.dropped.push(dropped);
    return dropped;
  };

  e2e.sendRaw = async (routeId, body) => {
    const queue = e2e.pipeline.resources.intake.find((q) => q.routeId === routeId);
    if (!queue) throw new Error(`no intake queue for ${routeId}`);
    await e2e.pipeline.clients.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: body }));
  };

  e2e.settle = async (keys, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    const out = new Map<string, DeliveryRecord>();
    while (Date.now() < deadline) {
      for (const key of keys) {
        if (out.has(key)) continue;
        const [record] = await e2e.pipeline.ledger.listByKey(e2e.pipeline.resources.bucket, key);
        if (record && TERMINAL_STATES.has(record.state)) out.set(key, record);
      }
      if (out.size === keys.length) return out;
      await new Promise((r) => setTimeout(r, 200));
    }
    const pending = await Promise.all(
      keys
        .filter((k) => !out.has(k))
        .map(
          async (k) =>
            `${k}: ${(await e2e.pipeline.ledger.listByKey(e2e.pipeline.resources.bucket, k))[0]?.state ?? 'not seen'}`,
        ),
    );
    throw new Error(`not settled within ${timeoutMs} ms:\n${pending.join('\n')}`);
  };

  e2e.armFailpoint = (rule) => {
    rules = [...rules, rule];
    writeFileSync(failpointsFile, JSON.stringify(rules));
  };
  e2e.clearFailpoints = () => {
    rules = [];
    writeFileSync(failpointsFile, '[]');
    // Fire-once markers are keyed by rule index: remove them so a later rule at that index fires.
    for (const name of readdirSync(scratch)) {
      if (name.startsWith('failpoints.json.') && name.endsWith('.fired'))
        rmSync(path.join(scratch, name), { force: true });
    }
  };
  return e2e;
}

/**
 * The invariant checked after every scenario: every dropped object version is either COMPLETED with
 * exactly one completion at the vendor (or DUPLICATE: the vendor already had it, no completion), or
 * in a DLQ and the ledger with a reason; no vendor saw a second upload or a completion for a version
 * after the ledger called it done; the bytes the vendor holds are the bytes dropped.
 */
export async function assertInvariant(
  e2e: E2E,
  only?: readonly Dropped[],
): Promise<{ completed: number; failed: number; duplicates: number }> {
  const objects = only ?? e2e.dropped;
  const log = e2e.pipeline.sandbox.log;
  const dlq: DlqMessage[] = await dlqList(e2e.target);
  const problems: string[] = [];
  let completed = 0;
  let failed = 0;
  let duplicates = 0;
  for (const object of objects) {
    const records = await e2e.pipeline.ledger.listByKey(e2e.pipeline.resources.bucket, object.key);
    // The vendor the ledger routed it to (any route, generated ones included), else by prefix.
    const vendor = (records[0]?.vendor as SandboxVendor | undefined) ?? vendorOfKey(object.key);
    const where = `${object.key}`;
    if (records.length === 0) {
      if (object.expectFailure && dlq.some((m) => m.subject === object.key)) {
        failed++;
        continue;
      }
      problems.push(`${where}: no ledger entry`);
      continue;
    }
    for (const record of records) {
      if (!TERMINAL_STATES.has(record.state)) {
        problems.push(`${where}: not settled (${record.state})`);
        continue;
      }
      // A completion counts when the vendor acted on it: a 2xx answer, or a reset injected after the vendor committed.
      const completions = vendor
        ? log
            .calls({ vendor, operation: 'complete', fileName: object.fileName })
            .filter((c) => (c.status >= 200 && c.status < 300) || c.fault === 'reset-after-commit')
        : [];
      const uploads = vendor ? log.uploads({ vendor, fileName: object.fileName }) : [];
      if (record.state === 'COMPLETED') {
        completed++;
        if (object.expectFailure) problems.push(`${where}: expected to fail but COMPLETED`);
        if (completions.length !== 1)
          problems.push(`${where}: COMPLETED with ${completions.length} completion calls at the vendor`);
        const last = uploads.filter((u) => u.partNumber === undefined || u.partNumber >= 1);
        if (last.length === 0) problems.push(`${where}: COMPLETED but the vendor received no bytes`);
        const whole = last.filter((u) => u.partNumber === undefined);
        if (
          whole.length > 0 &&
          !whole.some((u) => u.sha256Hex === object.sha256Hex && u.size === object.bytes)
        ) {
          problems.push(`${where}: the bytes at the vendor differ from the bytes dropped`);
        }
        const completedAt = Date.parse(record.completedAt ?? record.updatedAt);
        if (uploads.some((u) => Date.parse(u.at) > completedAt))
          problems.push(`${where}: an upload arrived after the ledger called it done`);
        if (completions.some((c) => Date.parse(c.at) > completedAt)) {
          const late = completions.filter((c) => Date.parse(c.at) > completedAt);
          if (late.length > 0 && completions.length > 1)
            problems.push(`${where}: a completion arrived after the ledger called it done`);
        }
      } else if (record.state === 'DUPLICATE') {
        duplicates++;
        if (completions.length !== 0)
          problems.push(`${where}: DUPLICATE but ${completions.length} completion calls`);
      } else {
        failed++;
        if (!record.reason) problems.push(`${where}: ${record.state} without a reason`);
        if (!object.expectFailure)
          problems.push(`${where}: unexpectedly ${record.state} (${record.reason}: ${record.lastError})`);
        if (!dlq.some((m) => m.subject === object.key))
          problems.push(`${where}: ${record.state} (${record.reason}) but not in any DLQ`);
        if (record.state === 'FAILED' && completions.length > 0 && record.failedStep === 'dispatch') {
          problems.push(`${where}: FAILED in dispatch but the vendor saw a completion`);
        }
      }
    }
  }
  expect(problems, problems.join('\n')).toEqual([]);
  return { completed, failed, duplicates };
}
