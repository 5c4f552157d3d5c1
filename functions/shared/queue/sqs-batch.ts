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
  PipelineError,
  RetryableError,
} from '../errors';
import { DlqAttribute } from '../messages';
import type { CoreLogger } from '../observability';
import { backoffSeconds } from './backoff';

/** What a record handler knows about the delivery attempt it is in. */
export interface RecordContext {
  /** SQS ApproximateReceiveCount (1 on first delivery). */
  readonly receiveCount: number;
  /** This is the last receive before the queue would move the message to its DLQ. */
  readonly lastAttempt: boolean;
  /** The message was parked by this pipeline once and moved back (redrive): failed work may be retried. */
  readonly redrive: boolean;
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

  const runOne = async (record: SQSRecord): Promise<void> => {
    const receiveCount = Number(record.attributes.ApproximateReceiveCount ?? '1') || 1;
    const ctx: RecordContext = {
      receiveCount,
      lastAttempt: receiveCount >= options.maxReceiveCount,
      redrive: record.messageAttributes?.[DlqAttribute.ERROR_CODE] !== undefined,
    };
    try {
      await handle(record, ctx);
      return;
    } catch (error) {
      const retryable = isRetryable(error);
      if (retryable && !ctx.lastAttempt) {
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
  const attributes: Record<string, MessageAttributeValue> = {
    ...originalAttributes(record),
    [DlqAttribute.ERROR_CODE]: attr(code),
    [DlqAttribute.ERROR_MESSAGE]: attr(message || code),
    [DlqAttribute.RETRYABLE]: attr(String(isRetryable(error))),
    [DlqAttribute.SOURCE_QUEUE]: attr(record.eventSourceARN),
    [DlqAttribute.FAILED_AT]: attr(new Date().toISOString()),
  };
  if (error instanceof PipelineError && error.vendorCode)
    attributes[DlqAttribute.VENDOR_CODE] = attr(error.vendorCode);
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
    throw new RetryableError(ErrorCode.INTERNAL, `not an SQS queue ARN: ${arn}`);
  if (endpoint) return `${endpoint.replace(/\/$/, '')}/${account}/${name}`;
  const suffix = partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://sqs.${region}.${suffix}/${account}/${name}`;
}
