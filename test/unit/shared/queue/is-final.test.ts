import { describe, expect, it } from 'vitest';
import { ErrorCode, RetryableError } from '../../../../functions/shared/errors';
import { isFinal, type RecordContext } from '../../../../functions/shared/queue/sqs-batch';

function context(waitingSince: number): RecordContext {
  return {
    messageId: 'm-1',
    receiveCount: 1,
    attempt: 9,
    lastAttempt: false,
    redrive: false,
    waitingSince,
    horizonMs: 12_000,
    notes: { attentionAnnounced: false },
  };
}

describe('isFinal', () => {
  it('gives the handler and the batch boundary one answer for one failure, though the horizon passes between them', () => {
    // Prepare: the handler judges 1 ms before the horizon, the boundary 100 ms later.
    const ctx = context(1_000_000);
    const error = new RetryableError(ErrorCode.VENDOR_UNAVAILABLE, 'presign: HTTP 500');

    // Act
    const byHandler = isFinal(ctx, error, 1_000_000 + 11_999);
    const byBoundary = isFinal(ctx, error, 1_000_000 + 12_099);

    // Assess
    expect(byHandler).toBe(false);
    expect(byBoundary).toBe(false);
  });

  it('judges another failure of the same message afresh', () => {
    // Prepare
    const ctx = context(1_000_000);
    isFinal(ctx, new RetryableError(ErrorCode.VENDOR_UNAVAILABLE, 'first'), 1_000_000 + 1_000);

    // Act
    const later = isFinal(
      ctx,
      new RetryableError(ErrorCode.VENDOR_UNAVAILABLE, 'second'),
      1_000_000 + 13_000,
    );

    // Assess
    expect(later).toBe(true);
  });
});
