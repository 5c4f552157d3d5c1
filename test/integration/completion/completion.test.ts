import { describe, expect, it } from 'vitest';
import { waitingNote } from '../../../cli/operations';
import {
  AmbiguousOutcomeError,
  ErrorCode,
  PermanentError,
  PipelineError,
  RetryableError,
} from '../../../functions/shared/errors';
import { StatusCheckMessageV1Schema } from '../../../functions/shared/messages';
import { MetricName } from '../../../functions/shared/observability';
import { DeliveryState } from '../../../functions/shared/state/ledger';
import { breakerKeyOf } from '../../../functions/shared/vendor-guard';
import {
  COMPLETION_QUEUE_URL,
  completionRecord,
  deferred,
  FailpointFired,
  receive,
  throwingFailpoint,
} from '../../support/fakes';
import {
  FIRST_STATUS_DELAY,
  firstReceive,
  LEASE_MS,
  ROUTE_ID,
  rejectionOf,
  useCompletionHarness,
} from './harness';

const h = useCompletionHarness();

function expectPermanent(error: unknown, code: string): void {
  expect(error).toBeInstanceOf(PipelineError);
  expect(error).toMatchObject({ code, retryable: false });
}

describe('completionMessage completing a delivery', () => {
  it('calls the vendor once with the file, upload and refs, and records COMPLETED with its refs', async () => {
    const w = h.world();
    const { key, message, record } = await w.uploaded();

    await w.run(record);

    expect(w.vendor.completes).toHaveLength(1);
    expect(w.vendor.completes[0]?.input).toEqual({
      file: expect.objectContaining({
        bucket: message.object.bucket,
        key: message.object.key,
        versionId: message.object.versionId,
        eTag: message.object.eTag,
        size: message.object.size,
        fileName: 'ledger.csv',
        extension: 'csv',
        contentType: 'text/csv',
      }),
      upload: message.upload,
      refs: { uploadId: 'upload-1' },
    });
    const entry = await w.ledger.get(key);
    expect(entry).toMatchObject({
      state: DeliveryState.COMPLETED,
      refs: { uploadId: 'upload-1', jobId: 'job-1' },
      vendorState: 'PROCESSING',
      completionAttempts: 1,
    });
    expect(entry?.completedAt).toEqual(expect.any(String));
    expect(entry?.leaseOwner).toBeUndefined();
    expect(w.metrics.total(MetricName.FilesCompleted, { vendor: 'fake' })).toBe(1);
    expect(w.log.find('completed')).toMatchObject({
      key: message.object.key,
      route: 'fake-reports',
      vendor: 'fake',
    });
  });

  it('does not call the vendor again when the same message is processed a second time, and announces its outcome again', async () => {
    const w = h.world();
    const { record } = await w.uploaded();
    await w.run(record);

    // The same message again: its first run may have died before announcing what it decided.
    await w.run(record, { ...firstReceive, receiveCount: 2 });
    // Another message about the same version (a duplicate sent by dispatch): a duplicate.
    await w.run(record, receive({ messageId: 'another-message' }));

    expect(w.vendor.completes).toHaveLength(1);
    expect(w.announcer.outcomes.map((o) => o.outcome)).toEqual(['succeeded', 'succeeded']);
    expect(w.metrics.total(MetricName.DuplicateNotifications)).toBe(1);
  });

  it('lets only one of two concurrent deliveries of the same message call the vendor', async () => {
    const w = h.world();
    const { key, record } = await w.uploaded();
    const gate = deferred();
    // The first call holds the lease (and the vendor call) open until the other attempt has finished.
    w.vendor.completeNext({
      run: async () => {
        await gate.promise;
        return { refs: { jobId: 'job-held' } };
      },
    });
    const attempts = [w.run(record), w.run(record)].map((p) =>
      p.then(
        () => ({ ok: true as const }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
    );

    await Promise.race(attempts);
    gate.resolve();
    const outcomes = await Promise.all(attempts);

    expect(w.vendor.completes).toHaveLength(1);
    expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
    const refused = outcomes.find((o) => !o.ok);
    expect(refused && !refused.ok && refused.error).toMatchObject({
      code: ErrorCode.LEASE_HELD,
      retryable: true,
    });
    expect((await w.ledger.get(key))?.state).toBe(DeliveryState.COMPLETED);
  });

  it('leaves the ledger UPLOADED after a retryable vendor error and completes on the next attempt', async () => {
    const w = h.world();
    const { key, record } = await w.uploaded();
    w.vendor.completeNext({ throws: new RetryableError(ErrorCode.VENDOR_UNAVAILABLE, 'complete: HTTP 503') });

    const error = await rejectionOf(w.run(record));
    const afterFailure = await w.ledger.get(key);
    await w.run(record, { ...firstReceive, receiveCount: 2 });

    expect(error).toMatchObject({ code: ErrorCode.VENDOR_UNAVAILABLE, retryable: true });
    expect(afterFailure).toMatchObject({
      state: DeliveryState.UPLOADED,
      reason: ErrorCode.VENDOR_UNAVAILABLE,
      lastError: 'complete: HTTP 503',
    });
    expect(afterFailure?.leaseOwner).toBeUndefined();
    expect(w.vendor.completes).toHaveLength(2);
    expect(await w.ledger.get(key)).toMatchObject({ state: DeliveryState.COMPLETED, completionAttempts: 2 });
    expect(w.metrics.total(MetricName.Retries)).toBe(1);
  });

  it('records a permanent vendor error as FAILED with its reason', async () => {
    const w = h.world();
    const { key, record } = await w.uploaded();
    const rejection = new PermanentError(ErrorCode.VENDOR_REJECTED, 'complete: HTTP 400 TEMPLATE_MISMATCH');
    w.vendor.completeNext({ throws: rejection });

    const error = await rejectionOf(w.run(record));

    expect(error).toBe(rejection);
    expect(await w.ledger.get(key)).toMatchObject({
      state: DeliveryState.FAILED,
      reason: ErrorCode.VENDOR_REJECTED,
      failedStep: 'complete',
      lastError: 'complete: HTTP 400 TEMPLATE_MISMATCH',
    });
    expect(w.metrics.total(MetricName.FilesFailed, { reason: ErrorCode.VENDOR_REJECTED })).toBe(1);
  });

  it('records a retryable error of our own on the last receive as FAILED', async () => {
    const w = h.world();
    const { key, record } = await w.uploaded();
    w.vendor.completeNext({ throws: new RetryableError(ErrorCode.INTERNAL, 'unexpected') });

    await rejectionOf(w.run(record, receive({ receiveCount: 3, lastAttempt: true, redrive: false })));

    expect(await w.ledger.get(key)).toMatchObject({
      state: DeliveryState.FAILED,
      reason: ErrorCode.INTERNAL,
      failedStep: 'complete',
      outcome: 'failed',
    });
  });

  it('keeps a vendor outage on the last receive waiting (back to UPLOADED), failing it only past the horizon', async () => {
    const w = h.world();
    const { key, record } = await w.uploaded();
    w.vendor.completeNext({ throws: new RetryableError(ErrorCode.VENDOR_UNAVAILABLE, 'complete: HTTP 502') });
    await rejectionOf(
      w.run(record, receive({ receiveCount: 3, lastAttempt: true, waitingSince: Date.now() })),
    );
    const waiting = await w.ledger.get(key);
    w.vendor.completeNext({ throws: new RetryableError(ErrorCode.VENDOR_UNAVAILABLE, 'complete: HTTP 502') });

    await rejectionOf(w.run(record, receive({ waitingSince: Date.now() - 2 * 86_400_000 })));

    expect(waiting).toMatchObject({ state: DeliveryState.UPLOADED, reason: ErrorCode.VENDOR_UNAVAILABLE });
    expect(await w.ledger.get(key)).toMatchObject({ state: DeliveryState.FAILED, failedStep: 'complete' });
  });

  it('calls the vendor again for a FAILED completion only when the message is redriven', async () => {
    const w = h.world();
    const { key, record } = await w.uploaded();
    w.vendor.completeNext({ throws: new PermanentError(ErrorCode.VENDOR_REJECTED, 'complete: HTTP 400') });
    await rejectionOf(w.run(record));

    await w.run(record, receive({ messageId: 'a-duplicate' }));
    const callsForDuplicate = w.vendor.completes.length;
    await w.run(record, receive({ receiveCount: 1, lastAttempt: false, redrive: true }));

    expect(callsForDuplicate).toBe(1);
    expect(w.vendor.completes).toHaveLength(2);
    expect((await w.ledger.get(key))?.state).toBe(DeliveryState.COMPLETED);
  });

  it('hands refs checkpointed by a failed attempt to the retry', async () => {
    const w = h.world();
    const { key, record } = await w.uploaded();
    w.vendor.completeNext({
      run: async (_input, ctx) => {
        await ctx.checkpoint({ partsCommitted: true, vendorUploadId: 'vu-9' });
        throw new RetryableError(ErrorCode.VENDOR_UNAVAILABLE, 'mark-complete: HTTP 503');
      },
    });
    await rejectionOf(w.run(record));

    await w.run(record, { ...firstReceive, receiveCount: 2 });

    expect(w.vendor.completes[1]?.input.refs).toEqual({
      uploadId: 'upload-1',
      partsCommitted: true,
      vendorUploadId: 'vu-9',
    });
    expect((await w.ledger.get(key))?.refs).toEqual({
      uploadId: 'upload-1',
      partsCommitted: true,
      vendorUploadId: 'vu-9',
      jobId: 'job-2',
    });
  });
});

describe('completionMessage while the vendor is down', () => {
  it('records once on the ledger what the completion waits for, so status shows it, and clears it when it flows', async () => {
    const w = h.world();
    const { key, record } = await w.uploaded();
    const route = w.deps.routes.byId(ROUTE_ID);
    if (!route) throw new Error('the test route is missing');
    const breakerKey = breakerKeyOf(route);
    const breakers = h.breakers();
    await breakers.openUntil(breakerKey, route.vendor, Date.now() + 3_600_000, 'test outage');
    const since = Date.now();
    let error: unknown;
    let waiting: Awaited<ReturnType<typeof w.ledger.get>>;
    let note: string | undefined;
    let afterWakeUp: Awaited<ReturnType<typeof w.ledger.get>>;
    try {
      error = await rejectionOf(w.run(record, firstReceive));
      waiting = await w.ledger.get(key);
      note = waiting ? waitingNote(waiting, await h.admin().listBreakers()) : undefined;
      w.clock.advance(60_000);
      // The re-enqueued message carries what it waits for: its wake-ups write nothing.
      await rejectionOf(w.run(record, receive({ attempt: 2, waitingSince: since, waitingFor: breakerKey })));
      afterWakeUp = await w.ledger.get(key);
    } finally {
      await breakers.success(breakerKey);
    }

    await w.run(record, receive({ attempt: 3, waitingSince: since, waitingFor: breakerKey }));

    expect(error).toMatchObject({ code: ErrorCode.VENDOR_DOWN, waitingFor: breakerKey });
    expect(waiting).toMatchObject({
      state: DeliveryState.UPLOADED,
      waitingFor: breakerKey,
      waitingSince: expect.any(String),
      reason: ErrorCode.VENDOR_DOWN,
    });
    expect(note).toMatch(new RegExp(`^waiting for ${route.vendor} \\(down since \\d{4}-`));
    expect(afterWakeUp?.updatedAt).toBe(waiting?.updatedAt);
    expect(w.vendor.completes).toHaveLength(1);
    const done = await w.ledger.get(key);
    expect(done?.state).toBe(DeliveryState.COMPLETED);
    expect(done).not.toHaveProperty('waitingFor');
    expect(done).not.toHaveProperty('waitingSince');
  });
});

describe('completionMessage when the vendor call has an unknown outcome', () => {
  const noAnswer = () =>
    new AmbiguousOutcomeError('complete POST https://api.example.com/complete: no answer');

  it('parks the delivery as COMPLETION_UNCERTAIN for a vendor without idempotency', async () => {
    const w = h.world({ completionIdempotent: false });
    const { key, record } = await w.uploaded();
    w.vendor.completeNext({ throws: noAnswer() });

    const error = await rejectionOf(w.run(record));
    const parked = await w.ledger.get(key);
    const counted = w.metrics.total(MetricName.CompletionUncertain, { vendor: 'fake' });
    const redelivered = await rejectionOf(w.run(record, { ...firstReceive, receiveCount: 2 }));

    expectPermanent(error, ErrorCode.COMPLETION_UNCERTAIN);
    expect((error as Error).cause).toBeInstanceOf(AmbiguousOutcomeError);
    expect(parked).toMatchObject({
      state: DeliveryState.COMPLETION_UNCERTAIN,
      reason: ErrorCode.COMPLETION_UNCERTAIN,
    });
    expect(counted).toBe(1);
    expectPermanent(redelivered, ErrorCode.COMPLETION_UNCERTAIN);
    expect(w.vendor.completes).toHaveLength(1);
  });

  it('retries the call for a vendor whose completion is idempotent', async () => {
    const w = h.world({ completionIdempotent: true });
    const { key, record } = await w.uploaded();
    const ambiguous = noAnswer();
    w.vendor.completeNext({ throws: ambiguous });

    const error = await rejectionOf(w.run(record));
    const afterFailure = await w.ledger.get(key);
    await w.run(record, { ...firstReceive, receiveCount: 2 });

    expect(error).toBe(ambiguous);
    expect(afterFailure?.state).toBe(DeliveryState.UPLOADED);
    expect(w.vendor.completes).toHaveLength(2);
    expect((await w.ledger.get(key))?.state).toBe(DeliveryState.COMPLETED);
    expect(w.metrics.total(MetricName.CompletionUncertain)).toBe(0);
  });

  it('retries the call when the route sets retryAmbiguousCompletion, whatever the adapter says', async () => {
    const w = h.world({ completionIdempotent: false, route: { retryAmbiguousCompletion: true } });
    const { key, record } = await w.uploaded();
    w.vendor.completeNext({ throws: noAnswer() });

    const error = await rejectionOf(w.run(record));
    await w.run(record, { ...firstReceive, receiveCount: 2 });

    expect(error).toMatchObject({ retryable: true });
    expect(w.vendor.completes).toHaveLength(2);
    expect((await w.ledger.get(key))?.state).toBe(DeliveryState.COMPLETED);
  });

  it('parks the delivery when the route turns retryAmbiguousCompletion off for an idempotent adapter', async () => {
    const w = h.world({ completionIdempotent: true, route: { retryAmbiguousCompletion: false } });
    const { key, record } = await w.uploaded();
    w.vendor.completeNext({ throws: noAnswer() });

    const error = await rejectionOf(w.run(record));

    expectPermanent(error, ErrorCode.COMPLETION_UNCERTAIN);
    expect((await w.ledger.get(key))?.state).toBe(DeliveryState.COMPLETION_UNCERTAIN);
  });
});

describe('completionMessage after a worker died during the vendor call', () => {
  it('does not call a non-idempotent vendor again once the dead worker’s lease has expired', async () => {
    const w = h.world({ completionIdempotent: false, failpoint: throwingFailpoint('completion:after-call') });
    const { key, record } = await w.uploaded();
    const crash = await rejectionOf(w.run(record));
    const whileLeased = await rejectionOf(w.run(record, { ...firstReceive, receiveCount: 2 }));
    w.clock.advance(LEASE_MS + 1);

    const afterLease = await rejectionOf(w.run(record, { ...firstReceive, receiveCount: 3 }));

    expect(crash).toBeInstanceOf(FailpointFired);
    expect(whileLeased).toMatchObject({ code: ErrorCode.LEASE_HELD, retryable: true });
    expectPermanent(afterLease, ErrorCode.COMPLETION_UNCERTAIN);
    expect(w.vendor.completes).toHaveLength(1);
    expect((await w.ledger.get(key))?.state).toBe(DeliveryState.COMPLETION_UNCERTAIN);
    expect(w.metrics.total(MetricName.CompletionUncertain)).toBe(1);
  });

  it('calls an idempotent vendor again once the dead worker’s lease has expired', async () => {
    const w = h.world({ completionIdempotent: true, failpoint: throwingFailpoint('completion:after-call') });
    const { key, record } = await w.uploaded();
    await rejectionOf(w.run(record));
    w.clock.advance(LEASE_MS + 1);

    await w.run(record, { ...firstReceive, receiveCount: 2 });

    expect(w.vendor.completes).toHaveLength(2);
    expect((await w.ledger.get(key))?.state).toBe(DeliveryState.COMPLETED);
  });
});

describe('completionMessage refusing a message', () => {
  it('fails a v2 message permanently with MALFORMED_MESSAGE naming the version', async () => {
    const w = h.world();
    const { message } = await w.uploaded();

    const error = await rejectionOf(w.run(completionRecord({ ...message, v: 2 })));

    expectPermanent(error, ErrorCode.MALFORMED_MESSAGE);
    expect((error as Error).message).toContain('version 2');
    expect(w.vendor.completes).toHaveLength(0);
  });

  it.each([
    ['a body that is not JSON', '{"v":1,'],
    ['JSON null', 'null'],
    ['a v1 message without its object', JSON.stringify({ v: 1, type: 'complete', deliveryId: 'd' })],
    ['an unknown message type', JSON.stringify({ v: 1, type: 'explode' })],
  ])('fails %s permanently with MALFORMED_MESSAGE', async (_name, body) => {
    const w = h.world();

    const error = await rejectionOf(w.run(completionRecord(body)));

    expectPermanent(error, ErrorCode.MALFORMED_MESSAGE);
    expect(w.vendors.secretReads).toEqual([]);
  });

  it('fails permanently when the route of the message is no longer configured', async () => {
    const w = h.world();
    const { message } = await w.uploaded();

    const error = await rejectionOf(w.run(completionRecord({ ...message, routeId: 'removed-route' })));

    expectPermanent(error, ErrorCode.ROUTE_CONFIG_INVALID);
    expect(w.vendor.completes).toHaveLength(0);
  });

  it('fails permanently when the ledger holds no entry for the delivery', async () => {
    const w = h.world();
    const { message } = await w.uploaded();
    const stranger = { ...message, object: { ...message.object, versionId: 'never-uploaded' } };

    const error = await rejectionOf(w.run(completionRecord(stranger)));

    expectPermanent(error, ErrorCode.STATE_INCONSISTENT);
    expect(w.vendor.completes).toHaveLength(0);
  });

  // The DLQ says why; the ledger should too, or `status` shows a parked delivery as waiting (UPLOADED).
  it('records a failure before the vendor call (secret gone) as FAILED in the ledger', async () => {
    const w = h.world();
    const { key, record } = await w.uploaded();
    w.vendors.secretValues.clear();

    const error = await rejectionOf(w.run(record));

    expectPermanent(error, ErrorCode.SECRET_NOT_FOUND);
    expect(await w.ledger.get(key)).toMatchObject({
      state: DeliveryState.FAILED,
      reason: ErrorCode.SECRET_NOT_FOUND,
      failedStep: 'complete',
    });
  });
});

/** The n-th message sent so far, fed back as a completion-queue record. */
function sentRecord(index: number) {
  return completionRecord(h.sent()[index]?.MessageBody ?? '');
}

describe('completionMessage polling the vendor job', () => {
  it('re-enqueues status checks with a growing delay while the job runs, then records the final state', async () => {
    const w = h.world({ withStatus: true, route: { pollStatus: true } });
    const { key, record } = await w.uploaded();
    w.vendor.statusNext(
      { phase: 'running', vendorState: 'QUEUED' },
      { phase: 'running', vendorState: 'VALIDATING' },
      { phase: 'succeeded', vendorState: 'ACTIVITY_COMPLETED', detail: { rows: 42 } },
    );

    await w.run(record);
    await w.run(sentRecord(0));
    const whileRunning = await w.ledger.get(key);
    await w.run(sentRecord(1));
    await w.run(sentRecord(2));

    const sent = h.sent();
    expect(sent.map((s) => s.QueueUrl)).toEqual([
      COMPLETION_QUEUE_URL,
      COMPLETION_QUEUE_URL,
      COMPLETION_QUEUE_URL,
    ]);
    expect(sent.map((s) => s.DelaySeconds)).toEqual([
      FIRST_STATUS_DELAY,
      FIRST_STATUS_DELAY * 2,
      FIRST_STATUS_DELAY * 4,
    ]);
    expect(sent.map((s) => StatusCheckMessageV1Schema.parse(JSON.parse(s.MessageBody ?? '')).check)).toEqual([
      0, 1, 2,
    ]);
    // Intermediate job states cost a write per poll and are not recorded: the ledger keeps the state the
    // trigger answered with until the verdict.
    expect(whileRunning).toMatchObject({ vendorPhase: 'running', vendorState: 'PROCESSING' });
    expect(await w.ledger.get(key)).toMatchObject({
      state: DeliveryState.COMPLETED,
      vendorPhase: 'succeeded',
      vendorState: 'ACTIVITY_COMPLETED',
      vendorDetail: { rows: 42 },
    });
    expect(w.vendor.statusChecks).toHaveLength(3);
    expect(w.vendor.statusChecks[0]?.result).toEqual({ uploadId: 'upload-1', jobId: 'job-1' });
    expect(w.metrics.total(MetricName.VendorJobSucceeded)).toBe(1);
  });

  it('caps the delay at SQS’s 900-second maximum', async () => {
    const w = h.world({ withStatus: true, route: { pollStatus: true } });
    const { record } = await w.uploaded();
    w.vendor.statusNext({ phase: 'running', vendorState: 'QUEUED' });
    await w.run(record);
    const check = StatusCheckMessageV1Schema.parse(JSON.parse(h.sent()[0]?.MessageBody ?? ''));

    await w.run(completionRecord({ ...check, check: 10 }));

    expect(h.sent()[1]?.DelaySeconds).toBe(900);
  });

  it('records a failed vendor job with its state as the metric reason', async () => {
    const w = h.world({ withStatus: true, route: { pollStatus: true } });
    const { key, record } = await w.uploaded();
    w.vendor.statusNext({ phase: 'failed', vendorState: 'SYSTEM_FEEDBACK', detail: { error: 'bad column' } });
    await w.run(record);

    await w.run(sentRecord(0));

    expect(h.sent()).toHaveLength(1);
    expect(await w.ledger.get(key)).toMatchObject({ vendorPhase: 'failed', vendorState: 'SYSTEM_FEEDBACK' });
    expect(w.metrics.total(MetricName.VendorJobFailed, { reason: 'SYSTEM_FEEDBACK' })).toBe(1);
  });

  it('stops polling a job still running at the polling deadline', async () => {
    const w = h.world({ withStatus: true, route: { pollStatus: true }, statusMaxSeconds: 0 });
    const { key, record } = await w.uploaded();
    w.vendor.statusNext({ phase: 'running', vendorState: 'QUEUED' });
    await w.run(record);

    await w.run(sentRecord(0));

    expect(h.sent()).toHaveLength(1);
    expect(await w.ledger.get(key)).toMatchObject({ vendorPhase: 'running', vendorState: 'QUEUED' });
  });

  it('does not poll when the route turns pollStatus off', async () => {
    const w = h.world({ withStatus: true, route: { pollStatus: false } });
    const { record } = await w.uploaded();

    await w.run(record);

    expect(h.sent()).toHaveLength(0);
  });

  it('skips a status check for a delivery that is not completed', async () => {
    const w = h.world({ withStatus: true, route: { pollStatus: true } });
    const { message } = await w.uploaded();
    const check = {
      v: 1,
      type: 'status',
      deliveryId: message.deliveryId,
      routeId: message.routeId,
      check: 0,
      deadline: new Date(Date.now() + 60_000).toISOString(),
      completion: message,
    };

    await w.run(completionRecord(check));

    expect(w.vendor.statusChecks).toHaveLength(0);
    expect(h.sent()).toHaveLength(0);
  });
});
