import type { Readable } from 'node:stream';
import { GetObjectCommand, type GetObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/util-stream';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ErrorCode,
  PermanentError,
  RetryableError,
  UnsafeUploadTargetError,
  UploadUrlExpiredError,
} from '../../../../functions/shared/errors';
import { bufferedRead } from '../../../../functions/shared/upload/s3-source';
import { type UploadOptions, uploadPlan } from '../../../../functions/shared/upload/upload-plan';
import type { UploadPart, UploadTarget } from '../../../../functions/vendors/types';
import { startUploadTarget, type UploadTargetServer } from '../../../support/upload-target';
import { bytesOf, md5Hex, readableOf, SIGNED_QUERY, sha256Hex } from './stream-fixtures';

const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: 'ap-south-1' });
const OBJECT = { bucket: 'ingest', key: 'cleartax/sales/march.csv', versionId: 'v1' };

let target: UploadTargetServer;
beforeAll(async () => {
  target = await startUploadTarget();
});
afterAll(async () => {
  await target.close();
  s3Mock.restore();
});

/**
 * Serves `data` from the mocked GetObject, honouring `Range: bytes=a-b`. Returns the bodies handed out,
 * so a test can check each was consumed or destroyed.
 */
function serveObject(data: Buffer): Readable[] {
  const bodies: Readable[] = [];
  s3Mock.on(GetObjectCommand).callsFake((input: GetObjectCommandInput) => {
    const range = /^bytes=(\d+)-(\d+)$/.exec(input.Range ?? '');
    const bytes = range ? data.subarray(Number(range[1]), Number(range[2]) + 1) : data;
    const body = readableOf(bytes, 16 * 1024);
    bodies.push(body);
    // sdkStreamMixin adds the SDK's helpers to this very stream, so `body.destroyed` is the SDK body's.
    return { Body: sdkStreamMixin(body), ContentLength: bytes.length };
  });
  return bodies;
}

let n = 0;
function targetAt(path: string, extra: Partial<UploadTarget> = {}): UploadTarget {
  return {
    url: target.urlFor(path, SIGNED_QUERY),
    method: 'PUT',
    headers: { 'content-type': 'text/csv' },
    ...extra,
  };
}

/** A single-PUT plan to a fresh path whose signed Content-Type is text/csv. */
function singlePlan(extra: Partial<UploadTarget> = {}) {
  n++;
  const path = `/single/file-${n}.csv`;
  target.setContentType(path, 'text/csv');
  return { path, plan: { kind: 'single' as const, target: targetAt(path, extra), refs: {} } };
}

/** A multipart plan cutting `size` bytes into parts of `partSize` (the last one shorter). */
function multipartPlan(size: number, partSize: number) {
  n++;
  const parts: UploadPart[] = [];
  for (let start = 0, partNumber = 1; start < size; start += partSize, partNumber++) {
    const path = `/multi/${n}/part-${partNumber}`;
    target.setContentType(path, 'text/csv');
    parts.push({ partNumber, start, end: Math.min(start + partSize, size) - 1, target: targetAt(path) });
  }
  return { parts, plan: { kind: 'multipart' as const, parts, refs: {} } };
}

function options(size: number, extra: Partial<UploadOptions> = {}): UploadOptions {
  return {
    s3,
    object: OBJECT,
    size,
    policy: { uploadHostAllowList: [target.hostPattern], allowLoopbackHttp: true },
    partConcurrency: 3,
    retryDelayMs: 1,
    ...extra,
  };
}

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the upload to fail');
}

const getObjectCalls = () => s3Mock.commandCalls(GetObjectCommand);

describe('uploadPlan', () => {
  beforeEach(() => {
    s3Mock.reset();
    target.resetStats();
    target.setLatency(0);
  });

  it('delivers a single-PUT plan byte-exact and reports the unsigned URL and ETag', async () => {
    const data = bytesOf(1024 * 1024 + 3);
    const bodies = serveObject(data);
    const { path, plan } = singlePlan();

    const result = await uploadPlan(plan, options(data.length));

    expect(result).toEqual({
      kind: 'single',
      url: target.urlFor(path),
      signedUrl: plan.target.url,
      eTag: `"${md5Hex(data)}"`,
    });
    expect(target.requests).toEqual([
      expect.objectContaining({ path, bytes: data.length, sha256: sha256Hex(data), outcome: 'stored' }),
    ]);
    expect(getObjectCalls()[0]?.args[0].input).toMatchObject({
      Bucket: 'ingest',
      Key: OBJECT.key,
      VersionId: 'v1',
    });
    expect(getObjectCalls()[0]?.args[0].input.Range).toBeUndefined();
    expect(bodies.every((b) => b.destroyed)).toBe(true);
  });

  it('streams bytes already opened on the first try, and reads the object again for a retry', async () => {
    const data = bytesOf(300_000, 3);
    const bodies = serveObject(data);
    const { path, plan } = singlePlan();
    target.failNext(1, 'status-500');
    const first = bufferedRead(data);

    const result = await uploadPlan(plan, options(data.length, { first }));

    expect(result.eTag).toBe(`"${md5Hex(data)}"`);
    expect(target.requests.map((r) => [r.path, r.status])).toEqual([
      [path, 500],
      [path, 200],
    ]);
    expect(target.requests[1]?.sha256).toBe(sha256Hex(data));
    // The first try streamed the bytes handed over; only the retry asked S3.
    expect(getObjectCalls()).toHaveLength(1);
    expect(first.take()).toBeUndefined();
    expect(bodies.every((b) => b.destroyed)).toBe(true);
  });

  it('lets bytes opened for a single upload go when the plan is multipart (parts are ranged reads)', async () => {
    const data = bytesOf(600_000, 4);
    serveObject(data);
    const { plan } = multipartPlan(data.length, 256 * 1024);
    const opened = readableOf(data);
    let disposed = 0;
    const first = {
      take: () => ({ body: opened, length: data.length }),
      dispose: () => {
        disposed++;
        opened.destroy();
      },
    };

    await uploadPlan(plan, options(data.length, { first }));

    expect(disposed).toBe(1);
    expect(opened.destroyed).toBe(true);
    expect(getObjectCalls().map((c) => c.args[0].input.Range)).toHaveLength(3);
  });

  it('delivers a multipart plan byte-exact, each part from its own ranged GetObject', async () => {
    const data = bytesOf(5 * 256 * 1024 + 1000, 7);
    serveObject(data);
    const { parts, plan } = multipartPlan(data.length, 256 * 1024);

    const result = await uploadPlan(plan, options(data.length));

    const slices = parts.map((p) => data.subarray(p.start, p.end + 1));
    expect(result.kind).toBe('multipart');
    expect(result.parts).toEqual(
      slices.map((slice, i) => ({ partNumber: i + 1, eTag: `"${md5Hex(slice)}"` })),
    );
    for (const [i, part] of parts.entries()) {
      const received = target.requests.filter((r) => r.path === new URL(part.target.url).pathname);
      expect(received).toEqual([
        expect.objectContaining({
          outcome: 'stored',
          bytes: slices[i]?.length,
          sha256: sha256Hex(slices[i] ?? Buffer.alloc(0)),
        }),
      ]);
    }
    const ranges = getObjectCalls()
      .map((c) => c.args[0].input.Range)
      .sort();
    expect(ranges).toEqual(parts.map((p) => `bytes=${p.start}-${p.end}`).sort());
  });

  it('uploads parts with at most partConcurrency in flight, and in parallel', async () => {
    const data = bytesOf(8 * 4096);
    serveObject(data);
    const { plan } = multipartPlan(data.length, 4096);
    // Hold each answer, so parts that run in parallel are seen together at the target.
    target.setLatency(50);

    await uploadPlan(plan, options(data.length, { partConcurrency: 3 }));

    expect(target.requests.filter((r) => r.outcome === 'stored')).toHaveLength(8);
    expect(target.maxInFlight).toBeLessThanOrEqual(3);
    expect(target.maxInFlight).toBeGreaterThan(1);
  });

  it('uploads one part at a time with partConcurrency 1', async () => {
    const data = bytesOf(4 * 4096);
    serveObject(data);
    const { plan } = multipartPlan(data.length, 4096);
    target.setLatency(10);

    await uploadPlan(plan, options(data.length, { partConcurrency: 1 }));

    expect(target.requests).toHaveLength(4);
    expect(target.maxInFlight).toBe(1);
  });

  it('retries a transient 500 on the same URL with a fresh read of the object', async () => {
    const data = bytesOf(200_000);
    const bodies = serveObject(data);
    const { path, plan } = singlePlan();
    target.failNext(1, 'status-500');
    const retried: unknown[] = [];

    const result = await uploadPlan(plan, options(data.length, { onRetry: (e) => retried.push(e) }));

    expect(result.eTag).toBe(`"${md5Hex(data)}"`);
    expect(target.requests.map((r) => [r.path, r.search, r.status])).toEqual([
      [path, new URL(plan.target.url).search, 500],
      [path, new URL(plan.target.url).search, 200],
    ]);
    expect(target.requests[1]?.sha256).toBe(sha256Hex(data));
    expect(getObjectCalls()).toHaveLength(2);
    expect(retried).toEqual([expect.any(RetryableError)]);
    expect(bodies[0]?.destroyed).toBe(true);
  });

  it('retries a connection reset mid-body and reports progress only for what finally arrived', async () => {
    const data = bytesOf(4 * 1024 * 1024);
    serveObject(data);
    const { plan } = singlePlan();
    target.failNext(1, 'reset');
    const progress: number[] = [];

    await uploadPlan(plan, options(data.length, { onProgress: (sent) => progress.push(sent) }));

    expect(target.requests.map((r) => r.outcome)).toEqual(['failed', 'stored']);
    expect(target.requests[1]?.sha256).toBe(sha256Hex(data));
    expect(progress.at(-1)).toBe(data.length);
    expect(Math.max(...progress)).toBeLessThanOrEqual(data.length);
  });

  it('gives up after attemptsPerTarget transient failures with the last retryable error', async () => {
    const data = bytesOf(1000);
    const bodies = serveObject(data);
    const { plan } = singlePlan();
    target.failNext(3, 'status-500');

    const error = await failureOf(uploadPlan(plan, options(data.length, { attemptsPerTarget: 3 })));

    expect(error).toBeInstanceOf(RetryableError);
    expect(error).toMatchObject({ code: ErrorCode.VENDOR_UNAVAILABLE, status: 500 });
    expect(target.requests).toHaveLength(3);
    expect(bodies.every((b) => b.destroyed)).toBe(true);
  });

  it('does not retry an expired URL: throws UploadUrlExpiredError after one try', async () => {
    const data = bytesOf(1000);
    const bodies = serveObject(data);
    const { path, plan } = singlePlan();
    target.expire(path);

    const error = await failureOf(uploadPlan(plan, options(data.length)));

    expect(error).toBeInstanceOf(UploadUrlExpiredError);
    expect(target.requests).toHaveLength(1);
    expect(getObjectCalls()).toHaveLength(1);
    expect(bodies[0]?.destroyed).toBe(true);
  });

  it('does not retry a permanent rejection (signature mismatch)', async () => {
    const data = bytesOf(1000);
    const bodies = serveObject(data);
    const { plan } = singlePlan({ headers: { 'content-type': 'application/octet-stream' } });

    const error = await failureOf(uploadPlan(plan, options(data.length)));

    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ code: ErrorCode.UPLOAD_REJECTED, vendorCode: 'SignatureDoesNotMatch' });
    expect(target.requests).toHaveLength(1);
    expect(bodies[0]?.destroyed).toBe(true);
  });

  it('refuses a URL whose expiresAt has passed before reading the object', async () => {
    serveObject(bytesOf(1000));
    const { plan } = singlePlan({ expiresAt: 1_000 });

    const error = await failureOf(uploadPlan(plan, options(1000, { now: () => 2_000 })));

    expect(error).toBeInstanceOf(UploadUrlExpiredError);
    expect(getObjectCalls()).toHaveLength(0);
    expect(target.requests).toHaveLength(0);
  });

  it.each([
    ['a host off the allow-list', 'https://attacker.example.net/upload?X-Amz-Signature=abc'],
    ['another port of the loopback host', 'http://127.0.0.1:1/upload'],
    ['https to loopback on another port', 'https://127.0.0.1:1/upload'],
  ])('refuses %s before any GetObject call', async (_label, url) => {
    serveObject(bytesOf(1000));
    const plan = { kind: 'single' as const, target: { url, method: 'PUT' as const, headers: {} }, refs: {} };

    const error = await failureOf(uploadPlan(plan, options(1000)));

    expect(error).toBeInstanceOf(UnsafeUploadTargetError);
    expect(getObjectCalls()).toHaveLength(0);
    expect(target.requests).toHaveLength(0);
  });

  it('refuses a multipart plan with one unsafe part URL before uploading any part', async () => {
    const data = bytesOf(4 * 1024);
    serveObject(data);
    const { parts } = multipartPlan(data.length, 1024);
    const tampered = parts.map((p) =>
      p.partNumber === 3 ? { ...p, target: { ...p.target, url: 'https://evil.example.com/p3' } } : p,
    );

    const error = await failureOf(
      uploadPlan({ kind: 'multipart', parts: tampered, refs: {} }, options(data.length)),
    );

    expect(error).toBeInstanceOf(UnsafeUploadTargetError);
    expect(getObjectCalls()).toHaveLength(0);
    expect(target.requests).toHaveLength(0);
  });

  it.each([
    [
      'a gap between parts',
      [
        [0, 99],
        [101, 199],
      ],
    ],
    [
      'overlapping parts',
      [
        [0, 100],
        [100, 199],
      ],
    ],
    [
      'parts short of the end',
      [
        [0, 99],
        [100, 198],
      ],
    ],
    [
      'parts beyond the end',
      [
        [0, 99],
        [100, 200],
      ],
    ],
    [
      'a part ending before it starts',
      [
        [0, 99],
        [100, 99],
        [100, 199],
      ],
    ],
    ['no parts at all', []],
  ])('refuses a plan with %s before any GetObject call', async (_label, ranges) => {
    serveObject(bytesOf(200));
    const parts = ranges.map(([start = 0, end = 0], i) => ({
      partNumber: i + 1,
      start,
      end,
      target: targetAt(`/cover/${i + 1}`),
    }));

    const error = await failureOf(uploadPlan({ kind: 'multipart', parts, refs: {} }, options(200)));

    expect((error as Error).message).toMatch(/multipart plan (does not cover|covers)/);
    expect(getObjectCalls()).toHaveLength(0);
    expect(target.requests).toHaveLength(0);
  });

  it('refuses part numbers that do not run 1, 2, 3 …', async () => {
    serveObject(bytesOf(200));
    const parts = [
      { partNumber: 1, start: 0, end: 99, target: targetAt('/numbers/1') },
      { partNumber: 3, start: 100, end: 199, target: targetAt('/numbers/3') },
    ];

    const error = await failureOf(uploadPlan({ kind: 'multipart', parts, refs: {} }, options(200)));

    expect((error as Error).message).toMatch(/does not cover the object: part 3/);
    expect(getObjectCalls()).toHaveLength(0);
  });

  it('stops the other parts when one fails for good, and destroys every source stream', async () => {
    const data = bytesOf(6 * 64 * 1024);
    const bodies = serveObject(data);
    const { parts, plan } = multipartPlan(data.length, 64 * 1024);
    target.expire(new URL(parts[1]?.target.url ?? '').pathname);
    target.setLatency(200);

    const error = await failureOf(uploadPlan(plan, options(data.length, { partConcurrency: 2 })));

    expect(error).toBeInstanceOf(UploadUrlExpiredError);
    expect(getObjectCalls()).toHaveLength(2);
    expect(bodies.every((b) => b.destroyed)).toBe(true);
    await vi.waitFor(() => expect(target.inFlight).toBe(0), { timeout: 5000 });
    // Part 1 was on its way (held by the target) when part 2 failed: it is cut off, never stored.
    const seen = target.requests.map((r) => [r.path.split('/').at(-1), r.outcome]);
    expect(seen).toContainEqual(['part-2', 'refused']);
    expect(seen.filter(([part]) => part !== 'part-1' && part !== 'part-2')).toEqual([]);
    expect(seen.filter(([, outcome]) => outcome === 'stored')).toEqual([]);
  });
});
