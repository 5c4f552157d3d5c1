import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import type { ZodType } from 'zod';
import { extensionOf } from '../functions/shared/file-descriptor';
import { DlqAttribute } from '../functions/shared/messages';
import { type DeliveryEventDetail, resultKeyOf } from '../functions/shared/outcome';
import { RouteMatcher } from '../functions/shared/routes/match';
import { decodeS3Key, encodeS3Key } from '../functions/shared/s3-event';
import { type DeliveryRecord, TERMINAL_STATES } from '../functions/shared/state/ledger';
import { adapterFor } from '../functions/vendors/registry';
import type { Breaker, DeliveryPage, DeliveryQuery } from './ledger-admin';
import type { QueueRef, Target, TargetRoute } from './target';

/**
 * What an operator does to a stack, local or deployed: the CLI's commands and the console's HTTP
 * handlers both call these functions (and the {@link LedgerAdmin} listings); neither has its own
 * implementation of an action.
 */

const CONTENT_TYPES: Record<string, string> = {
  csv: 'text/csv',
  xml: 'application/xml',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  xls: 'application/vnd.ms-excel',
  zip: 'application/zip',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  pdf: 'application/pdf',
  json: 'application/json',
};

export function contentTypeFor(fileName: string): string {
  return CONTENT_TYPES[extensionOf(fileName)] ?? 'application/octet-stream';
}

async function sha256File(file: string, range?: { start: number; end: number }): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, range)) hash.update(chunk as Buffer);
  return hash.digest('base64');
}

/** The object key for a file: `--key` as given, else the route's prefix + the file name. */
export function keyFor(target: Target, file: string, options: { key?: string; route?: string }): string {
  if (options.key) return options.key;
  if (!options.route) throw new Error('give --key <object key> or --route <route id>');
  const route = target.routes.find((r) => r.id === options.route);
  if (!route)
    throw new Error(`no route "${options.route}" (routes: ${target.routes.map((r) => r.id).join(', ')})`);
  if (route.segments.length > 0) {
    throw new Error(
      `route "${route.id}" has segments (${route.prefix}): give the full --key, e.g. ${route.prefix}${path.basename(file)}`,
    );
  }
  return `${route.prefix}${path.basename(file)}`;
}

/** The route a key would be delivered by, with its segment values. */
export interface KeyCheck {
  readonly route: TargetRoute;
  readonly segments: Readonly<Record<string, string>>;
}

/**
 * What the dispatch would decide about a key before it sees the bytes: the route (longest prefix)
 * and the named segments' values against the vendor adapter's option schema. The stack's outputs
 * carry each route's prefix and vendor; when they also carry its options the whole option set is
 * validated as the dispatch does, otherwise each segment against its own field of the schema.
 * Throws with the reason the dispatch would park the file for.
 */
export function checkKey(target: Target, key: string): KeyCheck {
  if (key.length === 0 || key.endsWith('/')) throw new Error(`"${key}" names a folder, not a file`);
  const match = new RouteMatcher(target.routes).match(key);
  if (!match) {
    const near = target.routes.find((r) => r.segments.length > 0 && key.startsWith(r.filterPrefix));
    if (near) {
      throw new Error(
        `"${key}" is under ${near.filterPrefix} but route ${near.id} takes keys like ${near.prefix}<file>: ${near.segments.map((s) => `{${s}}`).join(', ')} missing`,
      );
    }
    const width = Math.max(...target.routes.map((r) => r.prefix.length));
    const list = target.routes.map((r) => `  ${r.prefix.padEnd(width)}  ${r.id} (${r.vendor})`).join('\n');
    throw new Error(`no route for "${key}": nothing would deliver it. A key starts with one of\n${list}`);
  }
  const { route, segments } = match;
  const adapter = adapterFor(route.vendor);
  if (!adapter || Object.keys(segments).length === 0) return { route, segments };
  const problems: string[] = [];
  if (route.options) {
    const parsed = adapter.optionsSchema.safeParse({ ...route.options, ...segments });
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        problems.push(`${issue.path.join('.') || 'options'}: ${issueText(issue)}`);
    }
  } else {
    const shape = (adapter.optionsSchema as { shape?: Record<string, ZodType> }).shape ?? {};
    for (const [name, value] of Object.entries(segments)) {
      const parsed = shape[name]?.safeParse(value);
      if (parsed && !parsed.success)
        problems.push(`{${name}} = "${value}": ${parsed.error.issues.map(issueText).join('; ')}`);
    }
  }
  if (problems.length > 0) {
    throw new Error(
      `"${key}" matches route ${route.id} (${route.prefix}) but ${route.vendor} options refuse it: ${problems.join('; ')}`,
    );
  }
  return { route, segments };
}

/** A zod issue in words; a union's issue says what each alternative wanted. */
function issueText(issue: { message: string; code?: string; errors?: unknown }): string {
  if (issue.code === 'invalid_union' && Array.isArray(issue.errors)) {
    const wanted = (issue.errors as Array<Array<{ message: string }>>).flat().map((e) => e.message);
    if (wanted.length > 0) return [...new Set(wanted)].join(', or ');
  }
  return issue.message;
}

/** S3's smallest part (all but the last), largest single PUT and most parts. */
const MIN_PART_SIZE = 5 * 1024 * 1024;
const MAX_SINGLE_PUT = 5 * 1024 ** 3;
const MAX_PARTS = 10_000;
/** Files larger than this go up in parts of this size. */
export const DEFAULT_PART_SIZE = 64 * 1024 * 1024;
const PART_PARALLELISM = 4;

export interface DropOptions {
  /** Part size of a multipart upload; files up to this size go in one PUT. @default 64 MiB */
  readonly partSizeBytes?: number;
  /** Called as bytes reach S3 (per part for a multipart upload). */
  readonly onProgress?: (sent: number, total: number) => void;
}

export interface DropResult {
  readonly key: string;
  readonly bytes: number;
  readonly versionId?: string;
  /** `single`: one PUT with the full-object SHA-256; `multipart`: parts, each with its SHA-256. */
  readonly upload: 'single' | 'multipart';
  readonly parts?: number;
}

/**
 * Uploads a file to the ingest bucket, streaming, after checking its key ({@link checkKey}). Up to
 * the part size it is one PUT carrying the file's SHA-256 as a full-object checksum, which S3
 * verifies and stores, so a vendor that needs the hash first (Inspect) skips a hashing pass. Larger
 * files go as a multipart upload (a single PUT stops at 5 GiB), each part with its SHA-256, which S3
 * verifies. For multipart objects S3 keeps SHA-256 only as a checksum of the part checksums
 * (`COMPOSITE`; its full-object type exists for CRC algorithms alone), so the dispatch hashes those
 * itself when the vendor needs the hash. The default part size keeps photos and registers in one PUT.
 */
export async function drop(
  target: Target,
  file: string,
  key: string,
  options: DropOptions = {},
): Promise<DropResult> {
  checkKey(target, key);
  const bytes = statSync(file).size;
  const requested = options.partSizeBytes ?? DEFAULT_PART_SIZE;
  if (requested < MIN_PART_SIZE)
    throw new Error(`the part size must be at least ${MIN_PART_SIZE} bytes (S3's minimum)`);
  if (bytes <= Math.min(requested, MAX_SINGLE_PUT)) {
    const out = await target.clients.s3.send(
      new PutObjectCommand({
        Bucket: target.resources.bucket,
        Key: key,
        Body: createReadStream(file),
        ContentLength: bytes,
        ContentType: contentTypeFor(file),
        // The algorithm named with its value: S3 verifies the value; the embedded AWS stores it
        // only when the algorithm is named too.
        ChecksumAlgorithm: 'SHA256',
        ChecksumSHA256: await sha256File(file),
      }),
    );
    options.onProgress?.(bytes, bytes);
    return { key, bytes, versionId: out.VersionId, upload: 'single' };
  }
  // S3 takes at most 10,000 parts: a file that would need more goes in larger ones.
  const partSize = Math.max(requested, Math.ceil(bytes / MAX_PARTS));
  return dropMultipart(target, { file, key, bytes, partSize }, options);
}

async function dropMultipart(
  target: Target,
  upload: { file: string; key: string; bytes: number; partSize: number },
  options: DropOptions,
): Promise<DropResult> {
  const { file, key, bytes, partSize } = upload;
  const s3 = target.clients.s3;
  const Bucket = target.resources.bucket;
  // Per-part SHA-256 on AWS. Not on an emulated endpoint: moto 5.2.1 answers HeadObject for a
  // multipart object with its composite SHA-256 as if it were the object's own (no `-<parts>` suffix,
  // no checksum type), which the dispatch would hand a vendor as the file's hash.
  const checksums = target.kind === 'aws';
  const created = await s3.send(
    new CreateMultipartUploadCommand({
      Bucket,
      Key: key,
      ContentType: contentTypeFor(file),
      ...(checksums ? { ChecksumAlgorithm: 'SHA256' as const } : {}),
    }),
  );
  const UploadId = created.UploadId;
  if (!UploadId) throw new Error('S3 answered CreateMultipartUpload without an upload id');
  const count = Math.ceil(bytes / partSize);
  const parts: CompletedPart[] = [];
  let sent = 0;
  let next = 0;
  try {
    // Each part is streamed from its byte range of the file: memory stays at a few buffers per part.
    const worker = async () => {
      for (let index = next++; index < count; index = next++) {
        const start = index * partSize;
        const end = Math.min(bytes, start + partSize) - 1;
        const checksum = checksums ? await sha256File(file, { start, end }) : undefined;
        const out = await s3.send(
          new UploadPartCommand({
            Bucket,
            Key: key,
            UploadId,
            PartNumber: index + 1,
            Body: createReadStream(file, { start, end }),
            ContentLength: end - start + 1,
            ...(checksum ? { ChecksumSHA256: checksum } : {}),
          }),
        );
        parts[index] = {
          PartNumber: index + 1,
          ETag: out.ETag,
          ...(checksum ? { ChecksumSHA256: checksum } : {}),
        };
        sent += end - start + 1;
        options.onProgress?.(sent, bytes);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PART_PARALLELISM, count) }, worker));
    const done = await s3.send(
      new CompleteMultipartUploadCommand({ Bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }),
    );
    return { key, bytes, versionId: done.VersionId, upload: 'multipart', parts: count };
  } catch (error) {
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key: key, UploadId })).catch(() => undefined);
    throw error;
  }
}

/** Ledger entries of a key (every version, newest first), or of recent deliveries when no key is given. */
export async function status(target: Target, key?: string): Promise<DeliveryRecord[]> {
  if (key) return target.ledger.listByKey(target.resources.bucket, key);
  return (await deliveries(target, { limit: 50 })).items;
}

/**
 * Deliveries newest first across the routes a query selects (one route, a vendor's routes, all),
 * from the route index — never a table scan — one page at a time (`next` continues).
 */
export async function deliveries(
  target: Target,
  query: Omit<DeliveryQuery, 'routeIds'> & { route?: string; vendor?: string },
): Promise<DeliveryPage> {
  const { route, vendor, ...rest } = query;
  const routes = target.routes.filter((r) => (!route || r.id === route) && (!vendor || r.vendor === vendor));
  if (route && routes.length === 0) throw new Error(`no route "${route}"`);
  return target.ledger.listDeliveries({ ...rest, routeIds: routes.map((r) => r.id) });
}

/** One delivery: the version `sk` of a key, or its newest. */
export async function delivery(
  target: Target,
  key: string,
  version?: string,
): Promise<{ record: DeliveryRecord; versions: DeliveryRecord[] }> {
  const versions = await target.ledger.listByKey(target.resources.bucket, key);
  const record = version ? versions.find((r) => r.sk === version || r.versionId === version) : versions[0];
  if (!record)
    throw new NotFoundError(
      `no delivery recorded for s3://${target.resources.bucket}/${key}${version ? ` (${version})` : ''}`,
    );
  return { record, versions };
}

/** Something the operator named does not exist (a key, a message, a queue). */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

/**
 * Where a delivery's write-back is: its result document (once its outcome is decided, at a key
 * derived from the version) and the vendor's error file (named in the ledger when one was copied).
 */
export function resultsOf(
  target: Pick<Target, 'resources'>,
  record: DeliveryRecord,
): { document?: string; errorFile?: string } {
  return {
    ...(record.outcome ? { document: resultKeyOf(target.resources.resultsPrefix, record) } : {}),
    ...(record.results?.errorFile ? { errorFile: record.results.errorFile } : {}),
  };
}

/**
 * The content of a delivery's result document or vendor error file, which the write-back stores in
 * the ingest bucket (see {@link resultsOf}).
 */
export async function deliveryResult(
  target: Target,
  record: DeliveryRecord,
  which: 'document' | 'errorFile',
): Promise<{ key: string; body: Uint8Array; contentType: string }> {
  const key = resultsOf(target, record)[which];
  if (!key)
    throw new NotFoundError(
      `${record.deliveryId} has no ${which === 'document' ? 'result document' : 'vendor error file'}`,
    );
  const out = await target.clients.s3.send(
    new GetObjectCommand({ Bucket: target.resources.bucket, Key: key }),
  );
  const body = out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
  return { key, body, contentType: out.ContentType ?? contentTypeFor(key) };
}

/** A dead-letter queue and the queue it feeds back into. */
export interface DlqRef {
  /** The route id of an intake queue, or `completion`. */
  readonly id: string;
  readonly label: string;
  readonly queue: QueueRef;
}

/** The DLQs of a stack, or the one named (a route id or `completion`). */
export function dlqs(target: Target, which?: string): DlqRef[] {
  const all: DlqRef[] = [
    ...target.resources.intake.map((q) => ({ id: q.routeId, label: `${q.routeId} intake`, queue: q })),
    { id: 'completion', label: 'completion', queue: target.resources.completion },
  ];
  const picked = all.filter((d) => !which || d.id === which);
  if (picked.length === 0)
    throw new NotFoundError(
      `no queue "${which}" (use a route id or "completion": ${all.map((d) => d.id).join(', ')})`,
    );
  return picked;
}

/**
 * For a version waiting for its vendor: "waiting for <vendor> (down since T)" when that vendor
 * account's circuit breaker is open; undefined otherwise.
 */
export function waitingNote(record: DeliveryRecord, breakers: readonly Breaker[]): string | undefined {
  if (TERMINAL_STATES.has(record.state) || !record.waitingFor) return undefined;
  const breaker = breakers.find((b) => b.accountKey === record.waitingFor);
  if (breaker?.state !== 'open') return undefined;
  const until = breaker.openUntil ? `, until ${new Date(breaker.openUntil).toISOString()}` : '';
  return `waiting for ${breaker.vendor ?? record.vendor ?? breaker.accountKey} (down since ${breaker.openedAt ?? '?'}${until}: ${breaker.reason ?? 'consecutive failures'})`;
}

export interface DlqMessage {
  /** `<route id> intake` or `completion`. */
  readonly queue: string;
  /** The route id or `completion`: what `--queue` and the console's actions take. */
  readonly queueId: string;
  readonly messageId: string;
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly retryable: string;
  readonly failedAt: string;
  /** The object key the message is about (or the body's start when it has none). */
  readonly subject: string;
  /** The ledger's delivery id, when the pipeline parked the message itself. */
  readonly deliveryId?: string;
  readonly body: string;
  /** Every message attribute, as strings. */
  readonly attributes: Readonly<Record<string, string>>;
  /** When SQS received the message (into the DLQ, or the source queue for a redrive-policy move). */
  readonly sentAt?: string;
  readonly receiveCount?: number;
}

function subjectOf(body: string): string {
  try {
    const json = JSON.parse(body) as {
      Records?: Array<{ s3?: { object?: { key?: string } } }>;
      object?: { key?: string };
    };
    const key = json.Records?.[0]?.s3?.object?.key;
    if (key) {
      try {
        return decodeS3Key(key);
      } catch {
        return key;
      }
    }
    if (json.object?.key) return json.object.key;
  } catch {
    // not JSON
  }
  return body.slice(0, 80);
}

function dlqMessage(d: DlqRef, m: Message): DlqMessage {
  const attributes = Object.fromEntries(
    Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue ?? '']),
  );
  const attr = (name: string) => attributes[name] ?? '';
  const sent = Number(m.Attributes?.SentTimestamp);
  const received = Number(m.Attributes?.ApproximateReceiveCount);
  return {
    queue: d.label,
    queueId: d.id,
    messageId: m.MessageId ?? '',
    errorCode:
      attr(DlqAttribute.ERROR_CODE) || '(none: moved by the redrive policy after a crash or timeout)',
    errorMessage: attr(DlqAttribute.ERROR_MESSAGE),
    retryable: attr(DlqAttribute.RETRYABLE),
    failedAt: attr(DlqAttribute.FAILED_AT),
    subject: subjectOf(m.Body ?? ''),
    ...(attr(DlqAttribute.DELIVERY_ID) ? { deliveryId: attr(DlqAttribute.DELIVERY_ID) } : {}),
    body: m.Body ?? '',
    attributes,
    ...(sent ? { sentAt: new Date(sent).toISOString() } : {}),
    ...(received ? { receiveCount: received } : {}),
  };
}

/** Every message of a queue, read without removing it (visibility 0), until two rounds bring nothing new. */
async function peek(target: Target, url: string): Promise<Message[]> {
  const seen = new Map<string, Message>();
  for (let round = 0, idle = 0; round < 50 && idle < 2; round++) {
    const out = await target.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 0,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['SentTimestamp', 'ApproximateReceiveCount'],
      }),
    );
    let fresh = 0;
    for (const m of out.Messages ?? []) {
      if (m.MessageId && !seen.has(m.MessageId)) {
        seen.set(m.MessageId, m);
        fresh++;
      }
    }
    idle = fresh === 0 ? idle + 1 : 0;
  }
  return [...seen.values()];
}

/** Every message in every DLQ (or the one named) with the reason the pipeline attached, without removing them. */
export async function dlqList(target: Target, which?: string): Promise<DlqMessage[]> {
  const out: DlqMessage[] = [];
  for (const d of dlqs(target, which)) {
    for (const m of await peek(target, d.queue.dlqUrl)) out.push(dlqMessage(d, m));
  }
  return out;
}

/**
 * The ledger entry a DLQ message is about: the version whose delivery id the message carries, else
 * the key's newest.
 */
export async function recordOfDlqMessage(
  target: Target,
  message: Pick<DlqMessage, 'subject' | 'deliveryId'>,
): Promise<DeliveryRecord | undefined> {
  const versions = await target.ledger.listByKey(target.resources.bucket, message.subject);
  return versions.find((r) => message.deliveryId && r.deliveryId === message.deliveryId) ?? versions[0];
}

const FIND_HOLD_SECONDS = 30;

/**
 * Receives from a DLQ until the message with `messageId` comes up; returns it held (invisible for
 * {@link FIND_HOLD_SECONDS}), every other message it saw made visible again.
 */
async function takeMessage(target: Target, d: DlqRef, messageId: string): Promise<Message> {
  const passed = new Map<string, Message>();
  try {
    for (let idle = 0; idle < 2; ) {
      const out = await target.clients.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: d.queue.dlqUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: FIND_HOLD_SECONDS,
          WaitTimeSeconds: idle > 0 ? 1 : 0,
          MessageAttributeNames: ['All'],
        }),
      );
      let fresh = 0;
      let found: Message | undefined;
      for (const m of out.Messages ?? []) {
        if (!m.MessageId) continue;
        if (m.MessageId === messageId) {
          found = m;
          continue;
        }
        // Every other message of the batch is made visible again below, the ones after it too.
        if (!passed.has(m.MessageId)) fresh++;
        passed.set(m.MessageId, m);
      }
      if (found) return found;
      idle = fresh === 0 ? idle + 1 : 0;
    }
    throw new NotFoundError(`no message ${messageId} in the ${d.label} DLQ (moved or deleted already?)`);
  } finally {
    await release(target, d.queue.dlqUrl, [...passed.values()]);
  }
}

async function release(target: Target, url: string, messages: readonly Message[]): Promise<void> {
  for (const m of messages) {
    await target.clients.sqs
      .send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: url,
          ReceiptHandle: m.ReceiptHandle ?? '',
          VisibilityTimeout: 0,
        }),
      )
      .catch(() => undefined);
  }
}

function attributesOf(m: Message) {
  return Object.fromEntries(
    Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [
      k,
      { DataType: v.DataType ?? 'String', StringValue: v.StringValue },
    ]),
  );
}

/** Moves one message back to its source queue (its attributes kept), then deletes it from the DLQ. */
async function moveBack(target: Target, q: QueueRef, m: Message): Promise<void> {
  await target.clients.sqs.send(
    new SendMessageCommand({
      QueueUrl: q.url,
      MessageBody: m.Body ?? '',
      MessageAttributes: attributesOf(m),
    }),
  );
  await target.clients.sqs.send(
    new DeleteMessageCommand({ QueueUrl: q.dlqUrl, ReceiptHandle: m.ReceiptHandle ?? '' }),
  );
}

/** Operator action: one DLQ message back to its source queue. */
export async function redriveMessage(
  target: Target,
  queueId: string,
  messageId: string,
): Promise<DlqMessage> {
  const [d] = dlqs(target, queueId);
  if (!d) throw new NotFoundError(`no queue "${queueId}"`);
  const m = await takeMessage(target, d, messageId);
  await moveBack(target, d.queue, m);
  return dlqMessage(d, m);
}

/** Operator action: delete one DLQ message (what it was about is not retried). */
export async function dlqDelete(target: Target, queueId: string, messageId: string): Promise<DlqMessage> {
  const [d] = dlqs(target, queueId);
  if (!d) throw new NotFoundError(`no queue "${queueId}"`);
  const m = await takeMessage(target, d, messageId);
  await target.clients.sqs.send(
    new DeleteMessageCommand({ QueueUrl: d.queue.dlqUrl, ReceiptHandle: m.ReceiptHandle ?? '' }),
  );
  return dlqMessage(d, m);
}

async function depth(target: Target, url: string): Promise<number> {
  const out = await target.clients.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(out.Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

/** Operator action: empty every DLQ, or the one named. Returns about how many messages each held. */
export async function dlqPurge(
  target: Target,
  which?: string,
): Promise<Array<{ queue: string; purged: number }>> {
  const out: Array<{ queue: string; purged: number }> = [];
  for (const d of dlqs(target, which)) {
    const purged = await depth(target, d.queue.dlqUrl);
    await target.clients.sqs.send(new PurgeQueueCommand({ QueueUrl: d.queue.dlqUrl }));
    out.push({ queue: d.id, purged });
  }
  return out;
}

/** Messages in each DLQ (approximate, as SQS counts): what the console watches for changes. */
export async function dlqDepths(target: Target): Promise<Record<string, number>> {
  const entries = await Promise.all(
    dlqs(target).map(async (d) => [d.id, await depth(target, d.queue.dlqUrl)] as const),
  );
  return Object.fromEntries(entries);
}

export interface RedriveResult {
  readonly queue: string;
  /** Messages moved back, or `started` for an SQS move task (it runs on its own). */
  readonly moved: number | 'started';
  /** Messages in the DLQ once the move was done: parked (again) since the redrive began. */
  readonly left: number;
  /** Set when the endpoint lacks StartMessageMoveTask and the messages were moved one by one. */
  readonly fallback?: string;
}

/** An endpoint that does not implement an SQS action (moto answers StartMessageMoveTask with an HTML 500). */
function isUnsupportedAction(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode ?? 0;
  return (
    ['UnsupportedOperation', 'InvalidAction', 'UnknownOperationException', 'NotImplemented'].includes(
      e.name ?? '',
    ) ||
    status === 501 ||
    (status >= 500 && e.name === 'SyntaxError')
  );
}

/**
 * Moves DLQ messages back to their source queues: SQS's own `StartMessageMoveTask` where the endpoint
 * has it (it moves what the DLQ held when the task started); otherwise (moto) message by message,
 * moving only what the DLQ held before anything was sent back ({@link moveByHand}), so a file that
 * fails again is not sent round a second time.
 */
export async function redrive(target: Target, which?: string): Promise<RedriveResult[]> {
  const results: RedriveResult[] = [];
  for (const d of dlqs(target, which)) {
    try {
      await target.clients.sqs.send(
        new StartMessageMoveTaskCommand({ SourceArn: d.queue.dlqArn, DestinationArn: d.queue.arn }),
      );
      results.push({ queue: d.id, moved: 'started', left: 0 });
      continue;
    } catch (error) {
      if (!isUnsupportedAction(error)) throw error;
    }
    results.push({
      queue: d.id,
      ...(await moveByHand(target, d.queue)),
      fallback: 'the endpoint has no StartMessageMoveTask: moved message by message',
    });
  }
  return results;
}

/** How long the messages of a redrive are held invisible; renewed while the move runs longer. */
const HOLD_SECONDS = 120;

/**
 * The message-by-message redrive, in two phases:
 *
 * 1. **Take**: receive every message the DLQ holds, each made invisible for {@link HOLD_SECONDS},
 *    until receives bring nothing new. Nothing has been sent back yet, so none of these can be a
 *    message this redrive caused to be parked.
 * 2. **Move**: send each taken message to the source queue, then delete it from the DLQ. This phase
 *    never receives: a message parked again while it runs (a file that keeps failing) is never seen by
 *    this redrive and stays in the DLQ for the operator.
 *
 * No clock is compared (the operator's clock and SQS's may differ), so the guarantee does not rest on
 * timestamps. A message SQS did not return in phase 1 stays where it is, never moved twice.
 */
export async function moveByHand(target: Target, q: QueueRef): Promise<{ moved: number; left: number }> {
  const sqs = target.clients.sqs;
  const taken = new Map<string, { message: Message; until: number }>();
  for (let idle = 0; idle < 2; ) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: q.dlqUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: HOLD_SECONDS,
        WaitTimeSeconds: idle > 0 ? 1 : 0,
        MessageAttributeNames: ['All'],
      }),
    );
    let fresh = 0;
    for (const m of out.Messages ?? []) {
      if (!m.MessageId) continue;
      if (!taken.has(m.MessageId)) fresh++;
      taken.set(m.MessageId, { message: m, until: Date.now() + HOLD_SECONDS * 1000 });
    }
    idle = fresh === 0 ? idle + 1 : 0;
  }

  let moved = 0;
  for (const { message, until } of taken.values()) {
    // A long move renews the hold before it lapses, so no taken message becomes visible (and
    // receivable by anyone) before it is moved.
    if (until - Date.now() < 30_000) {
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: q.dlqUrl,
          ReceiptHandle: message.ReceiptHandle ?? '',
          VisibilityTimeout: HOLD_SECONDS,
        }),
      );
    }
    await moveBack(target, q, message);
    moved++;
  }
  return { moved, left: await depth(target, q.dlqUrl) };
}

async function pickVersion(target: Target, key: string, versionSk?: string): Promise<DeliveryRecord> {
  return (await delivery(target, key, versionSk)).record;
}

/**
 * Operator action: deliver a version again. The ledger entry goes back to RECEIVED (history and a
 * replay count kept, the operator named in the history) and the notification is sent again to the
 * route's intake queue.
 */
export async function replay(
  target: Target,
  key: string,
  operator: string,
  version?: string,
): Promise<DeliveryRecord> {
  const record = await pickVersion(target, key, version);
  const match = new RouteMatcher(target.routes).match(key);
  if (!match) throw new Error(`no route matches ${key}`);
  const queue = target.resources.intake.find((q) => q.routeId === match.route.id);
  if (!queue) throw new Error(`no intake queue for route ${match.route.id}`);
  const reset = await target.ledger.replay({ pk: record.pk, sk: record.sk }, operator);
  if (!reset)
    throw new Error(
      `${record.deliveryId} is being worked on right now (${record.state}); try again when it settles`,
    );
  const sequencer = record.sequencer;
  const event = {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: target.clients.region,
        eventTime: sequencer?.startsWith('t:') ? sequencer.slice(2) : new Date().toISOString(),
        eventName: 'ObjectCreated:Put',
        s3: {
          bucket: { name: record.bucket },
          object: {
            key: encodeS3Key(record.key),
            size: record.size,
            eTag: record.eTag,
            ...(record.versionId ? { versionId: record.versionId } : {}),
            ...(sequencer && !sequencer.startsWith('t:') ? { sequencer } : {}),
          },
        },
      },
    ],
  };
  await target.clients.sqs.send(
    new SendMessageCommand({
      QueueUrl: queue.url,
      MessageBody: JSON.stringify(event),
      MessageAttributes: { replayedBy: { DataType: 'String', StringValue: operator } },
    }),
  );
  return reset;
}

/** Operator action for COMPLETION_UNCERTAIN after checking the vendor: mark completed, or call the vendor again. */
export async function resolve(
  target: Target,
  key: string,
  as: 'completed' | 'retry',
  operator: string,
  version?: string,
): Promise<DeliveryRecord> {
  const record = await pickVersion(target, key, version);
  const resolved = await target.ledger.resolve({ pk: record.pk, sk: record.sk }, as, operator);
  if (!resolved) throw new Error(`${record.deliveryId} is ${record.state}, not COMPLETION_UNCERTAIN`);
  if (as === 'retry') {
    if (!resolved.completionMessage)
      throw new Error('the ledger entry has no completion message to send again');
    await target.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: target.resources.completion.url,
        MessageBody: resolved.completionMessage,
      }),
    );
  }
  return resolved;
}

/** One outcome event as the events queue holds it (EventBridge's envelope around the detail). */
export interface OutcomeEvent {
  readonly id?: string;
  readonly time?: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly detail: DeliveryEventDetail;
}

/**
 * Outcome events from the stack's events queue (`events.queue` in the stage; on in the local stage).
 * `take` removes what it returns (a queue is read once: several readers would split the events);
 * otherwise they stay, invisible to others for a few seconds. `waitSeconds` long-polls for new ones.
 */
export async function readEvents(
  target: Target,
  options: { readonly take?: boolean; readonly waitSeconds?: number; readonly max?: number } = {},
): Promise<OutcomeEvent[]> {
  const url = target.resources.eventsQueueUrl;
  if (!url) {
    throw new NotFoundError(
      `${target.stackName} has no events queue: set "events": { "queue": true } in its stage, or write an EventBridge rule on source vendor-ingest`,
    );
  }
  const max = options.max ?? 100;
  const out: OutcomeEvent[] = [];
  let wait = options.waitSeconds ?? 0;
  while (out.length < max) {
    const answer = await target.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: Math.min(10, max - out.length),
        WaitTimeSeconds: wait,
        VisibilityTimeout: options.take ? 30 : 5,
      }),
    );
    const messages = answer.Messages ?? [];
    if (messages.length === 0) break;
    wait = 0;
    for (const m of messages) {
      try {
        out.push(JSON.parse(m.Body ?? '') as OutcomeEvent);
      } catch {
        continue; // not an event of ours: left for its own consumer
      }
      if (options.take)
        await target.clients.sqs.send(
          new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle }),
        );
    }
  }
  return out.sort((a, b) =>
    (a.detail.timings?.decidedAt ?? '').localeCompare(b.detail.timings?.decidedAt ?? ''),
  );
}
