import { describe, expect, it } from 'vitest';
import { quantile, summarize } from '../../../cli/stats';
import type { DeliveryRecord } from '../../../functions/shared/state/ledger';

const HOUR = 3_600_000;
const from = Date.parse('2026-03-01T00:00:00.000Z');
const window = { from, to: from + 2 * HOUR, bucketMs: HOUR };

function record(minute: number, fields: Partial<DeliveryRecord>): DeliveryRecord {
  const createdAt = new Date(from + minute * 60_000).toISOString();
  return {
    pk: `d#b/k${minute}`,
    sk: 'v#1',
    deliveryId: `k${minute}`,
    bucket: 'b',
    key: `k${minute}`,
    state: 'COMPLETED',
    createdAt,
    updatedAt: createdAt,
    ...fields,
  };
}

const doneAt = (minute: number, ms: number) => new Date(from + minute * 60_000 + ms).toISOString();

describe('vendor figures from ledger records', () => {
  it('nearest-rank quantiles', () => {
    expect(quantile([], 0.5)).toBeNull();
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.95)).toBe(10);
  });

  it('counts files, failures and latency per bucket and over the window', () => {
    const records = [
      record(5, { outcome: 'succeeded', size: 1000, completedAt: doneAt(5, 1000) }),
      record(10, { outcome: 'succeeded', size: 3000, completedAt: doneAt(10, 3000) }),
      record(20, { state: 'FAILED', outcome: 'failed', reason: 'VENDOR_REJECTED' }),
      record(70, { state: 'COMPLETION_UNCERTAIN', outcome: 'attention' }),
      record(80, { state: 'COMPLETED', size: 500, completedAt: doneAt(80, 2000) }), // vendor verdict pending
      record(90, { state: 'UPLOADING' }),
      record(200, { outcome: 'succeeded' }), // outside the window
    ];
    const s = summarize('cleartax-gst', ['cleartax-sales'], records, window);
    expect(s).toMatchObject({
      files: 6,
      succeeded: 2,
      failed: 1,
      attention: 1,
      inFlight: 2,
      failureRate: 1 / 3,
    });
    expect(s.filesPerHour).toBe(3);
    expect(s.p50Ms).toBe(2000);
    expect(s.p95Ms).toBe(3000);
    expect(s.bytesPerSecond).toBeCloseTo(4500 / 7200);
    expect(s.buckets).toHaveLength(2);
    expect(s.buckets[0]).toMatchObject({ filesPerHour: 3, failedPerHour: 1, p50Ms: 1000, p95Ms: 3000 });
    expect(s.buckets[1]).toMatchObject({ filesPerHour: 3, failedPerHour: 0, p50Ms: 2000 });
  });

  it('has no failure rate or latency when nothing settled', () => {
    const s = summarize('inspect', ['inspect-photos'], [record(1, { state: 'UPLOADING' })], window);
    expect(s).toMatchObject({ failureRate: null, p50Ms: null, p95Ms: null, inFlight: 1 });
  });
});
