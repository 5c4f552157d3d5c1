import {
  ChangeMessageVisibilityCommand,
  type MessageAttributeValue,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import {
  ErrorCode,
  errorCodeOf,
  errorMessageOf,
  isRetryable,
  PermanentError,
  PipelineError,
  waitsForVendor,
} from '../errors';
import { DlqAttribute } from '../messages';
import type { CoreLogger } from '../observability';
import { backoffSeconds, waitDelaySeconds } from './backoff';

/** Attributes a waiting message carries from one re-enqueue to the next. */
export const WaitAttribute = {
  /** Attempts made before this message (re-enqueues reset SQS's receive count). */
  ATTEMPTS: 'viAttempts',
  /** When the message first waited for its vendor, ISO-8601. */
  WAITING_SINCE: 'viWaitingSince',
  /**
   * The vendor account whose open breaker refused its last attempt (that wait is then recorded on the
   * ledger; an attempt that gets past the breaker drops it).
   */
  WAITING_FOR: 'viWaitingFor',
  /** Its long wait was announced as needing attention. */
  ATTENTION: 'viAttention',
} as const;

/** What a record handler knows about the delivery attempt it is in. */
export interface RecordContext {
  /** The SQS message id (the work that decides an outcome records it). */
  readonly messageId: string;
  /** SQS ApproximateReceiveCount (1 on first delivery). */
  readonly receiveCount: number;
  /** Attempts so far including this one: the count carried through re-enqueues plus this message's receives. */
  readonly attempt: number;
  /** This is the last receive before the queue would move the message to its DLQ. */
  readonly lastAttempt: boolean;
  /** The message was parked by this pipeline once and moved back (redrive): failed work may be retried. */
  readonly redrive: boolean;
  /** Since when the message has been waiting for its vendor (epoch ms), if it has. */
  readonly waitingSince?: number | undefined;
  /** The vendor account whose open breaker the message already waited for, if it did. */
  readonly waitingFor?: string | undefined;
  /** How long a message may wait out vendor-side failures, ms. */
  readonly horizonMs: number;
  /** What the work noted for the message's next wait (carried by a re-enqueue). */
  readonly notes: { attentionAnnounced: boolean };
}

/**
 * Whether `error` ends this message (it goes to the DLQ with its reason): a permanent error; a
 * vendor-side one (see `waitsForVendor`) once the outage horizon has passed; any other retryable one
 * on the last receive.
 */
/** The decision already taken for a record's failure: the handler's and the boundary's must agree. */
const decided = new WeakMap<RecordContext, { readonly error: unknown; readonly final: boolean }>();

export function isFinal(ctx: RecordContext, error: unknown, now = Date.now()): boolean {
  // Decided once per failure: the handler records it in the ledger, then the batch boundary acts on
  // the same answer. Judged twice, a wait crossing the horizon between the two would be parked here
  // while the ledger still says it waits.
  const earlier = decided.get(ctx);
  if (earlier && earlier.error === error) return earlier.final;
  let final: boolean;
  if (!isRetryable(error)) final = true;
  else if (waitsForVendor(error)) final = now - (ctx.waitingSince ?? now) >= ctx.horizonMs;
  else final = ctx.lastAttempt;
  decided.set(ctx, { error, final });
  return final;
}

export interface BatchOptions {
  readonly sqs: SQSClient;
  readonly log: CoreLogger;
  /** DLQ for permanent failures of a record (by the record's source queue ARN). */
  readonly dlqUrlFor: (record: SQSRecord) => string | undefined;
  /** Queue URL for a record's source queue ARN (see {@link queueUrlFromArn}). */
  readonly queueUrlOf: (arn: string) => string;
  readonly maxReceiveCount: number;
  readonly retryBaseSeconds: number;
  readonly retryMaxSeconds: number;
  /** Records worked on at once. */
  readonly concurrency: number;
  /** How long a message may wait out vendor-side failures before it is parked, seconds. @default 1 day */
  readonly outageHorizonSeconds?: number;
  /**
   * Delay of one wait once its ramp is over, seconds (±20 %; SQS's DelaySeconds allows 900): bounds
   * the wake-ups of a waiting file (see `waitDelaySeconds`). @default 300
   */
  readonly waitSeconds?: number;
  readonly now?: () => number;
  /** Milliseconds left in the invocation; records are not started when too little remains. */
  readonly remainingMs?: () => number;
  /** Do not start a record with less than this left, ms. */
  readonly minStartMs?: number;
  /** Called when a retryable failure sends a record back (metrics). */
  readonly onRetry?: (record: SQSRecord, error: unknown) => void;
  /** Called when a record is parked in its DLQ. */
  readonly onParked?: (record: SQSRecord, error: unknown) => void;
  readonly random?: () => number;
}

const MAX_ATTRIBUTE_TEXT = 1024;

function attr(value: string): MessageAttributeValue {
  return { DataType: 'String', StringValue: value };
}

/** Keeps the message's own attributes (SQS event shape → SendMessage shape). */
function originalAttributes(record: SQSRecord): Record<string, MessageAttributeValue> {
  const out: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(record.messageAttributes ?? {})) {
    if (value.stringValue !== undefined)
      out[name] = { DataType: value.dataType, StringValue: value.stringValue };
  }
  return out;
}

/**
 * Runs a handler over an SQS batch and turns outcomes into the queue's language:
 * - success → acknowledged (left out of `batchItemFailures`);
 * - retryable → back to the queue after a jittered exponential delay (`ChangeMessageVisibility`),
 *   until the last receive, where it is parked like a permanent failure;
 * - permanent → sent to the DLQ at once with `errorCode`, `errorMessage`, `retryable` attributes, then
 *   acknowledged, so no retries are wasted and the DLQ tells an operator why.
 * One bad record never fails its neighbours.
 */
export async function processSqsBatch(
  records: readonly SQSRecord[],
  handle: (record: SQSRecord, ctx: RecordContext) => Promise<void>,
  options: BatchOptions,
): Promise<SQSBatchResponse> {
  const failures: string[] = [];
  let next = 0;

  const now = options.now ?? Date.now;
  const horizonMs = (options.outageHorizonSeconds ?? 86_400) * 1000;
  const runOne = async (record: SQSRecord): Promise<void> => {
    const receiveCount = Number(record.attributes.ApproximateReceiveCount ?? '1') || 1;
    const carried = Number(record.messageAttributes?.[WaitAttribute.ATTEMPTS]?.stringValue ?? '0') || 0;
    const since = Date.parse(record.messageAttributes?.[WaitAttribute.WAITING_SINCE]?.stringValue ?? '');
    const ctx: RecordContext = {
      messageId: record.messageId,
      receiveCount,
      attempt: carried + receiveCount,
      lastAttempt: receiveCount >= options.maxReceiveCount,
      redrive: record.messageAttributes?.[DlqAttribute.ERROR_CODE] !== undefined,
      waitingSince: Number.isNaN(since) ? undefined : since,
      waitingFor: record.messageAttributes?.[WaitAttribute.WAITING_FOR]?.stringValue,
      horizonMs,
      notes: { attentionAnnounced: record.messageAttributes?.[WaitAttribute.ATTENTION] !== undefined },
    };
    try {
      await handle(record, ctx);
      return;
    } catch (error) {
      const retryable = isRetryable(error);
      const final = isFinal(ctx, error, now());
      if (retryable && waitsForVendor(error) && !final) {
        if (await requeue(record, error, ctx, options)) return;
      }
      if (retryable && !final) {
        options.onRetry?.(record, error);
        const delay = backoffSeconds({
          attempt: receiveCount,
          baseSeconds: options.retryBaseSeconds,
          maxSeconds: options.retryMaxSeconds,
          retryAfterMs: error instanceof PipelineError ? error.retryAfterMs : undefined,
          random: options.random,
        });
        options.log.warn('record will be retried', {
          messageId: record.messageId,
          errorCode: errorCodeOf(error),
          error: errorMessageOf(error),
          receiveCount,
          retryInSeconds: delay,
        });
        try {
          await options.sqs.send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: options.queueUrlOf(record.eventSourceARN),
              ReceiptHandle: record.receiptHandle,
              VisibilityTimeout: delay,
            }),
          );
        } catch (visibilityError) {
          options.log.warn('could not set retry delay; the queue visibility timeout applies', {
            messageId: record.messageId,
            error: errorMessageOf(visibilityError),
          });
        }
        failures.push(record.messageId);
        return;
      }
      const parked = await park(record, error, ctx, options);
      if (!parked) failures.push(record.messageId);
      else options.onParked?.(record, error);
    }
  };

  const worker = async (): Promise<void> => {
    for (;;) {
      const record = records[next++];
      if (!record) return;
      if (options.remainingMs && options.remainingMs() < (options.minStartMs ?? 0)) {
        // Not enough time to do it properly: hand it straight back, unprocessed.
        failures.push(record.messageId);
        await options.sqs
          .send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: options.queueUrlOf(record.eventSourceARN),
              ReceiptHandle: record.receiptHandle,
              VisibilityTimeout: 0,
            }),
          )
          .catch(() => undefined);
        continue;
      }
      await runOne(record);
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency, records.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
}

/**
 * A message waiting out a vendor-side failure goes back to its own queue as a new message with a
 * delay, carrying its attempt count and when it started waiting, and the received one is
 * acknowledged: waiting spends no receives, so the DLQ's `maxReceiveCount` keeps catching only what
 * crashes or times out the function. False when the send failed (the caller falls back to a visibility
 * delay).
 */
async function requeue(
  record: SQSRecord,
  error: unknown,
  ctx: RecordContext,
  options: BatchOptions,
): Promise<boolean> {
  const now = (options.now ?? Date.now)();
  // A floor under every wait bounds what a waiting file costs (see `waitDelaySeconds`): short waits
  // while the attempts are few, then about `waitSeconds`; about `waitSeconds` at once while the
  // breaker is open (its probe notices the recovery).
  const delay = waitDelaySeconds({
    attempt: ctx.attempt,
    baseSeconds: options.retryBaseSeconds,
    waitSeconds: options.waitSeconds ?? 300,
    breakerOpen: errorCodeOf(error) === ErrorCode.VENDOR_DOWN,
    retryAfterMs: error instanceof PipelineError ? error.retryAfterMs : undefined,
    random: options.random,
  });
  const { [WaitAttribute.WAITING_FOR]: _waitedFor, ...kept } = originalAttributes(record);
  const attributes: Record<string, MessageAttributeValue> = {
    ...kept,
    [WaitAttribute.ATTEMPTS]: { DataType: 'Number', StringValue: String(ctx.attempt) },
    [WaitAttribute.WAITING_SINCE]: attr(new Date(ctx.waitingSince ?? now).toISOString()),
  };
  // Only a refusal by the breaker keeps the marker: an attempt that got past it (a probe, or the
  // breaker closed meanwhile) took the lease, which clears the ledger's note, so the next refusal must
  // record the wait again.
  const waitingFor = error instanceof PipelineError ? error.waitingFor : undefined;
  if (waitingFor) attributes[WaitAttribute.WAITING_FOR] = attr(waitingFor);
  if (ctx.notes.attentionAnnounced) attributes[WaitAttribute.ATTENTION] = attr('announced');
  try {
    await options.sqs.send(
      new SendMessageCommand({
        QueueUrl: options.queueUrlOf(record.eventSourceARN),
        MessageBody: record.body,
        MessageAttributes: attributes,
        DelaySeconds: delay,
      }),
    );
  } catch (sendError) {
    options.log.warn('could not re-enqueue a waiting message; it retries through its visibility timeout', {
      messageId: record.messageId,
      error: errorMessageOf(sendError),
    });
    return false;
  }
  options.onRetry?.(record, error);
  options.log.info('waiting for the vendor; message re-enqueued', {
    messageId: record.messageId,
    errorCode: errorCodeOf(error),
    error: errorMessageOf(error),
    attempt: ctx.attempt,
    waitingSince: attributes[WaitAttribute.WAITING_SINCE]?.StringValue,
    retryInSeconds: delay,
  });
  return true;
}

/**
 * What a parked message carries besides its body: why it failed (code, text, vendor code), whether a
 * redrive may help, where it came from and when. The runbook and `redrive` read these.
 */
export function dlqAttributes(error: unknown, sourceQueue: string): Record<string, MessageAttributeValue> {
  const code = errorCodeOf(error);
  const message = errorMessageOf(error).slice(0, MAX_ATTRIBUTE_TEXT);
  const attributes: Record<string, MessageAttributeValue> = {
    [DlqAttribute.ERROR_CODE]: attr(code),
    [DlqAttribute.ERROR_MESSAGE]: attr(message || code),
    [DlqAttribute.RETRYABLE]: attr(String(isRetryable(error))),
    [DlqAttribute.SOURCE_QUEUE]: attr(sourceQueue),
    [DlqAttribute.FAILED_AT]: attr(new Date().toISOString()),
  };
  if (error instanceof PipelineError && error.vendorCode)
    attributes[DlqAttribute.VENDOR_CODE] = attr(error.vendorCode);
  return attributes;
}

async function park(
  record: SQSRecord,
  error: unknown,
  ctx: RecordContext,
  options: BatchOptions,
): Promise<boolean> {
  const dlqUrl = options.dlqUrlFor(record);
  const code = errorCodeOf(error);
  const message = errorMessageOf(error).slice(0, MAX_ATTRIBUTE_TEXT);
  const log = {
    messageId: record.messageId,
    errorCode: code,
    error: message,
    receiveCount: ctx.receiveCount,
  };
  if (!dlqUrl) {
    options.log.error('no DLQ configured for this queue; leaving the message to the redrive policy', log);
    return false;
  }
  // A redrive starts afresh: the wait it carried so far is not counted against the horizon again.
  const {
    [WaitAttribute.ATTEMPTS]: _attempts,
    [WaitAttribute.WAITING_SINCE]: _since,
    [WaitAttribute.WAITING_FOR]: _for,
    ...kept
  } = originalAttributes(record);
  const attributes = { ...kept, ...dlqAttributes(error, record.eventSourceARN) };
  try {
    await options.sqs.send(
      new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: record.body, MessageAttributes: attributes }),
    );
    options.log.error(
      isRetryable(error) ? 'retries exhausted; parked in DLQ' : 'permanent failure; parked in DLQ',
      log,
    );
    return true;
  } catch (sendError) {
    options.log.error('could not park the message in its DLQ; it will be retried', {
      ...log,
      parkError: errorMessageOf(sendError),
    });
    return false;
  }
}

/**
 * `arn:aws:sqs:region:account:name` → `https://sqs.region.amazonaws.com/account/name` (the form the API
 * takes), or `<endpoint>/account/name` when a custom SQS endpoint is configured (local emulators).
 */
export function queueUrlFromArn(arn: string, endpoint?: string): string {
  const [, partition, , region, account, name] = arn.split(':');
  if (!region || !account || !name)
    throw new PermanentError(ErrorCode.PIPELINE_DEFECT, `not an SQS queue ARN: ${arn}`);
  if (endpoint) return `${endpoint.replace(/\/$/, '')}/${account}/${name}`;
  const suffix = partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://sqs.${region}.${suffix}/${account}/${name}`;
}
