import { GetObjectCommand, GetObjectTaggingCommand, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import {
  type DeliveryEventDetail,
  DeliveryEventDetailSchema,
  resultKeyOf,
} from '../../functions/shared/outcome';
import { functionLog } from './support/faults';
import { assertInvariant, FAST, s3NotificationBody, useLocalPipeline } from './support/harness';
import { INSPECT_ASSETS, jpegBody, latestRecord, waitFor } from './support/inputs';

/**
 * The vendor's verdict reaches whoever dropped the file: one EventBridge event per end state (read here
 * from the stack's events queue, an EventBridge rule → SQS on the embedded AWS), a result document
 * next to the files, tags on the source version, the vendor's file of rejected rows brought home.
 */

const e2e = useLocalPipeline();
// Jobs that outlast polling: the deadline ends them VENDOR_STATUS_UNKNOWN.
const slow = useLocalPipeline({
  overrides: { ...FAST, statusPollFirstSeconds: 1, statusPollMaxSeconds: 3 },
  sandbox: { jobDurationMs: 120_000 },
});

interface OutcomeEvent {
  readonly 'detail-type': string;
  readonly source: string;
  readonly detail: DeliveryEventDetail;
}

/** Every event the pipeline announced so far, drained from its events queue (kept per pipeline). */
const seen = new WeakMap<object, OutcomeEvent[]>();
async function events(pipeline: typeof e2e): Promise<OutcomeEvent[]> {
  const all = seen.get(pipeline) ?? [];
  seen.set(pipeline, all);
  const url = pipeline.pipeline.resources.eventsQueueUrl;
  if (!url) throw new Error('the local stage has no events queue (events.queue)');
  for (;;) {
    const out = await pipeline.pipeline.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    const messages = out.Messages ?? [];
    if (messages.length === 0) return all;
    for (const m of messages) {
      all.push(JSON.parse(m.Body ?? '{}') as OutcomeEvent);
      await pipeline.pipeline.clients.sqs.send(
        new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle }),
      );
    }
  }
}

/** The events about one key, once at least `count` have arrived. */
async function eventsFor(pipeline: typeof e2e, key: string, count = 1, timeoutMs = 60_000) {
  return waitFor(
    `${count} event(s) about ${key}`,
    async () => {
      const about = (await events(pipeline)).filter((e) => e.detail.key === key);
      return about.length >= count ? about : undefined;
    },
    timeoutMs,
  );
}

async function objectText(pipeline: typeof e2e, key: string): Promise<Buffer> {
  const out = await pipeline.pipeline.clients.s3.send(
    new GetObjectCommand({ Bucket: pipeline.pipeline.resources.bucket, Key: key }),
  );
  return Buffer.from(
    await (out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
}

/** A GST sales register in the examples' columns, with GSTINs as given (the sandbox checks them). */
function register(gstins: readonly string[], tag: string): string {
  const header =
    'Invoice Number,Invoice Date,Document Type,Customer GSTIN,Customer Name,Place of Supply,HSN Code,Item Description,Quantity,Unit Price,Taxable Value,GST Rate,CGST Amount,SGST Amount,IGST Amount,Invoice Total';
  return [
    header,
    ...gstins.map(
      (gstin, i) =>
        `INV/${tag}/${i + 1},02-03-2026,Invoice,${gstin},"Buyer ${i}",27-Maharashtra,8471,Laptop,1,100.00,100.00,18,9.00,9.00,0.00,118.00`,
    ),
  ].join('\n');
}
const VALID = '27AAACR5055K1Z7';
const INVALID = '27AAACR5055K1Z8'; // wrong check character

let n = 0;
const tag = (what: string) => `${what}-${++n}-${Date.now()}`;

describe('the outcome of a delivery, back to whoever dropped it', () => {
  it('a success: one Delivery Succeeded event, a result document with the same detail, the outcome tags', async () => {
    const file = await e2e.drop(`inspect/${INSPECT_ASSETS[0]}/`, 'verdict-ok.jpg', jpegBody(tag('ok')));

    const [event] = await eventsFor(e2e, file.key);
    const record = await latestRecord(e2e, file.key);

    expect(event).toMatchObject({ source: 'vendor-ingest', 'detail-type': 'Delivery Succeeded' });
    const detail = DeliveryEventDetailSchema.parse(event?.detail);
    expect(detail).toMatchObject({
      schemaVersion: 1,
      key: file.key,
      versionId: record?.versionId,
      route: 'inspect-photos',
      vendor: 'inspect',
      outcome: 'succeeded',
      state: 'COMPLETED',
      vendorId: record?.refs?.fileId,
      note: expect.stringContaining('publishes no job status'),
    });
    const documentKey = resultKeyOf('_results/', {
      key: file.key,
      versionId: record?.versionId,
      sk: record?.sk ?? '',
    });
    expect(detail.resultDocument).toBe(`s3://${e2e.pipeline.resources.bucket}/${documentKey}`);
    expect(JSON.parse((await objectText(e2e, documentKey)).toString('utf8'))).toEqual(detail);
    const tags = await e2e.pipeline.clients.s3.send(
      new GetObjectTaggingCommand({
        Bucket: e2e.pipeline.resources.bucket,
        Key: file.key,
        VersionId: record?.versionId,
      }),
    );
    expect(Object.fromEntries((tags.TagSet ?? []).map((t) => [t.Key, t.Value]))).toEqual({
      'vendor-ingest-state': 'succeeded',
      'vendor-ingest-vendor-id': String(record?.refs?.fileId),
    });
    // Tagging and the result document triggered no delivery: one version, one ledger entry.
    const versions = await e2e.pipeline.clients.s3.send(
      new ListObjectVersionsCommand({ Bucket: e2e.pipeline.resources.bucket, Prefix: file.key }),
    );
    expect(versions.Versions).toHaveLength(1);
    expect(await e2e.pipeline.ledger.listByKey(e2e.pipeline.resources.bucket, file.key)).toHaveLength(1);
    await assertInvariant(e2e, [file]);
  });

  it('rejected rows: the vendor’s statistics in the event and its error file copied byte-exact next to the result', async () => {
    const file = await e2e.drop(
      'cleartax/sales/',
      'verdict-rows.csv',
      register([VALID, INVALID, VALID], tag('rows')),
    );

    const [event] = await eventsFor(e2e, file.key);
    const record = await latestRecord(e2e, file.key);

    expect(event?.['detail-type']).toBe('Delivery Succeeded');
    const detail = DeliveryEventDetailSchema.parse(event?.detail);
    expect(detail.vendorJob).toMatchObject({
      state: 'ACTIVITY_COMPLETED',
      phase: 'succeeded',
      stats: { total: 3, accepted: 2, rejected: 1 },
    });
    expect(detail.errorFile).toMatch(/\/_results\/cleartax\/sales\/.*\.errors\.csv$/);
    const copied = await objectText(e2e, (detail.errorFile ?? '').replace(/^s3:\/\/[^/]+\//, ''));
    const served = e2e.pipeline.sandbox.downloads({ ref: String(record?.refs?.activityId) });
    expect(served).toHaveLength(1);
    expect(copied.equals(Buffer.from(served[0]?.body ?? ''))).toBe(true);
    expect(copied.toString('utf8')).toContain(INVALID);
    // The error file's link reads the vendor's copy of the data: the ledger and the event keep it
    // without its signature (the upload URL kept for a resent completion is write-only and short-lived).
    expect(JSON.stringify(record?.vendorDetail)).toContain('errorFileUrl');
    expect(JSON.stringify(record?.vendorDetail)).not.toMatch(/X-Amz-Signature=[0-9a-f]{8}/);
    expect(JSON.stringify(event)).not.toMatch(/X-Amz-Signature=[0-9a-f]{8}/);
    await assertInvariant(e2e, [file]);
  });

  it('a register the vendor discards: Delivery Failed with VENDOR_JOB_FAILED, nothing parked, the error file home', async () => {
    const file = await e2e.drop(
      'cleartax/purchase/',
      'verdict-bad.csv',
      register([INVALID, INVALID], tag('bad')),
      {
        expectFailure: true,
      },
    );

    const [event] = await eventsFor(e2e, file.key);

    expect(event?.['detail-type']).toBe('Delivery Failed');
    expect(event?.detail).toMatchObject({
      outcome: 'failed',
      errorCode: 'VENDOR_JOB_FAILED',
      retryable: false,
      vendorJob: { state: 'ACTIVITY_DISCARDED', stats: { accepted: 0, rejected: 2 } },
    });
    expect(event?.detail.errorFile).toEqual(expect.stringContaining('.errors.csv'));
  });

  it('a parked failure: Delivery Failed with the DLQ’s reason', async () => {
    const file = await e2e.drop('cleartax/sales/', 'verdict-refused.pdf', '%PDF-1.4 refused', {
      expectFailure: true,
      contentType: 'application/pdf',
    });

    const [event] = await eventsFor(e2e, file.key);

    expect(event).toMatchObject({
      'detail-type': 'Delivery Failed',
      detail: { outcome: 'failed', errorCode: 'FILE_REJECTED', retryable: false, state: 'FAILED' },
    });
  });

  it('an uncertain completion: Delivery Needs Attention', async () => {
    e2e.pipeline.sandbox.faults.inject({
      vendor: 'cleartax-gst',
      operation: 'complete',
      times: 1,
      action: { kind: 'reset-after-commit' },
    });
    const file = await e2e.drop('cleartax/sales/', 'verdict-uncertain.csv', register([VALID], tag('unc')), {
      expectFailure: true,
    });

    const [event] = await eventsFor(e2e, file.key);

    expect(event).toMatchObject({
      'detail-type': 'Delivery Needs Attention',
      detail: { outcome: 'attention', errorCode: 'COMPLETION_UNCERTAIN', state: 'COMPLETION_UNCERTAIN' },
    });
  });

  it('exactly one event per end state, however many times S3 announces the file', async () => {
    const file = await e2e.drop(`inspect/${INSPECT_ASSETS[1]}/`, 'verdict-dup.jpg', jpegBody(tag('dup')));
    await eventsFor(e2e, file.key);
    const record = await latestRecord(e2e, file.key);
    const again = s3NotificationBody(e2e.pipeline.resources.bucket, [
      { key: file.key, size: file.bytes, eTag: record?.eTag },
    ]);

    for (let i = 0; i < 3; i++) await e2e.sendRaw('inspect-photos', again);
    await waitFor(
      'the duplicates to be handled',
      () =>
        functionLog(e2e).filter(
          (l) =>
            l.message === 'duplicate notification: this version is already handled' && l.key === file.key,
        ).length >= 3,
      30_000,
    );
    await new Promise((r) => setTimeout(r, 1500));

    expect(await eventsFor(e2e, file.key)).toHaveLength(1);
  });
});

describe('a vendor job that outlasts polling', () => {
  it('ends VENDOR_STATUS_UNKNOWN at the deadline, announced as needing attention, with its metric', async () => {
    const file = await slow.drop('cleartax-one/sales/', 'verdict-slow.csv', register([VALID], tag('slow')));

    const [event] = await eventsFor(slow, file.key, 1, 90_000);

    expect(event).toMatchObject({
      'detail-type': 'Delivery Needs Attention',
      detail: {
        outcome: 'attention',
        errorCode: 'VENDOR_STATUS_UNKNOWN',
        state: 'COMPLETED',
        vendorJob: { phase: 'running' },
      },
    });
    const metric = functionLog(slow).find(
      (l) => l._aws !== undefined && l.Vendor === 'cleartax-one' && l.VendorStatusUnknown === 1,
    );
    expect(metric).toBeDefined();
  });
});
