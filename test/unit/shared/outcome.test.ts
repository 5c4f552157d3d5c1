import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  DeliveryEventDetailSchema,
  errorFileKeyOf,
  outcomeDetail,
  resultKeyOf,
} from '../../../functions/shared/outcome';
import type { DeliveryRecord } from '../../../functions/shared/state/ledger';
import { EVENTS_SCHEMA_FILE, renderEventsSchema } from '../../../scripts/events-schema';

const record: DeliveryRecord = {
  pk: 'd#ingest/cleartax/sales/march.csv',
  sk: 'v#3HL4kq',
  deliveryId: 's3://ingest/cleartax/sales/march.csv?versionId=3HL4kq',
  bucket: 'ingest',
  key: 'cleartax/sales/march.csv',
  versionId: '3HL4kq',
  size: 37623,
  state: 'COMPLETED',
  routeId: 'cleartax-sales',
  vendor: 'cleartax-gst',
  attempts: 1,
  completionAttempts: 1,
  refs: { userFileName: 'march.csv', activityId: 'a1b2' },
  vendorState: 'ACTIVITY_DISCARDED',
  vendorPhase: 'failed',
  reason: 'VENDOR_JOB_FAILED',
  lastError:
    'the vendor job ended ACTIVITY_DISCARDED, see https://x.s3.amazonaws.com/e.csv?X-Amz-Signature=abcdef0123456789',
  outcome: 'failed',
  outcomeAt: '2026-12-05T10:04:31.201Z',
  createdAt: '2026-12-05T09:51:02.113Z',
  updatedAt: '2026-12-05T10:04:31.201Z',
  uploadedAt: '2026-12-05T09:51:03.020Z',
  completedAt: '2026-12-05T09:51:03.412Z',
};

describe('outcomeDetail', () => {
  it('describes a decided delivery in the documented, versioned shape', () => {
    const detail = outcomeDetail(
      { stackName: 'VendorIngest-prod', resultsPrefix: '_results/' },
      record,
      'failed',
      {
        stats: { total: 240, accepted: 0, rejected: 240 },
        errorFileKey: '_results/cleartax/sales/march.csv/3HL4kq.errors.csv',
      },
    );

    expect(DeliveryEventDetailSchema.parse(detail)).toEqual(detail);
    expect(detail).toMatchObject({
      schemaVersion: 1,
      eventId: `${record.deliveryId}#2026-12-05T10:04:31.201Z#failed`,
      outcome: 'failed',
      errorCode: 'VENDOR_JOB_FAILED',
      retryable: false,
      vendorId: 'a1b2',
      vendorJob: {
        state: 'ACTIVITY_DISCARDED',
        phase: 'failed',
        stats: { total: 240, accepted: 0, rejected: 240 },
      },
      resultDocument: 's3://ingest/_results/cleartax/sales/march.csv/3HL4kq.json',
      errorFile: 's3://ingest/_results/cleartax/sales/march.csv/3HL4kq.errors.csv',
      timings: { totalMs: 809_088 },
    });
    expect(detail.errorMessage).not.toContain('abcdef0123456789');
  });

  it('keys results by version, and an unversioned write by its identity', () => {
    expect(resultKeyOf('_r/', record)).toBe('_r/cleartax/sales/march.csv/3HL4kq.json');
    expect(resultKeyOf('_r/', { key: 'a/b.csv', sk: 'e#etag1#12#seq' })).toBe(
      '_r/a/b.csv/etag-etag1-12-seq.json',
    );
    expect(errorFileKeyOf('_r/', record, 'csv')).toBe('_r/cleartax/sales/march.csv/3HL4kq.errors.csv');
  });
});

describe('docs/events.schema.json', () => {
  it('is what the detail schema renders (npm run docs:events regenerates it)', () => {
    expect(readFileSync(EVENTS_SCHEMA_FILE, 'utf8')).toBe(renderEventsSchema());
  });
});
