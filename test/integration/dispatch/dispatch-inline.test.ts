import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import {
  AmbiguousOutcomeError,
  ErrorCode,
  PermanentError,
  RetryableError,
} from '../../../functions/shared/errors';
import { CompletionMessageV1Schema, StatusCheckMessageV1Schema } from '../../../functions/shared/messages';
import { MetricName } from '../../../functions/shared/observability';
import { DeliveryState, deliveryKeyOf } from '../../../functions/shared/state/ledger';
import {
  COMPLETION_DLQ_URL,
  COMPLETION_QUEUE_URL,
  s3NotificationRecord,
  TEST_BUCKET,
  testBytes,
} from '../../support/fakes';
import { firstReceive, rejectionOf, uniqueKey, useDispatchHarness } from './harness';

const h = useDispatchHarness();

/** Drops one file under the test route and returns its ledger key and notification. */
function dropped(w: ReturnType<typeof h.world>, size = 4000) {
  const key = uniqueKey();
  const data = testBytes(size);
  const stored = w.objects.put(key, data);
  const object = { bucket: TEST_BUCKET, key, versionId: 'v-1', eTag: stored.eTag };
  return {
    ledgerKey: deliveryKeyOf(object),
    record: s3NotificationRecord([{ ...object, size: data.length }]),
  };
}

const states = (record: { history?: ReadonlyArray<{ state: string }> } | undefined) =>
  (record?.history ?? []).map((entry) => entry.state);

describe('dispatchMessage completing at once (completeInline)', () => {
  it('calls the vendor’s completion itself: three ledger writes, no completion message, one secret read', async () => {
    const w = h.world({ completeInline: true });
    const { ledgerKey, record } = dropped(w);

    await w.run(record);

    const entry = await w.ledger.get(ledgerKey);
    expect(entry).toMatchObject({
      state: DeliveryState.COMPLETED,
      outcome: 'succeeded',
      refs: { uploadId: 'upload-1', jobId: 'job-1' },
      completionAttempts: 1,
    });
    expect(entry?.leaseOwner).toBeUndefined();
    // One write per history entry: begin, uploaded-and-completing, completed.
    expect(states(entry)).toEqual([
      DeliveryState.UPLOADING,
      DeliveryState.COMPLETING,
      DeliveryState.COMPLETED,
    ]);
    expect(h.sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(w.vendor.completes).toHaveLength(1);
    expect(w.vendor.completes[0]?.input.refs).toEqual({ uploadId: 'upload-1' });
    expect(w.vendors.secretReads).toHaveLength(1);
    expect(w.metrics.total(MetricName.FilesUploaded)).toBe(1);
    expect(w.metrics.total(MetricName.FilesCompleted)).toBe(1);
    expect(w.announcer.outcomes.map((o) => o.outcome)).toEqual(['succeeded']);
  });

  it('schedules the first status check of a polled route on the completion queue', async () => {
    const w = h.world({ completeInline: true, withStatus: true, route: { pollStatus: true } });
    const { ledgerKey, record } = dropped(w);

    await w.run(record);

    const sends = h.sqsMock.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    expect(sends).toHaveLength(1);
    expect(sends[0]?.QueueUrl).toBe(COMPLETION_QUEUE_URL);
    expect(sends[0]?.DelaySeconds).toBe(60);
    expect(StatusCheckMessageV1Schema.parse(JSON.parse(sends[0]?.MessageBody ?? ''))).toMatchObject({
      check: 0,
    });
    expect(await w.ledger.get(ledgerKey)).toMatchObject({
      vendorPhase: 'running',
      vendorState: 'PROCESSING',
    });
  });

  it('schedules the first status check again when its message comes back after the check could not be sent', async () => {
    const w = h.world({ completeInline: true, withStatus: true, route: { pollStatus: true } });
    const { ledgerKey, record } = dropped(w);
    h.sqsMock
      .on(SendMessageCommand)
      .rejectsOnce(new Error('SQS throttled'))
      .resolves({ MessageId: 'sent-2' });

    const failed = await rejectionOf(w.run(record));
    const afterFailure = await w.ledger.get(ledgerKey);
    await w.run(record, { ...firstReceive, receiveCount: 2 });

    expect(failed).toBeInstanceOf(Error);
    expect(afterFailure).toMatchObject({ state: DeliveryState.COMPLETED, vendorPhase: 'running' });
    const sends = h.sqsMock.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    expect(sends).toHaveLength(2);
    expect(StatusCheckMessageV1Schema.parse(JSON.parse(sends[1]?.MessageBody ?? ''))).toMatchObject({
      check: 0,
    });
    expect(w.vendor.completes).toHaveLength(1);
  });

  it('does not schedule a status check for a delivery the completion queue completed', async () => {
    const w = h.world({ completeInline: false, withStatus: true, route: { pollStatus: true } });
    const { ledgerKey, record } = dropped(w);
    await w.run(record);
    await w.ledger.beginCompletion(ledgerKey, {
      owner: 'c',
      leaseMs: 30_000,
      retryAmbiguous: false,
      redrive: false,
    });
    await w.ledger.markCompleted(ledgerKey, 'c', {
      refs: { jobId: 'job-9' },
      vendorState: 'QUEUED',
      vendorPhase: 'running',
    });

    await w.run(record, { ...firstReceive, receiveCount: 2 });

    expect(h.sentBodies()).toHaveLength(1);
    expect(w.metrics.total(MetricName.DuplicateNotifications)).toBe(1);
  });

  it('hands a definite vendor failure to the completion queue: UPLOADED, the stored message sent, the intake message done', async () => {
    const w = h.world({ completeInline: true });
    const { ledgerKey, record } = dropped(w);
    w.vendor.completeNext({ throws: new RetryableError(ErrorCode.VENDOR_UNAVAILABLE, 'complete: HTTP 503') });

    await w.run(record);

    const entry = await w.ledger.get(ledgerKey);
    expect(entry?.state).toBe(DeliveryState.UPLOADED);
    expect(entry?.leaseOwner).toBeUndefined();
    const sent = h.sentBodies();
    expect(sent).toEqual([entry?.completionMessage]);
    expect(CompletionMessageV1Schema.parse(JSON.parse(sent[0] ?? ''))).toMatchObject({ type: 'complete' });
    expect(w.metrics.total(MetricName.Retries)).toBe(1);
    // The queued message takes the completion lease as any other.
    const next = await w.ledger.beginCompletion(ledgerKey, {
      owner: 'completion',
      leaseMs: 30_000,
      retryAmbiguous: false,
      redrive: false,
    });
    expect(next.outcome).toBe('acquired');
  });

  it('decides a refusal at once: FAILED at the complete step, announced, the message parked in the completion DLQ', async () => {
    const w = h.world({ completeInline: true });
    const { ledgerKey, record } = dropped(w);
    w.vendor.completeNext({
      throws: new PermanentError(ErrorCode.VENDOR_REJECTED, 'complete: HTTP 400', { vendorCode: 'BAD_FILE' }),
    });

    await w.run(record);

    const entry = await w.ledger.get(ledgerKey);
    expect(entry).toMatchObject({
      state: DeliveryState.FAILED,
      reason: ErrorCode.VENDOR_REJECTED,
      failedStep: 'complete',
      outcome: 'failed',
    });
    const sends = h.sqsMock.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    expect(sends).toHaveLength(1);
    expect(sends[0]).toMatchObject({ QueueUrl: COMPLETION_DLQ_URL, MessageBody: entry?.completionMessage });
    expect(sends[0]?.MessageAttributes).toMatchObject({
      errorCode: { StringValue: ErrorCode.VENDOR_REJECTED },
      retryable: { StringValue: 'false' },
      vendorCode: { StringValue: 'BAD_FILE' },
      sourceQueue: { StringValue: COMPLETION_QUEUE_URL },
    });
    expect(w.vendor.completes).toHaveLength(1);
    expect(w.announcer.outcomes.map((o) => o.outcome)).toEqual(['failed']);
    expect(w.metrics.total(MetricName.FilesFailed)).toBe(1);
  });

  it('completes through the queue when too little of the invocation is left for the vendor’s calls', async () => {
    const w = h.world({ completeInline: true, completeInlineMinMs: 10 * 60_000 });
    const { ledgerKey, record } = dropped(w);

    await w.run(record);

    expect((await w.ledger.get(ledgerKey))?.state).toBe(DeliveryState.UPLOADED);
    expect(h.sentBodies()).toHaveLength(1);
    expect(w.vendor.completes).toHaveLength(0);
  });

  it('leaves an unanswered call of a vendor without idempotency COMPLETING, for the completion queue to park', async () => {
    const w = h.world({ completeInline: true, completionIdempotent: false });
    const { ledgerKey, record } = dropped(w);
    w.vendor.completeNext({ throws: new AmbiguousOutcomeError('complete: no answer') });

    await w.run(record);

    const entry = await w.ledger.get(ledgerKey);
    expect(entry).toMatchObject({
      state: DeliveryState.COMPLETING,
      leaseUntil: 0,
      reason: ErrorCode.VENDOR_UNREACHABLE,
    });
    expect(h.sentBodies()).toEqual([entry?.completionMessage]);
    const next = await w.ledger.beginCompletion(ledgerKey, {
      owner: 'completion',
      leaseMs: 30_000,
      retryAmbiguous: false,
      redrive: false,
    });
    expect(next.outcome).toBe('uncertain');
    expect(w.vendor.completes).toHaveLength(1);
  });

  it('returns an unanswered call of an idempotent vendor to UPLOADED, so the completion queue calls again', async () => {
    const w = h.world({ completeInline: true, completionIdempotent: true });
    const { ledgerKey, record } = dropped(w);
    w.vendor.completeNext({ throws: new AmbiguousOutcomeError('complete: no answer') });

    await w.run(record);

    expect((await w.ledger.get(ledgerKey))?.state).toBe(DeliveryState.UPLOADED);
    expect(h.sentBodies()).toHaveLength(1);
  });

  it('holds a duplicate notification back while it completes, and hands an unexpected error over', async () => {
    const w = h.world({ completeInline: true });
    const { ledgerKey, record } = dropped(w);
    let duplicate: unknown;
    w.vendor.completeNext({
      run: async (_input, _ctx, call) => {
        duplicate = await rejectionOf(w.run(record));
        throw new Error(`crash during call ${call}`);
      },
    });

    await w.run(record);

    expect(duplicate).toMatchObject({ code: ErrorCode.LEASE_HELD });
    // The crash above is an unexpected error: handed over like any failure, nothing lost.
    expect((await w.ledger.get(ledgerKey))?.state).toBe(DeliveryState.UPLOADED);
    expect(h.sentBodies()).toHaveLength(1);
  });
});
