import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, PermanentError, RetryableError } from '../../../../functions/shared/errors';
import { DlqAttribute } from '../../../../functions/shared/messages';
import {
  type BatchOptions,
  processSqsBatch,
  queueUrlFromArn,
  type RecordContext,
} from '../../../../functions/shared/queue/sqs-batch';
import {
  FAKE_SIGNATURE,
  INTAKE_QUEUE_ARN,
  RecordingLogger,
  receive,
  sqsRecord,
  TEST_REGION,
} from '../../../support/fakes';

const sqsMock = mockClient(SQSClient);
const sqs = new SQSClient({ region: TEST_REGION });
const DLQ_URL = 'https://sqs.ap-south-1.amazonaws.com/123456789012/vendor-ingest-intake-dlq';
const INTAKE_URL = 'https://sqs.ap-south-1.amazonaws.com/123456789012/vendor-ingest-intake';

afterAll(() => {
  sqsMock.restore();
});

beforeEach(() => {
  sqsMock.reset();
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'dlq-1' });
  sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
});

function options(extra: Partial<BatchOptions> = {}): BatchOptions {
  return {
    sqs,
    log: new RecordingLogger(),
    dlqUrlFor: () => DLQ_URL,
    queueUrlOf: (arn) => queueUrlFromArn(arn),
    maxReceiveCount: 100,
    retryBaseSeconds: 10,
    retryMaxSeconds: 900,
    concurrency: 4,
    random: () => 0.5,
    ...extra,
  };
}

function records(count: number, receiveCount = 1): SQSRecord[] {
  return Array.from({ length: count }, (_, i) =>
    sqsRecord(`{"n":${i}}`, { messageId: `m${i}`, receiveCount }),
  );
}

const visibilityCalls = () =>
  sqsMock.commandCalls(ChangeMessageVisibilityCommand).map((c) => c.args[0].input);
const dlqSends = () => sqsMock.commandCalls(SendMessageCommand).map((c) => c.args[0].input);

describe('processSqsBatch partial batch responses', () => {
  it('lists exactly the one failing record among good ones', async () => {
    const batch = records(5);

    const result = await processSqsBatch(
      batch,
      async (record) => {
        if (record.messageId === 'm2') throw new RetryableError(ErrorCode.NETWORK, 'reset');
      },
      options(),
    );

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }] });
    expect(visibilityCalls().map((c) => c.ReceiptHandle)).toEqual(['receipt-m2']);
  });

  it('acknowledges a batch whose records all succeed', async () => {
    const result = await processSqsBatch(records(3), async () => undefined, options());

    expect(result).toEqual({ batchItemFailures: [] });
    expect(sqsMock.calls()).toHaveLength(0);
  });
});

describe('processSqsBatch parking permanent failures', () => {
  it('sends a permanent failure to the DLQ with its reason and the original attributes, and acknowledges it', async () => {
    const record = sqsRecord('{"original":"body"}', {
      messageId: 'p1',
      messageAttributes: {
        deliveryId: { dataType: 'String', stringValue: 's3://b/k?versionId=v1' },
        hops: { dataType: 'Number', stringValue: '2' },
      },
    });
    const parked: string[] = [];

    const result = await processSqsBatch(
      [record],
      async () => {
        throw new PermanentError(ErrorCode.VENDOR_REJECTED, 'presign: HTTP 400 BAD_TEMPLATE', {
          vendorCode: 'BAD_TEMPLATE',
        });
      },
      options({ onParked: (r) => parked.push(r.messageId) }),
    );

    expect(result.batchItemFailures).toEqual([]);
    expect(parked).toEqual(['p1']);
    const sends = dlqSends();
    expect(sends).toHaveLength(1);
    expect(sends[0]).toMatchObject({
      QueueUrl: DLQ_URL,
      MessageBody: '{"original":"body"}',
      MessageAttributes: {
        deliveryId: { DataType: 'String', StringValue: 's3://b/k?versionId=v1' },
        hops: { DataType: 'Number', StringValue: '2' },
        [DlqAttribute.ERROR_CODE]: { DataType: 'String', StringValue: ErrorCode.VENDOR_REJECTED },
        [DlqAttribute.ERROR_MESSAGE]: { DataType: 'String', StringValue: 'presign: HTTP 400 BAD_TEMPLATE' },
        [DlqAttribute.RETRYABLE]: { DataType: 'String', StringValue: 'false' },
        [DlqAttribute.SOURCE_QUEUE]: { DataType: 'String', StringValue: INTAKE_QUEUE_ARN },
        [DlqAttribute.VENDOR_CODE]: { DataType: 'String', StringValue: 'BAD_TEMPLATE' },
      },
    });
    const failedAt = sends[0]?.MessageAttributes?.[DlqAttribute.FAILED_AT]?.StringValue ?? '';
    expect(new Date(failedAt).toISOString()).toBe(failedAt);
    expect(visibilityCalls()).toHaveLength(0);
  });

  it('keeps presigned URL signatures out of the DLQ error message and cuts it to 1024 characters', async () => {
    const url = `https://bucket.s3.amazonaws.com/k?X-Amz-Signature=${FAKE_SIGNATURE}`;

    await processSqsBatch(
      records(1),
      async () => {
        throw new PermanentError(ErrorCode.UPLOAD_REJECTED, `upload to ${url}: HTTP 400 ${'x'.repeat(3000)}`);
      },
      options(),
    );

    const text = dlqSends()[0]?.MessageAttributes?.[DlqAttribute.ERROR_MESSAGE]?.StringValue ?? '';
    expect(text).toContain('X-Amz-Signature=%5BREDACTED%5D');
    expect(text).not.toContain(FAKE_SIGNATURE);
    expect(text).toHaveLength(1024);
  });

  it('replaces the reason of a message parked before (redriven, failed again)', async () => {
    const record = sqsRecord('{}', {
      messageAttributes: {
        [DlqAttribute.ERROR_CODE]: { dataType: 'String', stringValue: ErrorCode.VENDOR_UNAVAILABLE },
        [DlqAttribute.RETRYABLE]: { dataType: 'String', stringValue: 'true' },
      },
    });

    await processSqsBatch(
      [record],
      async () => {
        throw new PermanentError(ErrorCode.VENDOR_REJECTED, 'rejected');
      },
      options(),
    );

    expect(dlqSends()[0]?.MessageAttributes).toMatchObject({
      [DlqAttribute.ERROR_CODE]: { StringValue: ErrorCode.VENDOR_REJECTED },
      [DlqAttribute.RETRYABLE]: { StringValue: 'false' },
    });
  });

  it('lists a permanent failure as failed when the DLQ send fails, so it is not lost', async () => {
    sqsMock.on(SendMessageCommand).rejects(new Error('AccessDenied'));
    const log = new RecordingLogger();

    const result = await processSqsBatch(
      records(2),
      async (record) => {
        if (record.messageId === 'm1') throw new PermanentError(ErrorCode.NO_ROUTE, 'no route');
      },
      options({ log }),
    );

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
    expect(log.find('could not park the message in its DLQ; it will be retried')).toMatchObject({
      messageId: 'm1',
      errorCode: ErrorCode.NO_ROUTE,
    });
  });

  it('lists a permanent failure as failed when no DLQ is configured for its queue', async () => {
    const result = await processSqsBatch(
      records(1),
      async () => {
        throw new PermanentError(ErrorCode.NO_ROUTE, 'no route');
      },
      options({ dlqUrlFor: () => undefined }),
    );

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'm0' }]);
    expect(dlqSends()).toHaveLength(0);
  });
});

describe('processSqsBatch retrying retryable failures', () => {
  // Full jitter: floor(random × (min(cap, base × 2^(n−1)) + 1)), here random 0.5, base 10 s, cap 900 s.
  it.each([
    [1, 5],
    [2, 10],
    [3, 20],
    [4, 40],
    [5, 80],
  ])('sets the visibility of a record on receive %i to %i seconds', async (receiveCount, seconds) => {
    const result = await processSqsBatch(
      records(1, receiveCount),
      async () => {
        throw new RetryableError(ErrorCode.INTERNAL, 'unexpected');
      },
      options(),
    );

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'm0' }]);
    expect(visibilityCalls()).toEqual([
      { QueueUrl: INTAKE_URL, ReceiptHandle: 'receipt-m0', VisibilityTimeout: seconds },
    ]);
  });

  it.each([
    [0, 0],
    [0.999, 900],
  ])('keeps the delay within 0 and the cap (random %d → %i s on receive 9)', async (random, seconds) => {
    await processSqsBatch(
      records(1, 9),
      async () => {
        throw new RetryableError(ErrorCode.NETWORK, 'S3 reset');
      },
      options({ random: () => random }),
    );

    expect(visibilityCalls()[0]?.VisibilityTimeout).toBe(seconds);
  });

  it('waits at least as long as a server’s Retry-After', async () => {
    await processSqsBatch(
      records(1),
      async () => {
        throw new RetryableError(ErrorCode.LEASE_HELD, 'busy', { retryAfterMs: 120_500 });
      },
      options({ random: () => 0 }),
    );

    expect(visibilityCalls()[0]?.VisibilityTimeout).toBe(121);
  });

  it('does not shorten the jittered delay for a shorter Retry-After', async () => {
    await processSqsBatch(
      records(1, 3),
      async () => {
        throw new RetryableError(ErrorCode.LEASE_HELD, 'busy', { retryAfterMs: 1_000 });
      },
      options(),
    );

    expect(visibilityCalls()[0]?.VisibilityTimeout).toBe(20);
  });

  it('retries an unknown error like a retryable one', async () => {
    const result = await processSqsBatch(
      records(1),
      async () => {
        throw new TypeError('cannot read properties of undefined');
      },
      options(),
    );

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'm0' }]);
    expect(visibilityCalls()).toHaveLength(1);
    expect(dlqSends()).toHaveLength(0);
  });

  it('still lists a retryable failure when setting its visibility fails', async () => {
    sqsMock.on(ChangeMessageVisibilityCommand).rejects(new Error('ReceiptHandleIsInvalid'));

    const result = await processSqsBatch(
      records(1),
      async () => {
        throw new RetryableError(ErrorCode.NETWORK, 'reset');
      },
      options(),
    );

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'm0' }]);
  });

  it('parks a retryable failure on the last receive with retryable=true and acknowledges it', async () => {
    const retried: string[] = [];

    const result = await processSqsBatch(
      records(1, 3),
      async () => {
        throw new RetryableError(ErrorCode.INTERNAL, 'still broken');
      },
      options({ maxReceiveCount: 3, onRetry: (r) => retried.push(r.messageId) }),
    );

    expect(result.batchItemFailures).toEqual([]);
    expect(retried).toEqual([]);
    expect(visibilityCalls()).toHaveLength(0);
    expect(dlqSends()[0]?.MessageAttributes).toMatchObject({
      [DlqAttribute.ERROR_CODE]: { StringValue: ErrorCode.INTERNAL },
      [DlqAttribute.RETRYABLE]: { StringValue: 'true' },
    });
  });
});

describe('processSqsBatch waiting out a vendor-side failure', () => {
  const NOW = Date.parse('2026-12-05T12:00:00Z');
  const waiting = (since?: string, attempts?: number) =>
    sqsRecord('{"n":1}', {
      messageId: 'w1',
      receiveCount: 1,
      messageAttributes: {
        ...(since ? { viWaitingSince: { dataType: 'String', stringValue: since } } : {}),
        ...(attempts ? { viAttempts: { dataType: 'Number', stringValue: String(attempts) } } : {}),
      },
    });
  const sends = () => sqsMock.commandCalls(SendMessageCommand).map((c) => c.args[0].input);

  it('re-enqueues the message with a delay and its attempt count, acknowledging the one received', async () => {
    const seen: RecordContext[] = [];
    const result = await processSqsBatch(
      [waiting(undefined, 4)],
      async (_record, ctx) => {
        seen.push(ctx);
        throw new RetryableError(ErrorCode.VENDOR_UNAVAILABLE, 'presign: HTTP 503');
      },
      options({ now: () => NOW, random: () => 0.5 }),
    );

    expect(result.batchItemFailures).toEqual([]);
    expect(visibilityCalls()).toHaveLength(0);
    expect(seen[0]).toMatchObject({ attempt: 5, waitingSince: undefined });
    expect(sends()).toEqual([
      {
        QueueUrl: INTAKE_URL,
        MessageBody: '{"n":1}',
        DelaySeconds: 160, // attempt 5: min(300, 10 × 2^4) × (0.8 + 0.4 × 0.5)
        MessageAttributes: {
          viAttempts: { DataType: 'Number', StringValue: '5' },
          viWaitingSince: { DataType: 'String', StringValue: new Date(NOW).toISOString() },
        },
      },
    ]);
  });

  it('comes back about every waitSeconds while the breaker is open, whatever the attempt', async () => {
    await processSqsBatch(
      [waiting('2026-12-05T11:00:00.000Z', 40)],
      async () => {
        throw new RetryableError(ErrorCode.VENDOR_DOWN, 'breaker open', { retryAfterMs: 5_000 });
      },
      options({ now: () => NOW, random: () => 1, waitSeconds: 300 }),
    );

    expect(sends()[0]).toMatchObject({
      DelaySeconds: 360,
      MessageAttributes: { viWaitingSince: { StringValue: '2026-12-05T11:00:00.000Z' } },
    });
  });

  it('keeps a Retry-After, up to the wait cap', async () => {
    await processSqsBatch(
      [waiting()],
      async () => {
        throw new RetryableError(ErrorCode.VENDOR_THROTTLED, '429', { retryAfterMs: 30_000 });
      },
      options({ now: () => NOW, random: () => 0 }),
    );
    await processSqsBatch(
      [waiting()],
      async () => {
        throw new RetryableError(ErrorCode.TOKEN_BUDGET_EXHAUSTED, 'spent', { retryAfterMs: 6 * 3_600_000 });
      },
      options({ now: () => NOW, random: () => 0, waitSeconds: 900 }),
    );

    expect(sends().map((s) => s.DelaySeconds)).toEqual([30, 900]);
  });

  it('keeps a floor under the wait of a throttled file: a 1 s Retry-After does not wake it every second', async () => {
    await processSqsBatch(
      [waiting('2026-12-05T11:00:00.000Z', 30)],
      async () => {
        throw new RetryableError(ErrorCode.VENDOR_THROTTLED, '429', { retryAfterMs: 1_000 });
      },
      options({ now: () => NOW, random: () => 0, waitSeconds: 300 }),
    );
    await processSqsBatch(
      [waiting()],
      async () => {
        throw new RetryableError(ErrorCode.VENDOR_UNAVAILABLE, '503');
      },
      options({ now: () => NOW, random: () => 0, waitSeconds: 300 }),
    );

    // 0.8 × waitSeconds once the ramp is over; 0.8 × the base on a first wait.
    expect(sends().map((s) => s.DelaySeconds)).toEqual([240, 8]);
  });

  it('carries what the message waits for while the breaker refuses it, and drops it once an attempt got past the breaker', async () => {
    const waitingFor = (value?: string) =>
      sqsRecord('{"n":1}', {
        messageId: 'w1',
        messageAttributes: value ? { viWaitingFor: { dataType: 'String', stringValue: value } } : {},
      });
    await processSqsBatch(
      [waitingFor()],
      async () => {
        throw new RetryableError(ErrorCode.VENDOR_DOWN, 'breaker open', { waitingFor: 'fake:secret' });
      },
      options({ now: () => NOW }),
    );
    // A probe: the breaker let it through and the vendor failed (taking the lease cleared the ledger's note).
    await processSqsBatch(
      [waitingFor('fake:secret')],
      async () => {
        throw new RetryableError(ErrorCode.VENDOR_UNAVAILABLE, 'presign: HTTP 503');
      },
      options({ now: () => NOW }),
    );

    expect(sends().map((s) => s.MessageAttributes?.viWaitingFor?.StringValue)).toEqual([
      'fake:secret',
      undefined,
    ]);
  });

  it('does not spend receives: a waiting message on the last receive is re-enqueued, not parked', async () => {
    const result = await processSqsBatch(
      [sqsRecord('{"n":1}', { messageId: 'w1', receiveCount: 3 })],
      async () => {
        throw new RetryableError(ErrorCode.VENDOR_UNREACHABLE, 'ECONNREFUSED');
      },
      options({ maxReceiveCount: 3, now: () => NOW }),
    );

    expect(result.batchItemFailures).toEqual([]);
    expect(sends()).toHaveLength(1);
    expect(sends()[0]?.QueueUrl).toBe(INTAKE_URL);
  });

  it('parks the message once it has waited past the outage horizon, without the wait attributes', async () => {
    await processSqsBatch(
      [waiting('2026-12-04T11:59:59.000Z', 90)],
      async () => {
        throw new RetryableError(ErrorCode.VENDOR_DOWN, 'breaker open');
      },
      options({ now: () => NOW, outageHorizonSeconds: 86_400 }),
    );

    expect(sends()[0]?.QueueUrl).toBe(DLQ_URL);
    expect(sends()[0]?.MessageAttributes).toMatchObject({
      [DlqAttribute.ERROR_CODE]: { StringValue: ErrorCode.VENDOR_DOWN },
      [DlqAttribute.RETRYABLE]: { StringValue: 'true' },
    });
    expect(sends()[0]?.MessageAttributes).not.toHaveProperty('viWaitingSince');
  });

  it('falls back to a visibility delay when the re-enqueue fails', async () => {
    sqsMock.on(SendMessageCommand).rejects(new Error('throttled'));

    const result = await processSqsBatch(
      [waiting()],
      async () => {
        throw new RetryableError(ErrorCode.VENDOR_UNAVAILABLE, '503');
      },
      options({ now: () => NOW }),
    );

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'w1' }]);
    expect(visibilityCalls()).toHaveLength(1);
  });
});

describe('processSqsBatch within the invocation', () => {
  it('hands records beyond the time budget back unprocessed, visible again at once', async () => {
    const handled: string[] = [];
    let remaining = 60_000;

    const result = await processSqsBatch(
      records(3),
      async (record) => {
        handled.push(record.messageId);
        remaining = 500;
      },
      options({ concurrency: 1, remainingMs: () => remaining, minStartMs: 1_000 }),
    );

    expect(handled).toEqual(['m0']);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }, { itemIdentifier: 'm2' }]);
    expect(visibilityCalls()).toEqual([
      { QueueUrl: INTAKE_URL, ReceiptHandle: 'receipt-m1', VisibilityTimeout: 0 },
      { QueueUrl: INTAKE_URL, ReceiptHandle: 'receipt-m2', VisibilityTimeout: 0 },
    ]);
  });

  it.each([1, 3, 10])('works on at most %i records at once', async (concurrency) => {
    let inFlight = 0;
    let maxInFlight = 0;
    const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

    const result = await processSqsBatch(
      records(10),
      async () => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await tick();
        await tick();
        inFlight--;
      },
      options({ concurrency }),
    );

    expect(result.batchItemFailures).toEqual([]);
    expect(maxInFlight).toBe(concurrency);
  });

  it('tells the handler the receive count, whether it is the last, and whether the message was redriven', async () => {
    const seen: Record<string, RecordContext> = {};
    const batch = [
      sqsRecord('{}', { messageId: 'fresh', receiveCount: 1 }),
      sqsRecord('{}', { messageId: 'last', receiveCount: 5 }),
      sqsRecord('{}', {
        messageId: 'redriven',
        receiveCount: 2,
        messageAttributes: { [DlqAttribute.ERROR_CODE]: { dataType: 'String', stringValue: 'NETWORK' } },
      }),
    ];

    await processSqsBatch(
      batch,
      async (record, ctx) => {
        seen[record.messageId] = ctx;
      },
      options({ maxReceiveCount: 5 }),
    );

    expect(seen).toEqual({
      fresh: receive({ messageId: 'fresh', receiveCount: 1, waitingSince: undefined }),
      last: receive({ messageId: 'last', receiveCount: 5, lastAttempt: true, waitingSince: undefined }),
      redriven: receive({ messageId: 'redriven', receiveCount: 2, redrive: true, waitingSince: undefined }),
    });
  });
});

describe('queueUrlFromArn', () => {
  it('refuses what is not a queue ARN as a pipeline defect, which retrying cannot fix', () => {
    let thrown: unknown;
    try {
      queueUrlFromArn('not-an-arn');
    } catch (error) {
      thrown = error;
    }

    expect(thrown).toBeInstanceOf(PermanentError);
    expect(thrown).toMatchObject({ code: ErrorCode.PIPELINE_DEFECT, retryable: false });
  });

  it('maps a queue ARN to its URL, on AWS or on a custom endpoint', () => {
    expect(queueUrlFromArn(INTAKE_QUEUE_ARN)).toBe(INTAKE_URL);
    expect(queueUrlFromArn(INTAKE_QUEUE_ARN, 'http://127.0.0.1:5000/')).toBe(
      'http://127.0.0.1:5000/123456789012/vendor-ingest-intake',
    );
    expect(queueUrlFromArn('arn:aws-cn:sqs:cn-north-1:123456789012:q')).toBe(
      'https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q',
    );
  });
});
