import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/index';
import { auth, CSV, call, pollUntil, put, uniqueName } from './support';

const SINGLE_LIMIT = 64 * 1024;
const MIB = 1024 * 1024;

describe('sandbox clevertap-catalog', () => {
  let sandbox: Sandbox;
  let catalogId: number;

  beforeAll(async () => {
    sandbox = await startSandbox({ clevertapLatencyMs: 5, clevertapSingleUploadLimit: SINGLE_LIMIT });
    catalogId = sandbox.credentials.clevertap.catalogIds[0] ?? 0;
  });
  afterAll(async () => {
    await sandbox.close();
  });
  beforeEach(() => {
    sandbox.reset();
  });

  function signedUrl(params: Record<string, string | number | boolean>, headers = auth(sandbox).clevertap) {
    const query = new URLSearchParams(
      Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]),
    );
    return call(`${sandbox.url}/v2/catalogs/signedurl?${query}`, { headers });
  }

  async function single(fileName: string): Promise<{ uploadId: string; signedUrl: string }> {
    const answer = await signedUrl({ catalogId, fileName, contentType: 'text/csv', multiPart: false });
    expect(answer.status).toBe(200);
    return answer.body as { uploadId: string; signedUrl: string };
  }

  async function multipart(fileName: string, totalParts: number) {
    const answer = await signedUrl({
      catalogId,
      fileName,
      contentType: 'text/csv',
      multiPart: true,
      totalParts,
    });
    expect(answer.status).toBe(200);
    return answer.body as { uploadId: string; parts: Array<{ partNumber: number; signedUrl: string }> };
  }

  function completeMultipart(body: unknown) {
    return call(`${sandbox.url}/v2/catalogs/signedurl/complete-multipart`, {
      headers: auth(sandbox).clevertap,
      json: body,
    });
  }

  function complete(body: unknown) {
    return call(`${sandbox.url}/v2/catalogs/signedurl/complete`, {
      headers: auth(sandbox).clevertap,
      json: body,
    });
  }

  /** Uploads `sizes` as parts 1..n; answers their ETags. */
  async function uploadParts(parts: Array<{ signedUrl: string }>, sizes: number[]): Promise<string[]> {
    const eTags: string[] = [];
    for (const [i, size] of sizes.entries()) {
      const answer = await put(parts[i]?.signedUrl ?? '', Buffer.alloc(size, 0x61 + i), 'text/csv');
      expect(answer.status).toBe(200);
      eTags.push(answer.etag ?? '');
    }
    return eTags;
  }

  describe('signed URL', () => {
    it('answers one URL for a single upload, signed for the asked contentType', async () => {
      // Prepare
      const fileName = uniqueName('xml');
      const answer = await signedUrl({
        catalogId,
        fileName,
        contentType: 'application/xml',
        multiPart: false,
      });
      const { signedUrl: url } = answer.body as { signedUrl: string };

      // Act
      const wrong = await put(url, CSV, 'text/xml');
      const right = await put(url, CSV, 'application/xml');

      // Assess
      expect(answer.body).toEqual({
        uploadId: expect.any(String),
        signedUrl: expect.stringContaining('/_s3/'),
      });
      expect(wrong.status).toBe(403);
      expect(right.status).toBe(200);
    });

    it('answers one URL per part for a multipart upload', async () => {
      // Act
      const body = await multipart(uniqueName('csv'), 3);

      // Assess
      expect(body.parts.map((part) => part.partNumber)).toEqual([1, 2, 3]);
      expect(new URL(body.parts[1]?.signedUrl ?? '').searchParams.get('partNumber')).toBe('2');
    });

    it('answers 401 AUTHENTICATION_FAILED for a wrong token', async () => {
      // Act
      const answer = await signedUrl(
        { catalogId, fileName: 'a.csv', contentType: 'text/csv', multiPart: false },
        { ...auth(sandbox).clevertap, 'x-clevertap-token': 'wrong' },
      );

      // Assess
      expect(answer).toMatchObject({ status: 401, body: { status: 'fail', code: 'AUTHENTICATION_FAILED' } });
    });

    it.each<[string, Record<string, string | number | boolean>]>([
      ['catalogId missing', { fileName: 'a.csv', contentType: 'text/csv', multiPart: false }],
      [
        'catalogId not a number',
        { catalogId: 'abc', fileName: 'a.csv', contentType: 'text/csv', multiPart: false },
      ],
      ['fileName missing', { catalogId: 1001, contentType: 'text/csv', multiPart: false }],
      [
        'fileName over 500',
        { catalogId: 1001, fileName: `${'a'.repeat(497)}.csv`, contentType: 'text/csv', multiPart: false },
      ],
      [
        'contentType not allowed',
        { catalogId: 1001, fileName: 'a.csv', contentType: 'application/json', multiPart: false },
      ],
      ['multiPart missing', { catalogId: 1001, fileName: 'a.csv', contentType: 'text/csv' }],
      [
        'totalParts missing on multipart',
        { catalogId: 1001, fileName: 'a.csv', contentType: 'text/csv', multiPart: true },
      ],
    ])('answers 400 CATALOG_INVALID_REQUEST with %s', async (_case, params) => {
      // Act
      const answer = await signedUrl(params);

      // Assess
      expect(answer).toMatchObject({
        status: 400,
        body: { status: 'fail', code: 'CATALOG_INVALID_REQUEST' },
      });
    });

    it('answers 404 CATALOG_NOT_FOUND for an unknown catalog', async () => {
      // Act
      const answer = await signedUrl({
        catalogId: 999,
        fileName: 'a.csv',
        contentType: 'text/csv',
        multiPart: false,
      });

      // Assess
      expect(answer).toMatchObject({ status: 404, body: { code: 'CATALOG_NOT_FOUND' } });
    });

    it('refuses a single upload at the size limit with 400 EntityTooLarge and takes one just under', async () => {
      // Prepare
      const { signedUrl: url } = await single(uniqueName('csv'));

      // Act
      const atLimit = await put(url, Buffer.alloc(SINGLE_LIMIT, 0x61), 'text/csv');
      const under = await put(url, Buffer.alloc(SINGLE_LIMIT - 1, 0x61), 'text/csv');

      // Assess
      expect(atLimit.status).toBe(400);
      expect(atLimit.text).toContain('<Code>EntityTooLarge</Code>');
      expect(under.status).toBe(200);
    });
  });

  describe('concurrency', () => {
    it('answers 429 "Too many concurrent requests" without Retry-After beyond 3 in-flight calls, and admits again once one ends', async () => {
      // Prepare: three calls held open by the sandbox.
      sandbox.faults.inject({
        vendor: 'clevertap-catalog',
        operation: 'presign',
        times: 3,
        action: { kind: 'hang' },
      });
      const held = Array.from({ length: 3 }, () => {
        const abort = new AbortController();
        const request = fetch(`${sandbox.url}/v2/catalogs/signedurl?catalogId=${catalogId}`, {
          headers: auth(sandbox).clevertap,
          signal: abort.signal,
        }).catch(() => undefined);
        return { abort, request };
      });
      // The hang applies after the latency: wait until all three are held.
      await pollUntil(
        async () => sandbox.log.calls({ operation: 'presign' }).filter((c) => c.fault === 'hang').length,
        (held) => held === 3,
      );

      // Act
      const fourth = await fetch(`${sandbox.url}/v2/catalogs/signedurl?catalogId=${catalogId}`, {
        headers: auth(sandbox).clevertap,
      });
      const fourthBody = await fourth.json();
      held[0]?.abort.abort();
      await held[0]?.request;
      const params = { catalogId, fileName: uniqueName('csv'), contentType: 'text/csv', multiPart: false };
      const afterRelease = await pollUntil(
        () => signedUrl(params),
        (answer) => answer.status !== 429,
      );

      // Assess
      expect(fourth.status).toBe(429);
      expect(fourth.headers.get('retry-after')).toBeNull();
      expect(fourthBody).toMatchObject({ status: 'fail', error: 'Too many concurrent requests' });
      expect(afterRelease.at(-1)?.status).toBe(200);
      for (const { abort } of held) abort.abort();
    });
  });

  describe('complete-multipart', () => {
    it('completes a multi-MB upload and marks it complete with its total size', async () => {
      // Prepare
      const fileName = uniqueName('csv');
      const { uploadId, parts } = await multipart(fileName, 2);
      const sizes = [5 * MIB, 300 * 1024];
      const eTags = await uploadParts(parts, sizes);

      // Act
      const completed = await completeMultipart({
        uploadId,
        catalogId,
        parts: eTags.map((eTag, i) => ({ partNumber: i + 1, eTag })),
      });
      const marked = await complete({
        uploadId,
        catalogId,
        fileName,
        fileSize: sizes.reduce((sum, size) => sum + size, 0),
        completedBy: 'vendor-ingest',
      });

      // Assess
      expect(completed).toMatchObject({ status: 200, body: { status: 'COMPLETED', uploadId } });
      expect(marked).toMatchObject({
        status: 200,
        body: {
          status: 'PROCESSING',
          jobId: expect.any(String),
          estimatedCompletionTime: expect.any(String),
        },
      });
      expect(sandbox.log.uploads({ fileName }).map((u) => [u.partNumber, u.size])).toEqual([
        [1, sizes[0]],
        [2, sizes[1]],
      ]);
    });

    it('answers a repeated identical completion with 200 again', async () => {
      // Prepare
      const { uploadId, parts } = await multipart(uniqueName('csv'), 1);
      const [eTag] = await uploadParts(parts, [100]);
      const body = { uploadId, catalogId, parts: [{ partNumber: 1, eTag }] };
      expect((await completeMultipart(body)).status).toBe(200);

      // Act
      const again = await completeMultipart(body);

      // Assess
      expect(again).toMatchObject({ status: 200, body: { status: 'COMPLETED' } });
    });

    it('answers 400 InvalidPart for a part never uploaded', async () => {
      // Prepare
      const { uploadId, parts } = await multipart(uniqueName('csv'), 2);
      const [eTag] = await uploadParts(parts, [100]);

      // Act
      const answer = await completeMultipart({
        uploadId,
        catalogId,
        parts: [
          { partNumber: 1, eTag },
          { partNumber: 2, eTag },
        ],
      });

      // Assess
      expect(answer).toMatchObject({ status: 400, body: { code: 'InvalidPart' } });
    });

    it('answers 400 InvalidPart for an ETag that does not match the part', async () => {
      // Prepare
      const { uploadId, parts } = await multipart(uniqueName('csv'), 1);
      await uploadParts(parts, [100]);

      // Act
      const answer = await completeMultipart({
        uploadId,
        catalogId,
        parts: [{ partNumber: 1, eTag: '"00000000000000000000000000000000"' }],
      });

      // Assess
      expect(answer).toMatchObject({ status: 400, body: { code: 'InvalidPart' } });
    });

    it('answers 400 InvalidPartOrder for parts not in ascending order', async () => {
      // Prepare
      const { uploadId, parts } = await multipart(uniqueName('csv'), 2);
      const eTags = await uploadParts(parts, [5 * MIB, 10]);

      // Act
      const answer = await completeMultipart({
        uploadId,
        catalogId,
        parts: [
          { partNumber: 2, eTag: eTags[1] },
          { partNumber: 1, eTag: eTags[0] },
        ],
      });

      // Assess
      expect(answer).toMatchObject({ status: 400, body: { code: 'InvalidPartOrder' } });
    });

    it('answers 400 EntityTooSmall when a part but the last is under the minimum part size', async () => {
      // Prepare
      const { uploadId, parts } = await multipart(uniqueName('csv'), 2);
      const eTags = await uploadParts(parts, [1024, 1024]);

      // Act
      const answer = await completeMultipart({
        uploadId,
        catalogId,
        parts: eTags.map((eTag, i) => ({ partNumber: i + 1, eTag })),
      });

      // Assess
      expect(answer).toMatchObject({ status: 400, body: { code: 'EntityTooSmall' } });
    });
  });

  describe('complete', () => {
    it('marks a single upload complete and answers PROCESSING', async () => {
      // Prepare
      const fileName = uniqueName('csv');
      const { uploadId, signedUrl: url } = await single(fileName);
      await put(url, CSV, 'text/csv');

      // Act
      const answer = await complete({
        uploadId,
        catalogId,
        fileName,
        fileSize: CSV.length,
        completedBy: 'test',
      });

      // Assess
      expect(answer).toMatchObject({ status: 200, body: { status: 'PROCESSING' } });
      expect(sandbox.log.completions('clevertap-catalog', fileName)).toEqual([
        expect.objectContaining({ ref: (answer.body as { jobId: string }).jobId }),
      ]);
    });

    it.each<[string, (b: Record<string, unknown>) => Record<string, unknown>]>([
      ['catalogId as a string', (b) => ({ ...b, catalogId: String(b.catalogId) })],
      ['fileSize as a string', (b) => ({ ...b, fileSize: String(b.fileSize) })],
      ['completedBy missing', ({ completedBy: _omit, ...b }) => b],
      ['uploadId missing', ({ uploadId: _omit, ...b }) => b],
    ])('answers 400 CATALOG_INVALID_REQUEST with %s', async (_case, change) => {
      // Prepare
      const fileName = uniqueName('csv');
      const { uploadId, signedUrl: url } = await single(fileName);
      await put(url, CSV, 'text/csv');
      const body = { uploadId, catalogId, fileName, fileSize: CSV.length, completedBy: 'test' };

      // Act
      const answer = await complete(change(body));

      // Assess
      expect(answer).toMatchObject({
        status: 400,
        body: { status: 'fail', code: 'CATALOG_INVALID_REQUEST' },
      });
    });

    it('answers 404 UPLOAD_NOT_FOUND for an unknown upload id', async () => {
      // Act
      const answer = await complete({
        uploadId: 'upl_nope',
        catalogId,
        fileName: 'a.csv',
        fileSize: 1,
        completedBy: 't',
      });

      // Assess
      expect(answer).toMatchObject({ status: 404, body: { code: 'UPLOAD_NOT_FOUND' } });
    });

    it('answers 400 when fileSize differs from the bytes received', async () => {
      // Prepare
      const fileName = uniqueName('csv');
      const { uploadId, signedUrl: url } = await single(fileName);
      await put(url, CSV, 'text/csv');

      // Act
      const answer = await complete({
        uploadId,
        catalogId,
        fileName,
        fileSize: CSV.length + 1,
        completedBy: 't',
      });

      // Assess
      expect(answer).toMatchObject({ status: 400, body: { code: 'CATALOG_INVALID_REQUEST' } });
      expect(sandbox.log.completions('clevertap-catalog', fileName)).toEqual([]);
    });

    it('answers 400 while the multipart upload is not completed', async () => {
      // Prepare
      const fileName = uniqueName('csv');
      const { uploadId, parts } = await multipart(fileName, 1);
      await uploadParts(parts, [100]);

      // Act
      const answer = await complete({ uploadId, catalogId, fileName, fileSize: 100, completedBy: 't' });

      // Assess
      expect(answer).toMatchObject({ status: 400, body: { code: 'CATALOG_INVALID_REQUEST' } });
    });

    it('answers 400 when nothing was uploaded to a single URL', async () => {
      // Prepare
      const fileName = uniqueName('csv');
      const { uploadId } = await single(fileName);

      // Act
      const answer = await complete({ uploadId, catalogId, fileName, fileSize: 0, completedBy: 't' });

      // Assess
      expect(answer.status).toBe(400);
    });
  });
});
