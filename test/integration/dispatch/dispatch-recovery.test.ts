import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { type CompletionDeps, completionMessage } from '../../../functions/completion/completion';
import { ErrorCode, PipelineError, RetryableError } from '../../../functions/shared/errors';
import { CompletionMessageV1Schema } from '../../../functions/shared/messages';
import { MetricName } from '../../../functions/shared/observability';
import { DeliveryState, deliveryKeyOf } from '../../../functions/shared/state/ledger';
import {
  anInvocation,
  COMPLETION_QUEUE_URL,
  completionRecord,
  FailpointFired,
  noFailpoints,
  RecordingLogger,
  RecordingMetrics,
  receive,
  s3NotificationRecord,
  sha256Hex,
  TEST_BUCKET,
  testBytes,
  throwingFailpoint,
} from '../../support/fakes';
import { firstReceive, PREFIX, rejectionOf, uniqueKey, useDispatchHarness } from './harness';

const h = useDispatchHarness();

const LEASE_MS = 30_000;

describe('dispatchMessage when an upload URL expires', () => {
  it('asks the vendor for a fresh URL and delivers with it', async () => {
    const w = h.world();
    w.vendor.planNext('expired-url');
    const key = uniqueKey();
    const data = testBytes(4000);
    const stored = w.objects.put(key, data);

    await w.run(s3NotificationRecord([{ key, size: data.length, eTag: stored.eTag, versionId: 'v1' }]));

    expect(w.vendor.presigns).toHaveLength(2);
    expect(h.target.requests.map((r) => [r.path, r.status])).toEqual([
      [w.vendor.plannedPaths[0], 403],
      [w.vendor.plannedPaths[1], 200],
    ]);
    expect(h.target.requests[1]).toMatchObject({ bytes: data.length, sha256: sha256Hex(data) });
    const message = CompletionMessageV1Schema.parse(JSON.parse(h.sentBodies()[0] ?? ''));
    expect(message.refs).toEqual({ uploadId: 'upload-2' });
    expect(w.metrics.total(MetricName.Retries)).toBe(1);
  });

  it('gives up retryably after presignAttempts expired URLs, leaving the lease free for the next receive', async () => {
    const w = h.world();
    w.vendor.planNext('expired-url', 'expired-url', 'expired-url');
    const key = uniqueKey();
    const data = testBytes(100);
    const stored = w.objects.put(key, data);
    const object = { bucket: TEST_BUCKET, key, versionId: 'v1', eTag: stored.eTag };

    const error = await rejectionOf(w.run(s3NotificationRecord([{ ...object, size: data.length }])));

    expect(error).toMatchObject({ code: ErrorCode.UPLOAD_URL_EXPIRED, retryable: true });
    expect(w.vendor.presigns).toHaveLength(3);
    expect(await w.ledger.get(deliveryKeyOf(object))).toMatchObject({
      state: DeliveryState.UPLOADING,
      leaseUntil: 0,
      reason: ErrorCode.UPLOAD_URL_EXPIRED,
    });
    expect(h.sentBodies()).toHaveLength(0);
  });
});

describe('dispatchMessage after a crash between upload and completion message', () => {
  it('leaves the ledger UPLOADED with the completion message when the worker dies before enqueueing', async () => {
    const w = h.world({ failpoint: throwingFailpoint('dispatch:before-enqueue') });
    const key = uniqueKey();
    const data = testBytes(3000);
    const stored = w.objects.put(key, data);
    const object = { bucket: TEST_BUCKET, key, versionId: 'v1', eTag: stored.eTag };

    const error = await rejectionOf(
      w.run(s3NotificationRecord([{ ...object, size: data.length }]), firstReceive, anInvocation(LEASE_MS)),
    );

    expect(error).toBeInstanceOf(FailpointFired);
    const entry = await w.ledger.get(deliveryKeyOf(object));
    expect(entry?.state).toBe(DeliveryState.UPLOADED);
    expect(entry?.completionMessage).toEqual(expect.any(String));
    expect(h.sentBodies()).toHaveLength(0);
    expect(h.target.requests).toHaveLength(1);
  });

  it('re-sends the completion message from the ledger once the lease has expired, without uploading again', async () => {
    const w = h.world({ failpoint: throwingFailpoint('dispatch:before-enqueue') });
    const key = uniqueKey();
    const data = testBytes(3000);
    const stored = w.objects.put(key, data);
    const object = { bucket: TEST_BUCKET, key, versionId: 'v1', eTag: stored.eTag };
    const record = s3NotificationRecord([{ ...object, size: data.length }]);
    await rejectionOf(w.run(record, firstReceive, anInvocation(LEASE_MS)));
    const saved = (await w.ledger.get(deliveryKeyOf(object)))?.completionMessage;
    const getsBefore = h.s3Mock.commandCalls(GetObjectCommand).length;
    w.clock.advance(LEASE_MS + 1);

    await w.run(record, { ...firstReceive, receiveCount: 2 });

    expect(h.sentBodies()).toEqual([saved]);
    CompletionMessageV1Schema.parse(JSON.parse(saved ?? ''));
    const entry = await w.ledger.get(deliveryKeyOf(object));
    expect(entry?.state).toBe(DeliveryState.UPLOADED);
    expect(w.vendor.presigns).toHaveLength(1);
    expect(h.target.requests).toHaveLength(1);
    expect(h.s3Mock.commandCalls(GetObjectCommand)).toHaveLength(getsBefore);
  });
});

describe('dispatchMessage on retryable failures', () => {
  // A live worker that failed to enqueue keeps its lease until the invocation would have ended (up to
  // the function timeout + 5 s), so every redelivery meanwhile is LEASE_HELD and the message is parked
  // on its last receive; a failed send lapses the lease (dispatch.unsent) so the next receive re-sends.
  it('releases the lease when sending the completion message fails, so the next receive re-sends it', async () => {
    const w = h.world();
    h.sqsMock
      .on(SendMessageCommand)
      .rejectsOnce(new Error('socket hang up'))
      .resolves({ MessageId: 'sent-2' });
    const key = uniqueKey();
    const data = testBytes(100);
    const stored = w.objects.put(key, data);
    const object = { bucket: TEST_BUCKET, key, versionId: 'v1', eTag: stored.eTag };
    const record = s3NotificationRecord([{ ...object, size: data.length }]);
    const error = await rejectionOf(w.run(record, firstReceive, anInvocation(LEASE_MS)));

    await w.run(record, { ...firstReceive, receiveCount: 2 });

    expect(error).toMatchObject({ message: 'socket hang up' });
    expect(h.sentBodies()).toHaveLength(2);
    expect(h.sentBodies()[1]).toBe(h.sentBodies()[0]);
    expect(h.target.requests).toHaveLength(1);
  });

  it('releases the lease on a retryable failure, so the next receive delivers as attempt 2', async () => {
    const w = h.world();
    w.vendor.planNext({ throws: new RetryableError(ErrorCode.VENDOR_UNAVAILABLE, 'presign: HTTP 503') });
    const key = uniqueKey();
    const data = testBytes(100);
    const stored = w.objects.put(key, data);
    const object = { bucket: TEST_BUCKET, key, versionId: 'v1', eTag: stored.eTag };
    const record = s3NotificationRecord([{ ...object, size: data.length }]);
    const error = await rejectionOf(w.run(record));
    const afterFailure = await w.ledger.get(deliveryKeyOf(object));

    await w.run(record, { ...firstReceive, receiveCount: 2 });

    expect(error).toMatchObject({ code: ErrorCode.VENDOR_UNAVAILABLE, retryable: true });
    expect(afterFailure).toMatchObject({
      state: DeliveryState.UPLOADING,
      leaseUntil: 0,
      reason: ErrorCode.VENDOR_UNAVAILABLE,
    });
    expect(CompletionMessageV1Schema.parse(JSON.parse(h.sentBodies()[0] ?? '')).attempt).toBe(2);
    expect(await w.ledger.get(deliveryKeyOf(object))).toMatchObject({
      state: DeliveryState.UPLOADED,
      attempts: 2,
    });
    expect(w.metrics.total(MetricName.Retries)).toBe(1);
  });

  it('marks the ledger FAILED when a retryable failure of our own happens on the last receive', async () => {
    const w = h.world();
    w.vendor.planNext({ throws: new RetryableError(ErrorCode.INTERNAL, 'unexpected') });
    const key = uniqueKey();
    const data = testBytes(100);
    const stored = w.objects.put(key, data);
    const object = { bucket: TEST_BUCKET, key, versionId: 'v1', eTag: stored.eTag };

    const error = await rejectionOf(
      w.run(
        s3NotificationRecord([{ ...object, size: data.length }]),
        receive({ receiveCount: 3, lastAttempt: true }),
      ),
    );

    expect(error).toMatchObject({ code: ErrorCode.INTERNAL, retryable: true });
    expect(await w.ledger.get(deliveryKeyOf(object))).toMatchObject({
      state: DeliveryState.FAILED,
      reason: ErrorCode.INTERNAL,
      failedStep: 'dispatch',
      lastError: 'unexpected',
      outcome: 'failed',
    });
    expect(w.metrics.total(MetricName.FilesFailed, { vendor: 'fake', reason: ErrorCode.INTERNAL })).toBe(1);
  });

  it('keeps a vendor outage on the last receive waiting, and fails it only past the outage horizon', async () => {
    const w = h.world();
    const outage = () =>
      w.vendor.planNext({ throws: new RetryableError(ErrorCode.VENDOR_UNAVAILABLE, 'presign: HTTP 503') });
    const key = uniqueKey();
    const data = testBytes(100);
    const stored = w.objects.put(key, data);
    const object = { bucket: TEST_BUCKET, key, versionId: 'v1', eTag: stored.eTag };
    const record = s3NotificationRecord([{ ...object, size: data.length }]);
    outage();

    await rejectionOf(
      w.run(record, receive({ receiveCount: 3, lastAttempt: true, waitingSince: Date.now() })),
    );
    const waiting = await w.ledger.get(deliveryKeyOf(object));
    outage();
    await rejectionOf(w.run(record, receive({ receiveCount: 1, waitingSince: Date.now() - 2 * 86_400_000 })));

    expect(waiting).toMatchObject({ state: DeliveryState.UPLOADING, reason: ErrorCode.VENDOR_UNAVAILABLE });
    expect(await w.ledger.get(deliveryKeyOf(object))).toMatchObject({
      state: DeliveryState.FAILED,
      reason: ErrorCode.VENDOR_UNAVAILABLE,
    });
  });

  it('counts FilesReceived once per notification: not on the wake-ups of a waiting file, a retry or a redrive', async () => {
    const w = h.world();
    const key = uniqueKey();
    const data = testBytes(100);
    const stored = w.objects.put(key, data);
    const object = { bucket: TEST_BUCKET, key, versionId: 'v1', eTag: stored.eTag };
    const record = s3NotificationRecord([{ ...object, size: data.length }]);
    const outage = () =>
      w.vendor.planNext({ throws: new RetryableError(ErrorCode.VENDOR_UNAVAILABLE, 'presign: HTTP 503') });
    const since = Date.now();

    outage();
    await rejectionOf(w.run(record, firstReceive));
    const afterFirstReceipt = w.metrics.total(MetricName.FilesReceived, { vendor: 'fake' });
    outage();
    // Wake-ups of the re-enqueued message: attempts carried, the wait's start on it.
    await rejectionOf(w.run(record, receive({ attempt: 2, waitingSince: since })));
    outage();
    await rejectionOf(w.run(record, receive({ attempt: 3, waitingSince: since })));
    await w.run(record, receive({ attempt: 4, waitingSince: since }));
    // An unrouted key: first receipt, then its message received again and redriven.
    const unrouted = s3NotificationRecord([
      {
        bucket: TEST_BUCKET,
        key: `elsewhere/${uniqueKey().slice(PREFIX.length)}`,
        versionId: 'v1',
        eTag: 'e1',
        size: 10,
      },
    ]);
    await rejectionOf(w.run(unrouted, firstReceive));
    await rejectionOf(w.run(unrouted, receive({ receiveCount: 2 })));
    await rejectionOf(w.run(unrouted, receive({ redrive: true })));

    expect(afterFirstReceipt).toBe(1);
    expect((await w.ledger.get(deliveryKeyOf(object)))?.state).toBe(DeliveryState.UPLOADED);
    expect(w.metrics.total(MetricName.FilesReceived, { vendor: 'fake' })).toBe(1);
    expect(w.metrics.total(MetricName.FilesReceived, { vendor: 'unrouted' })).toBe(1);
    expect(w.metrics.total(MetricName.Retries, { vendor: 'fake' })).toBe(3);
  });

  it('treats a failed version as done for a duplicate, but delivers it again when the message is redriven', async () => {
    const w = h.world();
    w.vendor.planNext({ throws: new RetryableError(ErrorCode.INTERNAL, 'unexpected') });
    const key = uniqueKey();
    const data = testBytes(100);
    const stored = w.objects.put(key, data);
    const object = { bucket: TEST_BUCKET, key, versionId: 'v1', eTag: stored.eTag };
    const record = s3NotificationRecord([{ ...object, size: data.length }]);
    await rejectionOf(w.run(record, receive({ receiveCount: 3, lastAttempt: true, redrive: false })));

    await w.run(record, receive({ messageId: 'a-duplicate' }));
    const sentForDuplicate = h.sentBodies().length;
    await w.run(record, receive({ receiveCount: 1, lastAttempt: false, redrive: true }));

    expect(sentForDuplicate).toBe(0);
    expect(h.sentBodies()).toHaveLength(1);
    expect((await w.ledger.get(deliveryKeyOf(object)))?.state).toBe(DeliveryState.UPLOADED);
  });

  it('lets only one of two concurrent deliveries of the same notification upload', async () => {
    const w = h.world();
    const key = uniqueKey();
    const data = testBytes(50_000);
    const stored = w.objects.put(key, data);
    const record = s3NotificationRecord([{ key, size: data.length, eTag: stored.eTag, versionId: 'v1' }]);

    const outcomes = await Promise.allSettled([w.run(record), w.run(record)]);

    expect(h.target.requests).toHaveLength(1);
    expect(h.sentBodies()).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === 'fulfilled').length).toBeGreaterThanOrEqual(1);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') {
        expect(outcome.reason).toBeInstanceOf(PipelineError);
        expect(outcome.reason).toMatchObject({ code: ErrorCode.LEASE_HELD, retryable: true });
      }
    }
  });
});

describe('dispatchMessage with notifications that leave out optional fields', () => {
  /** The completion core over the same ledger, routes and vendor as `w`. */
  function completionOf(w: ReturnType<typeof h.world>): CompletionDeps {
    return {
      sqs: w.deps.sqs,
      ledger: w.ledger,
      routes: w.deps.routes,
      vendors: w.vendors,
      completionQueueUrl: COMPLETION_QUEUE_URL,
      metrics: new RecordingMetrics(),
      guard: w.deps.guard,
      announcer: w.deps.announcer,
      attentionAfterMs: w.deps.attentionAfterMs,
      s3: w.deps.s3,
      errorFileMaxBytes: 1024,
      failpoint: noFailpoints,
      statusFirstDelaySeconds: 10,
      statusMaxSeconds: 600,
    };
  }

  // S3EventRecord makes eTag optional; the ledger key is taken from the notification, but the
  // completion message carries the ETag S3 answered, so the completion looks up another key.
  it('lets the completion find the delivery of an unversioned object notified without an ETag', async () => {
    const w = h.world();
    const key = uniqueKey();
    const data = testBytes(100);
    w.objects.put(key, data);
    await w.run(s3NotificationRecord([{ key, size: data.length, sequencer: '0055AA' }]));
    const body = h.sentBodies()[0] ?? '';

    await completionMessage(
      completionOf(w),
      completionRecord(body),
      firstReceive,
      anInvocation(),
      new RecordingLogger(),
    );

    expect(w.vendor.completes).toHaveLength(1);
    const versions = await w.admin.listByKey(TEST_BUCKET, key);
    expect(versions.map((v) => v.state)).toEqual([DeliveryState.COMPLETED]);
  });

  // S3EventRecord makes size optional; the GetObject that follows knows the real size.
  it('delivers a non-empty object notified without a size', async () => {
    const w = h.world();
    const key = uniqueKey();
    const data = testBytes(100);
    const stored = w.objects.put(key, data);

    await w.run(s3NotificationRecord([{ key, eTag: stored.eTag, versionId: 'v1' }]));

    expect(h.s3Mock.commandCalls(GetObjectCommand)).toHaveLength(1);
    expect(h.s3Mock.commandCalls(HeadObjectCommand)).toHaveLength(0);
    expect(h.target.requests).toEqual([expect.objectContaining({ bytes: data.length })]);
  });
});
