import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { ErrorCode, PipelineError, RetryableError } from '../../../functions/shared/errors';
import { CompletionMessageV1Schema } from '../../../functions/shared/messages';
import { MetricName } from '../../../functions/shared/observability';
import { DeliveryState, deliveryKeyOf } from '../../../functions/shared/state/ledger';
import {
  COMPLETION_QUEUE_URL,
  FAKE_SIGNATURE,
  md5Hex,
  planTo,
  s3NotificationRecord,
  s3TestEventRecord,
  sha256Hex,
  sqsRecord,
  TEST_BUCKET,
  testBytes,
} from '../../support/fakes';
import {
  firstReceive,
  PREFIX,
  ROUTE_ID,
  rejectionOf,
  SECRET_ID,
  uniqueKey,
  useDispatchHarness,
} from './harness';

const h = useDispatchHarness();

/** Expects a permanent pipeline error with `code`. */
function expectPermanent(error: unknown, code: string): void {
  expect(error).toBeInstanceOf(PipelineError);
  expect(error).toMatchObject({ code, retryable: false });
}

describe('dispatchMessage delivering a file', () => {
  it('streams the file byte-exact to the vendor URL and sends one v1 completion message', async () => {
    const w = h.world();
    const key = uniqueKey('march sales.csv');
    const data = testBytes(300_000, 3);
    const stored = w.objects.put(key, data, 'text/csv');
    const record = s3NotificationRecord([{ key, size: data.length, eTag: stored.eTag, sequencer: '0A1B2C' }]);

    await w.run(record);

    expect(h.target.requests).toEqual([
      expect.objectContaining({
        path: w.vendor.plannedPaths[0],
        bytes: data.length,
        sha256: sha256Hex(data),
        outcome: 'stored',
      }),
    ]);
    expect(h.target.requests[0]?.headers['content-type']).toBe('text/csv');
    const sends = h.sqsMock.commandCalls(SendMessageCommand);
    expect(sends).toHaveLength(1);
    expect(sends[0]?.args[0].input.QueueUrl).toBe(COMPLETION_QUEUE_URL);
    const body = sends[0]?.args[0].input.MessageBody ?? '';
    const message = CompletionMessageV1Schema.parse(JSON.parse(body));
    expect(message).toMatchObject({
      v: 1,
      type: 'complete',
      routeId: ROUTE_ID,
      vendor: 'fake',
      object: { bucket: TEST_BUCKET, key, eTag: stored.eTag, size: data.length, sequencer: '0A1B2C' },
      fileName: 'march sales.csv',
      contentType: 'text/csv',
      refs: { uploadId: 'upload-1' },
      attempt: 1,
      upload: { kind: 'single', eTag: `"${md5Hex(data)}"` },
    });
    expect(message.deliveryId).toContain(key);
    expect(sends[0]?.args[0].input.MessageAttributes?.deliveryId?.StringValue).toBe(message.deliveryId);
    // The presigned URL is a credential: only its unsigned form travels on.
    expect(message.upload.url).toBe(h.target.urlFor(w.vendor.plannedPaths[0] ?? ''));
    expect(message.upload.signedUrl).toBeUndefined();
    expect(body).not.toContain(FAKE_SIGNATURE);
  });

  it('leaves the ledger UPLOADED with the completion message, the dispatch lease ended', async () => {
    const w = h.world();
    const key = uniqueKey();
    const data = testBytes(1000);
    const stored = w.objects.put(key, data);
    const object = { bucket: TEST_BUCKET, key, versionId: 'v-1', eTag: stored.eTag };

    await w.run(s3NotificationRecord([{ ...object, size: data.length }]));

    const entry = await w.ledger.get(deliveryKeyOf(object));
    expect(entry).toMatchObject({
      state: DeliveryState.UPLOADED,
      routeId: ROUTE_ID,
      vendor: 'fake',
      attempts: 1,
      refs: { uploadId: 'upload-1' },
      completionMessage: h.sentBodies()[0],
    });
    expect(entry?.leaseOwner).toBeUndefined();
    expect(w.metrics.total(MetricName.FilesUploaded)).toBe(1);
    expect(w.metrics.total(MetricName.BytesUploaded)).toBe(data.length);
  });

  it('never uploads again for a duplicate notification; an uploaded version gets its stored completion message again', async () => {
    const w = h.world();
    const key = uniqueKey();
    const data = testBytes(2000);
    const stored = w.objects.put(key, data);
    const notified = { key, size: data.length, eTag: stored.eTag, versionId: 'v-7' };
    await w.run(s3NotificationRecord([notified]));

    await w.run(s3NotificationRecord([notified]), { ...firstReceive, messageId: 'message-2' });
    // While a completion worker holds the version, a duplicate comes back when its lease ends.
    await w.ledger.beginCompletion(deliveryKeyOf({ ...notified, bucket: TEST_BUCKET }), {
      owner: 'completion',
      leaseMs: 60_000,
      retryAmbiguous: false,
      redrive: false,
    });
    const held = await w.run(s3NotificationRecord([notified])).catch((error: unknown) => error);

    expect(h.target.requests).toHaveLength(1);
    expect(w.vendor.presigns).toHaveLength(1);
    const sent = h.sentBodies();
    expect(sent).toHaveLength(2);
    expect(sent[1]).toBe(sent[0]);
    expect(held).toMatchObject({ code: ErrorCode.LEASE_HELD });
    expect((held as { retryAfterMs?: number }).retryAfterMs).toBeGreaterThan(50_000);
  });

  it('delivers every object of a body carrying two Records, with URL-encoded keys decoded', async () => {
    const w = h.world();
    const first = uniqueKey('Q1 sales+returns ü.csv');
    const second = uniqueKey('(draft) 100%.csv');
    const a = testBytes(5000, 1);
    const b = testBytes(7000, 2);
    const storedA = w.objects.put(first, a);
    const storedB = w.objects.put(second, b);
    const record = s3NotificationRecord([
      { key: first, size: a.length, eTag: storedA.eTag, versionId: 'va' },
      { key: second, size: b.length, eTag: storedB.eTag, versionId: 'vb' },
    ]);
    expect(record.body).toContain('Q1+sales%2Breturns+%C3%BC.csv');

    await w.run(record);

    // One GetObject per file stands in for a head and is the upload's read: no HeadObject.
    expect(h.s3Mock.commandCalls(GetObjectCommand).map((c) => c.args[0].input.Key)).toEqual([first, second]);
    expect(h.s3Mock.commandCalls(HeadObjectCommand)).toHaveLength(0);
    expect(h.target.requests.map((r) => [r.bytes, r.sha256]).sort()).toEqual(
      [
        [a.length, sha256Hex(a)],
        [b.length, sha256Hex(b)],
      ].sort(),
    );
    const keys = h.sentBodies().map((body) => CompletionMessageV1Schema.parse(JSON.parse(body)).object.key);
    expect(keys).toEqual([first, second]);
    for (const [key, versionId] of [
      [first, 'va'],
      [second, 'vb'],
    ] as const) {
      expect(
        (await w.ledger.get(deliveryKeyOf({ bucket: TEST_BUCKET, key, versionId, eTag: '' })))?.state,
      ).toBe(DeliveryState.UPLOADED);
    }
  });

  it('streams a multipart plan part by part and carries the parts into the completion message', async () => {
    const w = h.world({ defaultPlan: 'multipart', partSize: 64 * 1024 });
    const key = uniqueKey('big.csv');
    const data = testBytes(64 * 1024 * 3 + 17, 9);
    const stored = w.objects.put(key, data);

    await w.run(s3NotificationRecord([{ key, size: data.length, eTag: stored.eTag, versionId: 'v1' }]));

    const slices = [0, 1, 2, 3].map((i) => data.subarray(i * 64 * 1024, (i + 1) * 64 * 1024));
    const message = CompletionMessageV1Schema.parse(JSON.parse(h.sentBodies()[0] ?? ''));
    expect(message.upload.kind).toBe('multipart');
    expect(message.upload.parts).toEqual(
      slices.map((slice, i) => ({ partNumber: i + 1, eTag: `"${md5Hex(slice)}"` })),
    );
    expect(h.target.requests.reduce((sum, r) => sum + r.bytes, 0)).toBe(data.length);
  });

  it('keeps the Content-Type the URL was signed for in the completion message', async () => {
    const w = h.world({ contentType: 'application/vnd.ms-excel' });
    const key = uniqueKey('register.xls');
    const data = testBytes(100);
    const stored = w.objects.put(key, data, 'application/octet-stream');

    await w.run(s3NotificationRecord([{ key, size: data.length, eTag: stored.eTag, versionId: 'v1' }]));

    expect(h.target.requests[0]?.headers['content-type']).toBe('application/vnd.ms-excel');
    expect(CompletionMessageV1Schema.parse(JSON.parse(h.sentBodies()[0] ?? '')).contentType).toBe(
      'application/vnd.ms-excel',
    );
  });
});

describe('dispatchMessage on bodies that carry no file', () => {
  it('ignores the s3:TestEvent S3 sends when a notification is configured', async () => {
    const w = h.world();

    await w.run(s3TestEventRecord());

    expect(h.s3Mock.calls()).toHaveLength(0);
    expect(h.sqsMock.calls()).toHaveLength(0);
    expect(w.log.entries().map((e) => e.message)).toEqual([expect.stringContaining('s3:TestEvent')]);
  });

  it.each([
    ['a body that is not JSON', 'not json {'],
    ['a JSON body without Records', JSON.stringify({ hello: 'world' })],
    ['Records that are not S3 records', JSON.stringify({ Records: [{ eventSource: 'aws:sns' }] })],
  ])('fails permanently with MALFORMED_MESSAGE for %s', async (_name, body) => {
    const w = h.world();

    const error = await rejectionOf(w.run(sqsRecord(body)));

    expectPermanent(error, ErrorCode.MALFORMED_MESSAGE);
    expect(h.s3Mock.calls()).toHaveLength(0);
  });

  it('still delivers the good record of a body whose other record is malformed, then fails permanently', async () => {
    const w = h.world();
    const key = uniqueKey();
    const data = testBytes(10);
    const stored = w.objects.put(key, data);
    const good = JSON.parse(
      s3NotificationRecord([{ key, size: data.length, eTag: stored.eTag, versionId: 'v1' }]).body,
    ) as { Records: unknown[] };
    const body = JSON.stringify({ Records: [...good.Records, { eventSource: 'aws:s3', junk: true }] });

    const error = await rejectionOf(w.run(sqsRecord(body)));

    expectPermanent(error, ErrorCode.MALFORMED_MESSAGE);
    expect(h.target.requests).toHaveLength(1);
    expect(h.sentBodies()).toHaveLength(1);
  });

  it('skips a folder placeholder without touching S3 or the ledger', async () => {
    const w = h.world();
    const key = `${uniqueKey('x')}-folder/`;

    await w.run(s3NotificationRecord([{ key, size: 0, eTag: 'd41d8cd98f00b204e9800998ecf8427e' }]));

    expect(h.s3Mock.calls()).toHaveLength(0);
    expect(await w.admin.listByKey(TEST_BUCKET, key)).toEqual([]);
    expect(w.log.find('skipping record')).toMatchObject({ reason: 'folder placeholder', key });
  });

  it('ignores events other than object creation', async () => {
    const w = h.world();
    const key = uniqueKey();

    await w.run(s3NotificationRecord([{ key, eventName: 'ObjectRemoved:Delete' }]));

    expect(h.s3Mock.calls()).toHaveLength(0);
    expect(await w.admin.listByKey(TEST_BUCKET, key)).toEqual([]);
  });
});

describe('dispatchMessage refusing a file', () => {
  it('fails an unrouted key permanently with NO_ROUTE and records it FAILED in the ledger', async () => {
    const w = h.world();
    const key = `elsewhere/${uniqueKey().slice(PREFIX.length)}`;
    const object = { bucket: TEST_BUCKET, key, versionId: 'v1', eTag: 'e1' };

    const error = await rejectionOf(w.run(s3NotificationRecord([{ ...object, size: 10 }])));

    expectPermanent(error, ErrorCode.NO_ROUTE);
    expect(await w.ledger.get(deliveryKeyOf(object))).toMatchObject({
      state: DeliveryState.FAILED,
      reason: ErrorCode.NO_ROUTE,
      failedStep: 'dispatch',
    });
    expect(h.s3Mock.calls()).toHaveLength(0);
    expect(w.metrics.total(MetricName.FilesFailed, { vendor: 'unrouted', reason: ErrorCode.NO_ROUTE })).toBe(
      1,
    );
  });

  it('fails a zero-byte object permanently with EMPTY_FILE', async () => {
    const w = h.world();
    const key = uniqueKey('empty.csv');
    w.objects.put(key, Buffer.alloc(0));
    const object = { bucket: TEST_BUCKET, key, versionId: 'v1', eTag: md5Hex(Buffer.alloc(0)) };

    const error = await rejectionOf(w.run(s3NotificationRecord([{ ...object, size: 0 }])));

    expectPermanent(error, ErrorCode.EMPTY_FILE);
    expect(await w.ledger.get(deliveryKeyOf(object))).toMatchObject({
      state: DeliveryState.FAILED,
      reason: ErrorCode.EMPTY_FILE,
    });
    expect(w.vendor.presigns).toHaveLength(0);
  });

  it("applies the vendor's file rule before asking the vendor anything: FILE_REJECTED, no presign", async () => {
    // Adapters trust this: requestUpload is only ever called for a file checkFile accepted.
    const w = h.world({ refuseFile: (file) => (file.extension === 'pdf' ? 'takes .csv only' : undefined) });
    const key = uniqueKey('march.pdf');
    const stored = w.objects.put(key, Buffer.from('%PDF-1.4'), 'application/pdf');
    const object = { bucket: TEST_BUCKET, key, versionId: 'v1', eTag: stored.eTag };

    const error = await rejectionOf(w.run(s3NotificationRecord([{ ...object, size: 8 }])));

    expectPermanent(error, ErrorCode.FILE_REJECTED);
    expect((error as Error).message).toContain('takes .csv only');
    expect(w.vendor.presigns).toHaveLength(0);
    expect(h.target.requests).toHaveLength(0);
  });

  it('fails permanently with OBJECT_NOT_FOUND when GetObject answers NoSuchKey', async () => {
    const w = h.world();
    const key = uniqueKey('gone.csv');
    const object = { bucket: TEST_BUCKET, key, versionId: 'v1', eTag: 'e1' };

    const error = await rejectionOf(w.run(s3NotificationRecord([{ ...object, size: 10 }])));

    expectPermanent(error, ErrorCode.OBJECT_NOT_FOUND);
    expect(await w.ledger.get(deliveryKeyOf(object))).toMatchObject({
      state: DeliveryState.FAILED,
      reason: ErrorCode.OBJECT_NOT_FOUND,
    });
    expect(w.vendor.presigns).toHaveLength(0);
  });

  it('fails permanently with OBJECT_CHANGED when an unversioned object was replaced since the notification', async () => {
    const w = h.world();
    const key = uniqueKey();
    w.objects.put(key, testBytes(10));
    const object = { bucket: TEST_BUCKET, key, eTag: md5Hex(Buffer.from('older bytes')), sequencer: '01' };

    const error = await rejectionOf(w.run(s3NotificationRecord([{ ...object, size: 11 }])));

    expectPermanent(error, ErrorCode.OBJECT_CHANGED);
    // The identity read names no version (unversioned) and another ETag: the pinned read finds it changed.
    const pinned = h.s3Mock.commandCalls(GetObjectCommand).map((c) => c.args[0].input.IfMatch);
    expect(pinned).toContain(`"${object.eTag}"`);
  });

  it('refuses an upload URL on a host outside the allow-list before sending a byte of the object', async () => {
    const w = h.world();
    const key = uniqueKey();
    const data = testBytes(500);
    const stored = w.objects.put(key, data);
    // Same server, another host name: if the guard let it through, the target would see the request.
    const port = new URL(h.target.url).port;
    w.vendor.planNext(planTo(`http://localhost:${port}/evil/upload?X-Amz-Signature=${FAKE_SIGNATURE}`));
    const object = { bucket: TEST_BUCKET, key, versionId: 'v1', eTag: stored.eTag };

    const error = await rejectionOf(w.run(s3NotificationRecord([{ ...object, size: data.length }])));

    expectPermanent(error, ErrorCode.UNSAFE_UPLOAD_TARGET);
    expect([(error as Error).message, ...w.log.lines].join('\n')).not.toContain(FAKE_SIGNATURE);
    // The one GetObject (the object's head) was let go unread.
    expect(h.s3Mock.commandCalls(GetObjectCommand)).toHaveLength(1);
    expect(w.objects.bodies.map((b) => [b.destroyed, b.readableEnded])).toEqual([[true, false]]);
    expect(h.target.requests).toHaveLength(0);
    expect(h.sentBodies()).toHaveLength(0);
    expect(await w.ledger.get(deliveryKeyOf(object))).toMatchObject({
      state: DeliveryState.FAILED,
      reason: ErrorCode.UNSAFE_UPLOAD_TARGET,
    });
  });

  it('records a vendor that already holds the bytes as DUPLICATE, with no upload and no completion', async () => {
    const w = h.world();
    const key = uniqueKey();
    const data = testBytes(500);
    const stored = w.objects.put(key, data);
    w.vendor.planNext('already-present');
    const object = { bucket: TEST_BUCKET, key, versionId: 'v1', eTag: stored.eTag };

    await w.run(s3NotificationRecord([{ ...object, size: data.length }]));

    expect(await w.ledger.get(deliveryKeyOf(object))).toMatchObject({
      state: DeliveryState.DUPLICATE,
      refs: { fileId: 'existing-1' },
    });
    expect(h.target.requests).toHaveLength(0);
    expect(h.sentBodies()).toHaveLength(0);
    expect(w.metrics.total(MetricName.FilesDuplicate)).toBe(1);
  });
});

describe('dispatchMessage and the route secret', () => {
  const DISTINCTIVE = 'Zq8-DISTINCTIVE-secret-value-4c1e';

  it('fails permanently with SECRET_NOT_FOUND when the secret does not exist', async () => {
    const w = h.world();
    w.vendors.secretValues.clear();
    const key = uniqueKey();
    const data = testBytes(10);
    const stored = w.objects.put(key, data);
    const object = { bucket: TEST_BUCKET, key, versionId: 'v1', eTag: stored.eTag };

    const error = await rejectionOf(w.run(s3NotificationRecord([{ ...object, size: data.length }])));

    expectPermanent(error, ErrorCode.SECRET_NOT_FOUND);
    expect(await w.ledger.get(deliveryKeyOf(object))).toMatchObject({
      state: DeliveryState.FAILED,
      reason: ErrorCode.SECRET_NOT_FOUND,
    });
    expect(w.vendor.presigns).toHaveLength(0);
  });

  it.each([
    ['JSON of the wrong shape', JSON.stringify({ apiKey: 'shrt', password: DISTINCTIVE })],
    ['JSON with the key of the wrong type', JSON.stringify({ apiKey: [DISTINCTIVE] })],
    ['not JSON at all', `apiKey=${DISTINCTIVE}`],
  ])('fails permanently with SECRET_INVALID for %s, never showing its values', async (_name, value) => {
    const w = h.world();
    w.vendors.secretValues.set('vendor-ingest/fake', value);
    const key = uniqueKey();
    const data = testBytes(10);
    const stored = w.objects.put(key, data);
    const object = { bucket: TEST_BUCKET, key, versionId: 'v1', eTag: stored.eTag };

    const error = await rejectionOf(w.run(s3NotificationRecord([{ ...object, size: data.length }])));

    expectPermanent(error, ErrorCode.SECRET_INVALID);
    const entry = await w.ledger.get(deliveryKeyOf(object));
    expect(entry).toMatchObject({ state: DeliveryState.FAILED, reason: ErrorCode.SECRET_INVALID });
    const seen = [...w.log.lines, (error as Error).message, JSON.stringify(entry)].join('\n');
    expect(w.log.lines.length).toBeGreaterThan(0);
    expect(seen).not.toContain(DISTINCTIVE);
    expect(seen).not.toContain('shrt');
  });
});

describe('dispatchMessage reading the object', () => {
  const sha256Base64 = (data: Buffer) => Buffer.from(sha256Hex(data), 'hex').toString('base64');

  it('reads the object once: the GetObject that identifies the version is the upload, no HeadObject', async () => {
    const w = h.world();
    const key = uniqueKey();
    const data = testBytes(40_000, 7);
    const stored = w.objects.put(key, data);

    // No version id in the notification (as moto sends): the read identifies the version too.
    await w.run(s3NotificationRecord([{ key, size: data.length, eTag: stored.eTag, sequencer: '0B' }]));

    expect(h.s3Mock.commandCalls(GetObjectCommand)).toHaveLength(1);
    expect(h.s3Mock.commandCalls(HeadObjectCommand)).toHaveLength(0);
    expect(h.target.requests).toEqual([
      expect.objectContaining({ bytes: data.length, sha256: sha256Hex(data), outcome: 'stored' }),
    ]);
  });

  it('lets the opened body go when the version is already handled (a duplicate notification)', async () => {
    const w = h.world({ completeInline: true });
    const key = uniqueKey();
    const data = testBytes(2000, 8);
    const stored = w.objects.put(key, data);
    const notified = { key, size: data.length, eTag: stored.eTag, sequencer: '0C' };
    await w.run(s3NotificationRecord([notified]));

    await w.run(s3NotificationRecord([notified]), { ...firstReceive, messageId: 'message-2' });

    // The second GetObject named the version and was destroyed unread (the harness checks none is open).
    expect(h.s3Mock.commandCalls(GetObjectCommand)).toHaveLength(2);
    expect(h.target.requests).toHaveLength(1);
    expect(w.metrics.total(MetricName.DuplicateNotifications)).toBe(1);
  });

  // Without a version id in the notification (moto, unversioned buckets) the object is opened before
  // the lease: every path that ends without uploading must let that body go (the harness fails a test
  // that leaves one open).
  it.each([
    ['the vendor refuses the file', 'FILE_REJECTED'],
    ['the vendor already holds the bytes', 'DUPLICATE'],
    ['the version was uploaded and its completion message is sent again', 'RESENT'],
    ['another worker holds the version', 'LEASE_HELD'],
    ['the vendor account waits behind an open breaker', 'VENDOR_DOWN'],
  ] as const)('lets the opened body go unread when %s', async (_case, outcome) => {
    const w = h.world({
      name: `fake-${outcome.toLowerCase()}`,
      refuseFile: outcome === 'FILE_REJECTED' ? () => 'takes nothing today' : undefined,
    });
    const key = uniqueKey();
    const data = testBytes(300_000, 13);
    const stored = w.objects.put(key, data);
    const notified = { key, size: data.length, eTag: stored.eTag, sequencer: '0D' };
    const ledgerKey = deliveryKeyOf({ bucket: TEST_BUCKET, ...notified });
    const route = { vendor: w.vendor.name, secretId: SECRET_ID };
    if (outcome === 'DUPLICATE') w.vendor.planNext('already-present');
    if (outcome === 'RESENT' || outcome === 'LEASE_HELD') await w.run(s3NotificationRecord([notified]));
    if (outcome === 'LEASE_HELD')
      await w.ledger.beginCompletion(ledgerKey, {
        owner: 'completion',
        leaseMs: 60_000,
        retryAmbiguous: false,
        redrive: false,
      });
    if (outcome === 'VENDOR_DOWN')
      await w.deps.guard.record(route, new RetryableError(ErrorCode.TOKEN_BUDGET_EXHAUSTED, 'spent'), w.log);
    const uploadsBefore = h.target.requests.length;
    const getsBefore = h.s3Mock.commandCalls(GetObjectCommand).length;

    const error = await w
      .run(s3NotificationRecord([notified]), { ...firstReceive, messageId: 'message-2' })
      .catch((e: unknown) => e);

    if (outcome === 'FILE_REJECTED' || outcome === 'LEASE_HELD' || outcome === 'VENDOR_DOWN')
      expect(error).toMatchObject({ code: outcome });
    else expect(error).toBeUndefined();
    if (outcome === 'DUPLICATE')
      expect(await w.ledger.get(ledgerKey)).toMatchObject({ state: DeliveryState.DUPLICATE });
    if (outcome === 'RESENT') expect(h.sentBodies()).toHaveLength(2);
    expect(h.s3Mock.commandCalls(GetObjectCommand)).toHaveLength(getsBefore + 1);
    expect(h.target.requests).toHaveLength(uploadsBefore);
    expect(w.objects.openBodies()).toHaveLength(0);
    expect(w.objects.bodies.at(-1)?.readableEnded).toBe(false);
  });

  it('hashes a small file for a vendor that wants its SHA-256 and uploads it from the same read', async () => {
    const w = h.world({ needsSha256: true });
    const key = uniqueKey();
    const data = testBytes(300_000, 9);
    const stored = w.objects.put(key, data);

    await w.run(s3NotificationRecord([{ key, size: data.length, eTag: stored.eTag, versionId: 'v1' }]));

    expect(w.vendor.presigns[0]?.sha256Base64).toBe(sha256Base64(data));
    expect(h.s3Mock.commandCalls(GetObjectCommand)).toHaveLength(1);
    expect(h.target.requests).toEqual([
      expect.objectContaining({ bytes: data.length, sha256: sha256Hex(data), outcome: 'stored' }),
    ]);
  });

  it('hashes a file above 8 MiB in a pass of its own, then streams it with a second read', async () => {
    const w = h.world({ needsSha256: true });
    const key = uniqueKey();
    const data = testBytes(8 * 1024 * 1024 + 1, 10);
    const stored = w.objects.put(key, data);

    await w.run(s3NotificationRecord([{ key, size: data.length, eTag: stored.eTag, versionId: 'v1' }]));

    expect(w.vendor.presigns[0]?.sha256Base64).toBe(sha256Base64(data));
    expect(h.s3Mock.commandCalls(GetObjectCommand)).toHaveLength(2);
    expect(h.target.requests).toEqual([
      expect.objectContaining({ bytes: data.length, sha256: sha256Hex(data) }),
    ]);
  });

  it('takes the SHA-256 S3 holds (checksum mode on) without a hashing pass', async () => {
    const w = h.world({ needsSha256: true });
    const key = uniqueKey();
    const data = testBytes(5000, 11);
    // A value no hash of these bytes gives: the vendor can only have it from S3's answer.
    const held = Buffer.alloc(32, 7).toString('base64');
    const stored = w.objects.put(key, data, 'image/jpeg', TEST_BUCKET, held);

    await w.run(s3NotificationRecord([{ key, size: data.length, eTag: stored.eTag, versionId: 'v1' }]));

    expect(w.vendor.presigns[0]?.sha256Base64).toBe(held);
    const gets = h.s3Mock.commandCalls(GetObjectCommand);
    expect(gets).toHaveLength(1);
    expect(gets[0]?.args[0].input.ChecksumMode).toBe('ENABLED');
    expect(h.target.requests).toEqual([
      expect.objectContaining({ bytes: data.length, sha256: sha256Hex(data) }),
    ]);
  });

  it('asks S3 for no checksum for a vendor that does not hash (no validation cost on the upload)', async () => {
    const w = h.world();
    const key = uniqueKey();
    const data = testBytes(5000, 12);
    const stored = w.objects.put(key, data);

    await w.run(s3NotificationRecord([{ key, size: data.length, eTag: stored.eTag, versionId: 'v1' }]));

    expect(h.s3Mock.commandCalls(GetObjectCommand)[0]?.args[0].input.ChecksumMode).toBeUndefined();
  });
});
