import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { DlqAttribute } from '../functions/shared/messages';
import { RouteMatcher } from '../functions/shared/routes/match';
import { decodeS3Key, encodeS3Key } from '../functions/shared/s3-event';
import type { BreakerItem } from '../functions/shared/state/breaker';
import { type DeliveryRecord, TERMINAL_STATES } from '../functions/shared/state/ledger';
import type { QueueRef, Target } from './target';

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
};

export function contentTypeFor(fileName: string): string {
  return CONTENT_TYPES[path.extname(fileName).slice(1).toLowerCase()] ?? 'application/octet-stream';
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
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
    throw new Error(`route "${route.id}" has segments (${route.prefix}): give the full --key`);
  }
  return `${route.prefix}${path.basename(file)}`;
}

/**
 * Uploads a file to the ingest bucket, streaming, with its SHA-256 stored as the object's checksum
 * (vendors that need the hash first — inspect — then skip a second read).
 */
export async function drop(
  target: Target,
  file: string,
  key: string,
): Promise<{ key: string; bytes: number; versionId?: string }> {
  const bytes = statSync(file).size;
  const out = await target.clients.s3.send(
    new PutObjectCommand({
      Bucket: target.resources.bucket,
      Key: key,
      Body: createReadStream(file),
      ContentLength: bytes,
      ContentType: contentTypeFor(file),
      ChecksumSHA256: await sha256File(file),
    }),
  );
  return { key, bytes, versionId: out.VersionId };
}

/** Ledger entries of a key (every version, newest first), or of recent deliveries when no key is given. */
export async function status(target: Target, key?: string): Promise<DeliveryRecord[]> {
  if (key) return target.ledger.listByKey(target.resources.bucket, key);
  const states = [
    'UPLOADING',
    'UPLOADED',
    'COMPLETING',
    'COMPLETION_UNCERTAIN',
    'FAILED',
    'COMPLETED',
    'DUPLICATE',
  ] as const;
  const all = await Promise.all(states.map((s) => target.ledger.listByState(s, { limit: 25 })));
  return all.flat().sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
}

/**
 * For a version waiting for its vendor: "waiting for <vendor> (down since T)" when that vendor
 * account's circuit breaker is open; undefined otherwise.
 */
export function waitingNote(record: DeliveryRecord, breakers: readonly BreakerItem[]): string | undefined {
  if (TERMINAL_STATES.has(record.state) || !record.waitingFor) return undefined;
  const breaker = breakers.find((b) => b.key === record.waitingFor);
  if (breaker?.state !== 'open') return undefined;
  const until = breaker.openUntil ? `, until ${new Date(breaker.openUntil).toISOString()}` : '';
  return `waiting for ${breaker.vendor ?? record.vendor ?? breaker.key} (down since ${breaker.openedAt ?? '?'}${until}: ${breaker.reason ?? 'consecutive failures'})`;
}

export interface DlqMessage {
  readonly queue: string;
  readonly messageId: string;
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly retryable: string;
  readonly failedAt: string;
  readonly subject: string;
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

async function peek(target: Target, url: string): Promise<Message[]> {
  const seen = new Map<string, Message>();
  for (let round = 0, idle = 0; round < 50 && idle < 2; round++) {
    const out = await target.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 0,
        MessageAttributeNames: ['All'],
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

/** Every message in every DLQ with the reason the pipeline attached (without removing them). */
export async function dlqList(target: Target): Promise<DlqMessage[]> {
  const queues = [
    ...target.resources.intake.map((q) => ({ label: `${q.routeId} intake`, url: q.dlqUrl })),
    { label: 'completion', url: target.resources.completion.dlqUrl },
  ];
  const out: DlqMessage[] = [];
  for (const q of queues) {
    for (const m of await peek(target, q.url)) {
      const attr = (name: string) => m.MessageAttributes?.[name]?.StringValue ?? '';
      out.push({
        queue: q.label,
        messageId: m.MessageId ?? '',
        errorCode:
          attr(DlqAttribute.ERROR_CODE) || '(none: moved by the redrive policy after a crash or timeout)',
        errorMessage: attr(DlqAttribute.ERROR_MESSAGE),
        retryable: attr(DlqAttribute.RETRYABLE),
        failedAt: attr(DlqAttribute.FAILED_AT),
        subject: subjectOf(m.Body ?? ''),
      });
    }
  }
  return out;
}

export interface RedriveResult {
  readonly queue: string;
  /** Messages moved back, or `started` for an SQS move task (it runs on its own). */
  readonly moved: number | 'started';
  /** Messages left in the DLQ because they arrived after the redrive began (parked again). */
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
 * has it; otherwise (moto) receive → send (attributes kept) → delete, moving only messages that were
 * in the DLQ when the redrive began, so a file that fails again is not sent round a second time.
 */
export async function redrive(target: Target, which?: string): Promise<RedriveResult[]> {
  const pairs = [
    ...target.resources.intake.map((q) => ({ label: q.routeId, q })),
    { label: 'completion', q: target.resources.completion },
  ].filter((p) => !which || p.label === which);
  if (pairs.length === 0) throw new Error(`no queue "${which}" (use a route id or "completion")`);
  const results: RedriveResult[] = [];
  for (const { label, q } of pairs) {
    try {
      await target.clients.sqs.send(
        new StartMessageMoveTaskCommand({ SourceArn: q.dlqArn, DestinationArn: q.arn }),
      );
      results.push({ queue: label, moved: 'started', left: 0 });
      continue;
    } catch (error) {
      if (!isUnsupportedAction(error)) throw error;
    }
    results.push({
      queue: label,
      ...(await moveByHand(target, q)),
      fallback: 'the endpoint has no StartMessageMoveTask: moved message by message',
    });
  }
  return results;
}

async function moveByHand(target: Target, q: QueueRef): Promise<{ moved: number; left: number }> {
  const began = Date.now();
  const held: Message[] = [];
  let moved = 0;
  for (;;) {
    const out = await target.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: q.dlqUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 60,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['SentTimestamp'],
      }),
    );
    const messages = out.Messages ?? [];
    if (messages.length === 0) break;
    for (const m of messages) {
      // Parked during this redrive (its SentTimestamp is the park): it stays for the next look.
      if (Number(m.Attributes?.SentTimestamp ?? 0) > began) {
        held.push(m);
        continue;
      }
      const attributes = Object.fromEntries(
        Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [
          k,
          { DataType: v.DataType ?? 'String', StringValue: v.StringValue },
        ]),
      );
      await target.clients.sqs.send(
        new SendMessageCommand({ QueueUrl: q.url, MessageBody: m.Body ?? '', MessageAttributes: attributes }),
      );
      await target.clients.sqs.send(
        new DeleteMessageCommand({ QueueUrl: q.dlqUrl, ReceiptHandle: m.ReceiptHandle ?? '' }),
      );
      moved++;
    }
  }
  for (const m of held) {
    await target.clients.sqs
      .send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: q.dlqUrl,
          ReceiptHandle: m.ReceiptHandle ?? '',
          VisibilityTimeout: 0,
        }),
      )
      .catch(() => undefined);
  }
  return { moved, left: held.length };
}

async function pickVersion(target: Target, key: string, versionSk?: string): Promise<DeliveryRecord> {
  const records = await target.ledger.listByKey(target.resources.bucket, key);
  const record = versionSk
    ? records.find((r) => r.sk === versionSk || r.versionId === versionSk)
    : records[0];
  if (!record)
    throw new Error(
      `no delivery recorded for s3://${target.resources.bucket}/${key}${versionSk ? ` (${versionSk})` : ''}`,
    );
  return record;
}

/**
 * Operator action: deliver a version again. The ledger entry goes back to RECEIVED (history and a
 * replay count kept) and the notification is sent again to the route's intake queue.
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
