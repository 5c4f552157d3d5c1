/**
 * Helpers of the bad-input, load and redrive scenarios (harness.ts is shared; these are theirs).
 * Every wait is bounded and fails with a message that says what was still missing.
 */
import { readFileSync } from 'node:fs';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'vitest';
import { type DlqMessage, dlqList } from '../../../cli/operations';
import type { FailpointRule } from '../../../functions/shared/failpoints';
import type { DeliveryRecord } from '../../../functions/shared/state/ledger';
import { TERMINAL_STATES } from '../../../functions/shared/state/ledger';
import type { SandboxVendor } from '../../../sandbox';
import { type Dropped, type E2E, vendorOfKey } from './harness';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The inspect assets and CleverTap catalogs the sandbox knows (sandbox/credentials.ts). */
export const INSPECT_ASSETS = [
  '0b4cf1d2-6a8e-4f3a-9c1b-7d2e5f8a9b10',
  '9d3e7c1a-2b4f-4e6d-8a0c-1f2e3d4c5b6a',
];
export const CLEVERTAP_CATALOGS = [1001, 1002];

/** A small CSV whose bytes are unique to `tag`. */
export function csvBody(tag: string, rows = 3): string {
  return [
    'invoice,date,gstin,amount,tag',
    ...Array.from({ length: rows }, (_, i) => `INV-${i},2026-03-01,29AABCT1332L1ZA,${100 + i},${tag}`),
  ].join('\n');
}

/** A small JPEG-looking body whose bytes are unique to `tag`. */
export function jpegBody(tag: string): Buffer {
  return Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from(` fake jpeg ${tag}`, 'utf8')]);
}

/** Polls `probe` until it returns something other than undefined; fails after `timeoutMs` with `what`. */
export async function waitFor<T>(
  what: string | (() => Promise<string> | string),
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) {
      const text = typeof what === 'string' ? what : await what();
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${text}`);
    }
    await sleep(intervalMs);
  }
}

/** The newest ledger entry of a key, if any. */
export async function latestRecord(e2e: E2E, key: string): Promise<DeliveryRecord | undefined> {
  const [record] = await e2e.pipeline.ledger.listByKey(e2e.pipeline.resources.bucket, key);
  return record;
}

/** Every delivery item in the ledger (token-cache and semaphore items left out). */
export async function ledgerItems(e2e: E2E): Promise<DeliveryRecord[]> {
  const items: DeliveryRecord[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await e2e.pipeline.clients.doc.send(
      new ScanCommand({
        TableName: e2e.pipeline.resources.stateTable,
        ExclusiveStartKey: start,
        ConsistentRead: true,
      }),
    );
    for (const item of out.Items ?? []) {
      if (typeof item.pk === 'string' && item.pk.startsWith('d#')) items.push(item as DeliveryRecord);
    }
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

/**
 * Waits (with one table scan per round, so it scales to hundreds of keys) until every key has a
 * terminal ledger entry; fails naming the keys still open and their states.
 */
export async function settleMany(
  e2e: E2E,
  keys: readonly string[],
  timeoutMs: number,
  onRound?: (settled: number) => void,
): Promise<Map<string, DeliveryRecord>> {
  const wanted = new Set(keys);
  const deadline = Date.now() + timeoutMs;
  let last = new Map<string, DeliveryRecord>();
  for (;;) {
    const byKey = new Map<string, DeliveryRecord>();
    for (const item of await ledgerItems(e2e)) {
      if (!wanted.has(item.key)) continue;
      const prior = byKey.get(item.key);
      if (!prior || item.createdAt > prior.createdAt) byKey.set(item.key, item);
    }
    last = byKey;
    const settled = [...byKey.values()].filter((r) => TERMINAL_STATES.has(r.state));
    onRound?.(settled.length);
    if (settled.length === wanted.size) return new Map(settled.map((r) => [r.key, r]));
    if (Date.now() >= deadline) break;
    await sleep(1000);
  }
  const open = keys
    .filter((k) => !TERMINAL_STATES.has(last.get(k)?.state ?? 'RECEIVED'))
    .map((k) => `${k}: ${last.get(k)?.state ?? 'not seen'}`);
  throw new Error(
    `${open.length} of ${keys.length} files not settled within ${timeoutMs / 1000} s:\n${open.slice(0, 30).join('\n')}`,
  );
}

/** The DLQ message whose subject (decoded object key, or the body's start) is `subject`, waited for. */
export async function dlqMessageFor(
  e2e: E2E,
  subject: string | ((m: DlqMessage) => boolean),
  timeoutMs = 30_000,
): Promise<DlqMessage> {
  const matches = typeof subject === 'string' ? (m: DlqMessage) => m.subject === subject : subject;
  return waitFor(
    async () =>
      `a DLQ message for ${typeof subject === 'string' ? subject : 'the predicate'}; DLQs hold: ${JSON.stringify(
        (await dlqList(e2e.target)).map((m) => [m.queue, m.errorCode, m.subject.slice(0, 60)]),
      )}`,
    async () => (await dlqList(e2e.target)).find(matches),
    timeoutMs,
    500,
  );
}

/**
 * Asserts a keyed input was refused with a reason: its ledger entry is FAILED with `code` and a
 * `lastError` matching `message`, and a DLQ message for it carries the same code and message.
 */
export async function expectRefused(
  e2e: E2E,
  key: string,
  code: string,
  message: RegExp,
  options: { queue?: string } = {},
): Promise<{ record: DeliveryRecord; dlq: DlqMessage }> {
  // Refusals settle within seconds; a missing ledger entry should fail fast, with the DLQ's view.
  const record = (
    await e2e.settle([key], 20_000).catch(async (error: unknown) => {
      const parked = (await dlqList(e2e.target)).filter((m) => m.subject === key);
      throw new Error(
        `${(error as Error).message}\nDLQ messages for it: ${JSON.stringify(parked.map((m) => [m.queue, m.errorCode, m.errorMessage]))}\nlog:\n${logFor(e2e, key).join('\n')}`,
      );
    })
  ).get(key);
  expect(record, `ledger entry of ${key}`).toBeDefined();
  const r = record as DeliveryRecord;
  expect({ state: r.state, reason: r.reason }, `ledger of ${key}: ${r.lastError}`).toEqual({
    state: 'FAILED',
    reason: code,
  });
  expect(r.lastError ?? '').toMatch(message);
  const dlq = await dlqMessageFor(e2e, key);
  expect({ errorCode: dlq.errorCode, retryable: dlq.retryable }).toEqual({
    errorCode: code,
    retryable: 'false',
  });
  expect(dlq.errorMessage).toMatch(message);
  if (options.queue) expect(dlq.queue).toBe(options.queue);
  return { record: r, dlq };
}

/** Asserts a dropped file was delivered byte-exact under its own file name and completed once. */
export async function expectDelivered(e2e: E2E, file: Dropped): Promise<DeliveryRecord> {
  const record = (await e2e.settle([file.key])).get(file.key);
  expect(record?.state, `${file.key}: ${record?.reason} ${record?.lastError}`).toBe('COMPLETED');
  const vendor = vendorOfKey(file.key) as SandboxVendor;
  const uploads = e2e.pipeline.sandbox.log.uploads({ vendor, fileName: file.fileName });
  expect(
    uploads.map((u) => ({ fileName: u.fileName, sha256Hex: u.sha256Hex, size: u.size })),
    `uploads at ${vendor} named ${file.fileName}`,
  ).toEqual([{ fileName: file.fileName, sha256Hex: file.sha256Hex, size: file.bytes }]);
  expect(e2e.pipeline.sandbox.log.completions(vendor, file.fileName)).toHaveLength(1);
  return record as DeliveryRecord;
}

/** Messages visible, in flight and delayed in a queue. */
export async function queueDepth(e2e: E2E, url: string): Promise<number> {
  const out = await e2e.pipeline.clients.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  const a = out.Attributes ?? {};
  return (
    Number(a.ApproximateNumberOfMessages ?? 0) +
    Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) +
    Number(a.ApproximateNumberOfMessagesDelayed ?? 0)
  );
}

/** The function log's JSON lines (Powertools), parsed; other lines skipped. */
export function functionLog(e2e: E2E): Array<Record<string, unknown>> {
  let text: string;
  try {
    text = readFileSync(e2e.pipeline.logFile, 'utf8');
  } catch {
    return [];
  }
  const out: Array<Record<string, unknown>> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a line cut by a crash
    }
  }
  return out;
}

/**
 * Function log lines about one object key (for failure messages and bug evidence): lines with its
 * `key`, and queue-level lines whose error names it (lease messages carry the delivery id).
 */
export function logFor(e2e: E2E, key: string): string[] {
  return functionLog(e2e)
    .filter((l) => l.key === key || (typeof l.error === 'string' && l.error.includes(`/${key}`)))
    .filter((l) => l.level !== 'DEBUG')
    .map((l) =>
      [l.timestamp, l.level, l.message, l.errorCode, l.receiveCount && `receive ${l.receiveCount}`, l.error]
        .filter((x) => x !== undefined && x !== '')
        .join(' '),
    );
}

/** Checks a hand-made or test body was never turned into a ledger entry: no item outside `known` keys. */
export async function unknownLedgerKeys(e2e: E2E, known: ReadonlySet<string>): Promise<string[]> {
  return (await ledgerItems(e2e)).map((r) => r.key).filter((k) => !known.has(k));
}

const onceRulesUsed = new WeakMap<E2E, number>();

/**
 * Arms a failpoint that fires once. The harness marks a fired `once` rule by its index in the rules
 * file, and the mark outlives `clearFailpoints()`: a later `once` rule at the same index would never
 * fire. So each one gets a fresh index, behind rules that match no key.
 */
export function armOnce(e2e: E2E, rule: Omit<FailpointRule, 'once'>): void {
  const used = onceRulesUsed.get(e2e) ?? 0;
  e2e.clearFailpoints();
  for (let i = 0; i < used; i++) {
    e2e.armFailpoint({ point: rule.point, keyContains: `\u0000never-${i}`, once: true });
  }
  e2e.armFailpoint({ ...rule, once: true });
  onceRulesUsed.set(e2e, used + 1);
}
