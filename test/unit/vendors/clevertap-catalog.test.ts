import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AmbiguousOutcomeError,
  ErrorCode,
  FileRejectedError,
  PermanentError,
  RetryableError,
  ThrottledError,
} from '../../../functions/shared/errors';
import { clevertapCatalogAdapter, partRanges } from '../../../functions/vendors/clevertap-catalog/adapter';
import type { ClevertapOptions, ClevertapSecret } from '../../../functions/vendors/clevertap-catalog/schemas';
import type { CompletionInput, UploadPlan } from '../../../functions/vendors/types';
import { contextFor, fileFor, type Reply, rejectionOf, ScriptedHttp, thrownBy } from './scripted-vendor';

const BASE = 'https://in1.api.clevertap.com';
const MiB = 1024 * 1024;
const SECRET = { accountId: 'W9R-486-4W5Z', token: 'ct-token' };
const HEADERS = {
  'X-Account-Id': 'W9R-486-4W5Z',
  'X-CleverTap-Token': 'ct-token',
  'content-type': 'application/json',
};
const partUrl = (n: number) =>
  `https://bucket.s3.amazonaws.com/catalog/u-1?partNumber=${n}&X-Amz-Signature=s${n}`;

const accepted: Reply = {
  status: 200,
  body: { status: 'PROCESSING', jobId: 'job_xyz789', estimatedCompletionTime: '2025-11-06T10:45:00Z' },
};

function ctContext(
  setup: {
    options?: Record<string, unknown>;
    http?: ScriptedHttp;
    baseUrl?: string;
    loopback?: boolean;
  } = {},
) {
  return contextFor<ClevertapSecret, ClevertapOptions>(clevertapCatalogAdapter, {
    secret: SECRET,
    options: setup.options ?? { catalogId: '123' },
    baseUrl: setup.baseUrl ?? BASE,
    http: setup.http,
    route: { allowLoopbackHttp: setup.loopback ?? false },
  });
}

/** Answers a multipart signed-URL request with one URL per asked part. */
const multipartAnswer: Reply = (request) => ({
  status: 200,
  body: {
    uploadId: 'u-1',
    parts: Array.from({ length: Number(request.query?.totalParts) }, (_, i) => ({
      partNumber: i + 1,
      signedUrl: partUrl(i + 1),
    })),
  },
});

function multipartInput(refs: CompletionInput['refs'] = {}): CompletionInput {
  return {
    file: fileFor('clevertap/123/products.csv', 11 * MiB),
    upload: {
      kind: 'multipart',
      url: 'https://bucket.s3.amazonaws.com/catalog/u-1',
      parts: [
        { partNumber: 3, eTag: '"e3"' },
        { partNumber: 1, eTag: '"e1"' },
        { partNumber: 2, eTag: '"e2"' },
      ],
    },
    refs: { uploadId: 'u-1', fileName: 'products.csv', multipart: true, totalParts: 3, ...refs },
  };
}

describe('clevertapCatalogAdapter options', () => {
  it('coerces the catalogId key segment and applies the defaults', () => {
    // Act
    const options = clevertapCatalogAdapter.optionsSchema.parse({ catalogId: '123' });

    // Assess
    expect(options).toEqual({
      catalogId: 123,
      completedBy: 'vendor-ingest',
      contentType: 'text/csv',
      singleUploadLimitBytes: 100 * MiB - 1,
      partSizeBytes: 64 * MiB,
      paths: {
        signedUrl: '/v2/catalogs/signedurl',
        completeMultipart: '/v2/catalogs/signedurl/complete-multipart',
        complete: '/v2/catalogs/signedurl/complete',
      },
      fields: {
        uploadId: 'uploadId',
        signedUrl: 'signedUrl',
        parts: 'parts',
        partNumber: 'partNumber',
        partSignedUrl: 'signedUrl',
        eTag: 'eTag',
        catalogId: 'catalogId',
      },
    });
  });

  it.each([
    ['a non-numeric catalogId', { catalogId: 'abc' }],
    ['catalogId 0', { catalogId: '0' }],
    ['a part size under the S3 minimum', { catalogId: 1, partSizeBytes: 5 * MiB - 1 }],
    ['an unknown region', { catalogId: 1, region: 'xx1' }],
    ['a content type CleverTap does not take', { catalogId: 1, contentType: 'application/json' }],
    ['a misspelt option', { catalogId: 1, completeBy: 'me' }],
  ])('refuses %s', (_name, raw) => {
    // Act + Assess
    expect(clevertapCatalogAdapter.optionsSchema.safeParse(raw).success).toBe(false);
  });

  it('keys the concurrency limit by account and caps it at 3 calls', () => {
    // Act
    const key = clevertapCatalogAdapter.accountKey?.(
      SECRET,
      clevertapCatalogAdapter.optionsSchema.parse({ catalogId: 1 }),
    );

    // Assess
    expect(key).toBe('clevertap:W9R-486-4W5Z');
    expect(clevertapCatalogAdapter.defaultMaxConcurrentCalls).toBe(3);
    expect(clevertapCatalogAdapter.completionIdempotent).toBe(false);
    expect(clevertapCatalogAdapter.status).toBeUndefined();
  });
});

describe('clevertapCatalogAdapter.checkFile', () => {
  const csv = clevertapCatalogAdapter.optionsSchema.parse({ catalogId: 1 });

  it.each([
    ['a non-CSV file on a CSV route', fileFor('clevertap/1/feed.xml', 10), csv, /only \.csv/],
    [
      'a name over 500 characters',
      fileFor(`clevertap/1/${'a'.repeat(497)}.csv`, 10),
      csv,
      /at most 500 characters/,
    ],
    [
      'a file needing more than 10,000 parts',
      fileFor('clevertap/1/big.csv', 10_001 * 5 * MiB),
      clevertapCatalogAdapter.optionsSchema.parse({ catalogId: 1, partSizeBytes: 5 * MiB }),
      /at most 10000 parts/,
    ],
  ])('rejects %s', (_name, file, options, rule) => {
    // Act
    const error = thrownBy(() => clevertapCatalogAdapter.checkFile(file, options));

    // Assess
    expect(error).toBeInstanceOf(FileRejectedError);
    expect((error as Error).message).toMatch(rule);
  });

  it('accepts XML on a merchant-feed route and a 500-character name', () => {
    // Prepare
    const xml = clevertapCatalogAdapter.optionsSchema.parse({ catalogId: 1, contentType: 'application/xml' });

    // Act + Assess
    expect(() => clevertapCatalogAdapter.checkFile(fileFor('clevertap/1/feed.xml', 10), xml)).not.toThrow();
    expect(() =>
      clevertapCatalogAdapter.checkFile(fileFor(`clevertap/1/${'a'.repeat(496)}.csv`, 10), csv),
    ).not.toThrow();
  });
});

describe('partRanges', () => {
  it('cuts 11 MiB into two 5 MiB parts and a smaller last part', () => {
    // Act
    const ranges = partRanges(11 * MiB, 5 * MiB);

    // Assess
    expect(ranges).toEqual([
      { partNumber: 1, start: 0, end: 5 * MiB - 1 },
      { partNumber: 2, start: 5 * MiB, end: 10 * MiB - 1 },
      { partNumber: 3, start: 10 * MiB, end: 11 * MiB - 1 },
    ]);
  });

  it('covers every byte exactly once in ceil(size / partSize) parts, all full but the last', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e12 }), fc.integer({ min: 1, max: 1e10 }), (size, partSize) => {
        fc.pre(size / partSize <= 20_000);
        // Act
        const ranges = partRanges(size, partSize);

        // Assess
        expect(ranges).toHaveLength(Math.ceil(size / partSize));
        let next = 0;
        ranges.forEach((range, i) => {
          expect(range.partNumber).toBe(i + 1);
          expect(range.start).toBe(next);
          const length = range.end - range.start + 1;
          if (i < ranges.length - 1) expect(length).toBe(partSize);
          else expect(length).toBeGreaterThan(0);
          expect(length).toBeLessThanOrEqual(partSize);
          next = range.end + 1;
        });
        expect(next).toBe(size);
      }),
    );
  });
});

describe('clevertapCatalogAdapter.requestUpload', () => {
  it('asks for one signed URL below the single-upload limit, with the documented headers and query', async () => {
    // Prepare
    const url = 'https://bucket.s3.amazonaws.com/catalog/u-9?X-Amz-Signature=abc';
    const http = new ScriptedHttp().queue('presign', {
      status: 200,
      body: { uploadId: 'u-9', signedUrl: url },
    });
    const ctx = ctContext({ http });

    // Act
    const plan = await clevertapCatalogAdapter.requestUpload(
      fileFor('clevertap/123/products.csv', 12_345),
      ctx,
    );

    // Assess
    expect(http.requests).toEqual([
      {
        operation: 'presign',
        method: 'GET',
        path: '/v2/catalogs/signedurl',
        query: { catalogId: 123, fileName: 'products.csv', contentType: 'text/csv', multiPart: false },
        headers: HEADERS,
      },
    ]);
    expect(plan).toEqual({
      kind: 'single',
      target: { url, method: 'PUT', headers: { 'Content-Type': 'text/csv' } },
      refs: { uploadId: 'u-9', fileName: 'products.csv' },
    });
  });

  it('goes multipart at the single-upload limit and maps each part URL to its byte range', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('presign', multipartAnswer);
    const ctx = ctContext({
      http,
      options: { catalogId: '123', singleUploadLimitBytes: 1024, partSizeBytes: 5 * MiB },
    });
    const size = 11 * MiB + 7;

    // Act
    const plan = await clevertapCatalogAdapter.requestUpload(
      fileFor('clevertap/123/products.csv', size),
      ctx,
    );

    // Assess
    expect(http.requests[0]?.query).toEqual({
      catalogId: 123,
      fileName: 'products.csv',
      contentType: 'text/csv',
      multiPart: true,
      totalParts: 3,
    });
    expect(plan).toEqual({
      kind: 'multipart',
      parts: [
        {
          partNumber: 1,
          start: 0,
          end: 5 * MiB - 1,
          target: { url: partUrl(1), method: 'PUT', headers: { 'Content-Type': 'text/csv' } },
        },
        {
          partNumber: 2,
          start: 5 * MiB,
          end: 10 * MiB - 1,
          target: { url: partUrl(2), method: 'PUT', headers: { 'Content-Type': 'text/csv' } },
        },
        {
          partNumber: 3,
          start: 10 * MiB,
          end: size - 1,
          target: { url: partUrl(3), method: 'PUT', headers: { 'Content-Type': 'text/csv' } },
        },
      ],
      refs: { uploadId: 'u-1', fileName: 'products.csv', multipart: true, totalParts: 3 },
    } satisfies UploadPlan);
  });

  it('uses one byte under the limit as the largest single upload', async () => {
    // Prepare
    const http = new ScriptedHttp().always('presign', (request) =>
      request.query?.multiPart
        ? multipartAnswer
        : { status: 200, body: { uploadId: 'u', signedUrl: partUrl(0) } },
    );
    const ctx = ctContext({
      http,
      options: { catalogId: 1, singleUploadLimitBytes: 6 * MiB, partSizeBytes: 5 * MiB },
    });

    // Act
    const below = await clevertapCatalogAdapter.requestUpload(fileFor('clevertap/1/a.csv', 6 * MiB - 1), ctx);
    const at = await clevertapCatalogAdapter.requestUpload(fileFor('clevertap/1/b.csv', 6 * MiB), ctx);

    // Assess
    expect(below.kind).toBe('single');
    expect(at.kind).toBe('multipart');
  });

  it('reads renamed answer fields', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('presign', {
      status: 200,
      body: { upload_id: 'u-2', urls: [{ part: 1, url: partUrl(1) }] },
    });
    const ctx = ctContext({
      http,
      options: {
        catalogId: 1,
        singleUploadLimitBytes: 10,
        partSizeBytes: 5 * MiB,
        fields: { uploadId: 'upload_id', parts: 'urls', partNumber: 'part', partSignedUrl: 'url' },
      },
    });

    // Act
    const plan = await clevertapCatalogAdapter.requestUpload(fileFor('clevertap/1/a.csv', 100), ctx);

    // Assess
    expect(plan.kind === 'multipart' && plan.parts.map((p) => [p.partNumber, p.target.url])).toEqual([
      [1, partUrl(1)],
    ]);
    expect(plan.refs.uploadId).toBe('u-2');
  });

  it.each([
    ['fewer part URLs than asked', { uploadId: 'u', parts: [{ partNumber: 1, signedUrl: partUrl(1) }] }],
    [
      'a duplicated part number',
      {
        uploadId: 'u',
        parts: [1, 1, 2].map((n) => ({ partNumber: n, signedUrl: partUrl(n) })),
      },
    ],
    ['no uploadId', { parts: [1, 2, 3].map((n) => ({ partNumber: n, signedUrl: partUrl(n) })) }],
  ])('treats a multipart answer with %s as a bad response', async (_name, body) => {
    // Prepare
    const http = new ScriptedHttp().queue('presign', { status: 200, body });
    const ctx = ctContext({
      http,
      options: { catalogId: 1, singleUploadLimitBytes: 10, partSizeBytes: 5 * MiB },
    });

    // Act
    const error = await rejectionOf(
      clevertapCatalogAdapter.requestUpload(fileFor('clevertap/1/a.csv', 11 * MiB), ctx),
    );

    // Assess
    expect(error).toMatchObject({ retryable: true, code: ErrorCode.VENDOR_BAD_RESPONSE });
  });

  it('classifies 429 "Too many concurrent requests" without Retry-After as throttling', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('presign', {
      status: 429,
      body: { status: 'fail', error: 'Too many concurrent requests' },
    });
    const ctx = ctContext({ http });

    // Act
    const error = await rejectionOf(
      clevertapCatalogAdapter.requestUpload(fileFor('clevertap/123/a.csv', 10), ctx),
    );

    // Assess
    expect(error).toBeInstanceOf(ThrottledError);
    expect(error).toMatchObject({ retryAfterMs: undefined, status: 429 });
    expect((error as Error).message).toContain('Too many concurrent requests');
  });

  it.each([
    [
      '401',
      { status: 401, body: { status: 'fail', error: 'Catalogs not enabled' } },
      PermanentError,
      ErrorCode.AUTH_FAILED,
    ],
    ['403', { status: 403, body: '' }, PermanentError, ErrorCode.AUTH_FAILED],
    [
      '404 CATALOG_NOT_FOUND',
      { status: 404, body: { code: 'CATALOG_NOT_FOUND', message: 'no catalog' } },
      PermanentError,
      ErrorCode.VENDOR_REJECTED,
    ],
    ['503', { status: 503, body: '' }, RetryableError, ErrorCode.VENDOR_UNAVAILABLE],
  ] as const)('classifies a %s answer', async (_name, reply, errorClass, code) => {
    // Prepare
    const http = new ScriptedHttp().queue('presign', reply);
    const ctx = ctContext({ http });

    // Act
    const error = await rejectionOf(
      clevertapCatalogAdapter.requestUpload(fileFor('clevertap/123/a.csv', 10), ctx),
    );

    // Assess
    expect(error).toBeInstanceOf(errorClass);
    expect(error).toMatchObject({ code });
  });

  it('refuses a region that disagrees with the base URL before calling', async () => {
    // Prepare
    const http = new ScriptedHttp();
    const ctx = ctContext({ http, options: { catalogId: 1, region: 'us1' } });

    // Act
    const error = await rejectionOf(
      clevertapCatalogAdapter.requestUpload(fileFor('clevertap/1/a.csv', 10), ctx),
    );

    // Assess
    expect(error).toMatchObject({ retryable: false, code: ErrorCode.ROUTE_CONFIG_INVALID });
    expect(http.requests).toHaveLength(0);
  });

  it.each([
    ['the matching region host', { baseUrl: 'https://api.clevertap.com', region: 'eu', loopback: false }],
    ['the loopback sandbox', { baseUrl: 'http://127.0.0.1:4010', region: 'in1', loopback: true }],
  ])('accepts a region with %s', async (_name, setup) => {
    // Prepare
    const http = new ScriptedHttp().queue('presign', {
      status: 200,
      body: { uploadId: 'u', signedUrl: partUrl(0) },
    });
    const ctx = ctContext({
      http,
      baseUrl: setup.baseUrl,
      loopback: setup.loopback,
      options: { catalogId: 1, region: setup.region },
    });

    // Act
    const plan = await clevertapCatalogAdapter.requestUpload(fileFor('clevertap/1/a.csv', 10), ctx);

    // Assess
    expect(plan.kind).toBe('single');
  });
});

describe('clevertapCatalogAdapter.complete', () => {
  it('marks a single upload complete with the documented body and records job id and ETA', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('complete', accepted);
    const ctx = ctContext({ http, options: { catalogId: '123', completedBy: 'ops@example.com' } });
    const input: CompletionInput = {
      file: fileFor('clevertap/123/products.csv', 12_345),
      upload: { kind: 'single', url: 'https://bucket.s3.amazonaws.com/catalog/u-9' },
      refs: { uploadId: 'upload_abc123', fileName: 'products.csv' },
    };

    // Act
    const result = await clevertapCatalogAdapter.complete(input, ctx);

    // Assess
    expect(http.requests).toEqual([
      {
        operation: 'complete',
        method: 'POST',
        path: '/v2/catalogs/signedurl/complete',
        headers: HEADERS,
        json: {
          uploadId: 'upload_abc123',
          catalogId: 123,
          fileName: 'products.csv',
          fileSize: 12_345,
          completedBy: 'ops@example.com',
        },
      },
    ]);
    expect(result).toEqual({
      refs: { jobId: 'job_xyz789', estimatedCompletionTime: '2025-11-06T10:45:00Z' },
      vendorState: 'PROCESSING',
    });
    expect(ctx.checkpoints).toEqual([]);
  });

  it('completes the multipart upload with sorted part ETags, checkpoints, then marks complete', async () => {
    // Prepare
    const order: string[] = [];
    const http = new ScriptedHttp()
      .queue('complete-multipart', () => {
        order.push('complete-multipart');
        return { status: 200, body: '' };
      })
      .queue('complete', () => {
        order.push('complete');
        return accepted;
      });
    const ctx = ctContext({ http });
    const checkpoint = ctx.checkpoint;
    const tracked = {
      ...ctx,
      async checkpoint(refs: CompletionInput['refs']) {
        order.push('checkpoint');
        await checkpoint(refs);
      },
    };

    // Act
    const result = await clevertapCatalogAdapter.complete(multipartInput(), tracked);

    // Assess
    expect(order).toEqual(['complete-multipart', 'checkpoint', 'complete']);
    expect(http.calls('complete-multipart')).toEqual([
      {
        operation: 'complete-multipart',
        method: 'POST',
        path: '/v2/catalogs/signedurl/complete-multipart',
        headers: HEADERS,
        json: {
          uploadId: 'u-1',
          catalogId: 123,
          parts: [
            { partNumber: 1, eTag: '"e1"' },
            { partNumber: 2, eTag: '"e2"' },
            { partNumber: 3, eTag: '"e3"' },
          ],
        },
      },
    ]);
    expect(ctx.checkpoints).toEqual([{ multipartCompleted: true }]);
    expect(http.calls('complete')[0]?.json).toMatchObject({ uploadId: 'u-1', fileSize: 11 * MiB });
    expect(result.refs.jobId).toBe('job_xyz789');
  });

  it('skips complete-multipart on a retry after the checkpoint', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('complete', accepted);
    const ctx = ctContext({ http });

    // Act
    await clevertapCatalogAdapter.complete(multipartInput({ multipartCompleted: true }), ctx);

    // Assess
    expect(http.requests.map((r) => r.operation)).toEqual(['complete']);
    expect(ctx.checkpoints).toEqual([]);
  });

  it('does not checkpoint or mark complete when complete-multipart fails', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('complete-multipart', {
      status: 500,
      body: { code: 'INTERNAL_ERROR' },
    });
    const ctx = ctContext({ http });

    // Act
    const error = await rejectionOf(clevertapCatalogAdapter.complete(multipartInput(), ctx));

    // Assess
    expect(error).toMatchObject({ retryable: true, vendorCode: 'INTERNAL_ERROR' });
    expect(ctx.checkpoints).toEqual([]);
    expect(http.calls('complete')).toHaveLength(0);
  });

  it('uses renamed complete-multipart fields and path', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('complete-multipart', { status: 204 }).queue('complete', accepted);
    const ctx = ctContext({
      http,
      options: {
        catalogId: 123,
        paths: { completeMultipart: '/v2/catalogs/multipart/finish' },
        fields: {
          uploadId: 'upload_id',
          parts: 'etags',
          partNumber: 'n',
          eTag: 'etag',
          catalogId: 'catalog',
        },
      },
    });

    // Act
    await clevertapCatalogAdapter.complete(multipartInput(), ctx);

    // Assess
    expect(http.calls('complete-multipart')[0]).toMatchObject({
      path: '/v2/catalogs/multipart/finish',
      json: {
        upload_id: 'u-1',
        catalog: 123,
        etags: [
          { n: 1, etag: '"e1"' },
          { n: 2, etag: '"e2"' },
          { n: 3, etag: '"e3"' },
        ],
      },
    });
  });

  it('refuses to complete a multipart upload with missing parts', async () => {
    // Prepare
    const http = new ScriptedHttp();
    const ctx = ctContext({ http });
    const input = multipartInput();

    // Act
    const error = await rejectionOf(
      clevertapCatalogAdapter.complete(
        { ...input, upload: { ...input.upload, parts: [{ partNumber: 1, eTag: '"e1"' }] } },
        ctx,
      ),
    );

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect(http.requests).toHaveLength(0);
  });

  it.each([
    ['UPLOAD_NOT_FOUND', 404, false, ErrorCode.VENDOR_REJECTED],
    ['CATALOG_NOT_FOUND', 404, false, ErrorCode.VENDOR_REJECTED],
    ['CATALOG_INVALID_REQUEST', 400, false, ErrorCode.VENDOR_REJECTED],
    ['AUTHENTICATION_FAILED', 401, false, ErrorCode.AUTH_FAILED],
    ['AUTHORIZATION_FAILED', 403, false, ErrorCode.AUTH_FAILED],
    ['INTERNAL_ERROR', 500, true, ErrorCode.VENDOR_UNAVAILABLE],
    // The statuses are not published: the code decides even under an unexpected status.
    ['UPLOAD_NOT_FOUND', 500, false, ErrorCode.VENDOR_REJECTED],
  ] as const)('classifies mark-complete error %s (HTTP %i)', async (code, status, retryable, errorCode) => {
    // Prepare
    const http = new ScriptedHttp().queue('complete', {
      status,
      body: { status: 'fail', code, error: `${code} happened` },
    });
    const ctx = ctContext({ http });
    const input: CompletionInput = {
      file: fileFor('clevertap/123/p.csv', 10),
      upload: { kind: 'single', url: 'https://x.s3.amazonaws.com/p' },
      refs: { uploadId: 'u' },
    };

    // Act
    const error = await rejectionOf(clevertapCatalogAdapter.complete(input, ctx));

    // Assess
    expect(error).toMatchObject({ retryable, code: errorCode, vendorCode: code, status });
  });

  it('reports an accepted mark-complete without a jobId as ambiguous', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('complete', { status: 200, body: '{"status":"PROC' });
    const ctx = ctContext({ http });
    const input: CompletionInput = {
      file: fileFor('clevertap/123/p.csv', 10),
      upload: { kind: 'single', url: 'https://x.s3.amazonaws.com/p' },
      refs: { uploadId: 'u' },
    };

    // Act
    const error = await rejectionOf(clevertapCatalogAdapter.complete(input, ctx));

    // Assess
    expect(error).toBeInstanceOf(AmbiguousOutcomeError);
  });
});
