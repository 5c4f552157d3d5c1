import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/index';
import {
  auth,
  CSV,
  call,
  md5Hex,
  put,
  rawPut,
  rawRequest,
  sha256Base64,
  uniqueName,
  waitForCalls,
} from './support';

const CSV_MIME = 'text/csv';

describe('sandbox presigned uploads (S3 rules)', () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox({ jobDurationMs: 50, clevertapLatencyMs: 0 });
  });
  afterAll(async () => {
    await sandbox.close();
  });
  beforeEach(() => {
    sandbox.reset();
  });

  /** A cleartax-one URL: signed for text/csv. */
  async function presign(fileName: string): Promise<string> {
    const answer = await call(`${sandbox.url}/one-integration/action/pre-sign?filename=${fileName}`, {
      headers: auth(sandbox).one,
    });
    expect(answer.status).toBe(200);
    return (answer.body as { result: { uploadUrl: string } }).result.uploadUrl;
  }

  it('stores a complete PUT and answers 200, an empty body and the MD5 ETag', async () => {
    // Prepare
    const fileName = uniqueName('csv');
    const url = await presign(fileName);

    // Act
    const answer = await put(url, CSV, CSV_MIME);

    // Assess
    expect(answer).toEqual({ status: 200, etag: `"${md5Hex(CSV)}"`, text: '' });
    expect(sandbox.log.uploads({ fileName })).toEqual([
      expect.objectContaining({
        vendor: 'cleartax-one',
        fileName,
        size: CSV.length,
        sha256Base64: sha256Base64(CSV),
        md5Hex: md5Hex(CSV),
        contentType: CSV_MIME,
      }),
    ]);
  });

  it('refuses a Content-Type other than the one signed with 403 SignatureDoesNotMatch in S3 XML', async () => {
    // Prepare
    const fileName = uniqueName('csv');
    const url = await presign(fileName);

    // Act
    const answer = await fetch(url, {
      method: 'PUT',
      body: CSV,
      headers: { 'content-type': 'application/vnd.ms-excel' },
    });

    // Assess
    expect(answer.status).toBe(403);
    expect(answer.headers.get('content-type')).toBe('application/xml');
    const text = await answer.text();
    expect(text).toMatch(
      /^<\?xml [^>]*\?>\s*<Error><Code>SignatureDoesNotMatch<\/Code><Message>[^<]+<\/Message>/,
    );
    expect(sandbox.log.uploads({ fileName })).toEqual([]);
  });

  it('refuses a PUT without Content-Type when one was signed', async () => {
    // Prepare
    const url = await presign(uniqueName('csv'));

    // Act
    const answer = await put(url, CSV, undefined);

    // Assess
    expect(answer.status).toBe(403);
    expect(answer.text).toContain('<Code>SignatureDoesNotMatch</Code>');
  });

  it.each<[string, (url: URL) => void]>([
    [
      'the file name in the path',
      (url) => {
        url.pathname = url.pathname.replace(/[^/]+$/, 'other.csv');
      },
    ],
    [
      'the signature',
      (url) => {
        const signature = url.searchParams.get('X-Amz-Signature') ?? '';
        url.searchParams.set('X-Amz-Signature', `${signature[0] === 'a' ? 'b' : 'a'}${signature.slice(1)}`);
      },
    ],
    [
      'the expiry',
      (url) => {
        url.searchParams.set('X-Amz-Expires', '604800');
      },
    ],
  ])('refuses a URL with %s altered with 403 SignatureDoesNotMatch', async (_what, tamper) => {
    // Prepare
    const url = new URL(await presign(uniqueName('csv')));
    tamper(url);

    // Act
    const answer = await put(url.toString(), CSV, CSV_MIME);

    // Assess
    expect(answer.status).toBe(403);
    expect(answer.text).toContain('<Code>SignatureDoesNotMatch</Code>');
  });

  it('refuses a PUT sent to another host name than the one signed', async () => {
    // Prepare
    const url = new URL(await presign(uniqueName('csv')));
    url.hostname = 'localhost';

    // Act
    const answer = await put(url.toString(), CSV, CSV_MIME);

    // Assess
    expect(answer.status).toBe(403);
    expect(answer.text).toContain('<Code>SignatureDoesNotMatch</Code>');
  });

  it('refuses the bare object path (no signature) with 403 AccessDenied', async () => {
    // Prepare
    const url = new URL(await presign(uniqueName('csv')));

    // Act
    const answer = await put(`${url.origin}${url.pathname}`, CSV, CSV_MIME);

    // Assess
    expect(answer.status).toBe(403);
    expect(answer.text).toContain('<Code>AccessDenied</Code>');
  });

  it('refuses an expired URL with 403 AccessDenied "Request has expired"', async () => {
    // Prepare
    const fileName = uniqueName('csv');
    sandbox.faults.inject({ vendor: 'cleartax-one', operation: 'presign', action: { kind: 'expired-url' } });
    const url = await presign(fileName);

    // Act
    const answer = await put(url, CSV, CSV_MIME);

    // Assess
    expect(answer.status).toBe(403);
    expect(answer.text).toContain('<Code>AccessDenied</Code><Message>Request has expired</Message>');
    expect(sandbox.log.uploads({ fileName })).toEqual([]);
  });

  it('refuses a PUT without Content-Length with 411 MissingContentLength', async () => {
    // Prepare
    const url = new URL(await presign(uniqueName('csv')));

    // Act
    const response = await rawRequest(url.toString(), [
      `PUT ${url.pathname}${url.search} HTTP/1.1`,
      `Host: ${url.host}`,
      `Content-Type: ${CSV_MIME}`,
    ]);

    // Assess
    expect(response).toMatch(/^HTTP\/1\.1 411 /);
    expect(response).toContain('<Code>MissingContentLength</Code>');
  });

  it('refuses chunked transfer encoding with 501 NotImplemented and stores nothing', async () => {
    // Prepare
    const fileName = uniqueName('csv');
    const url = await presign(fileName);

    // Act
    const answer = await rawPut(url, {
      headers: { 'content-type': CSV_MIME, 'transfer-encoding': 'chunked' },
      chunks: [CSV],
      finish: 'end',
    });

    // Assess
    expect(answer).toMatchObject({ status: 501 });
    expect(answer).toHaveProperty('text', expect.stringContaining('<Code>NotImplemented</Code>'));
    expect(sandbox.log.uploads({ fileName })).toEqual([]);
  });

  it('answers 400 IncompleteBody and stores nothing when the client half-closes before Content-Length bytes', async () => {
    // Prepare
    const fileName = uniqueName('csv');
    const url = await presign(fileName);

    // Act
    const answer = await rawPut(url, {
      headers: { 'content-type': CSV_MIME, 'content-length': CSV.length + 100 },
      chunks: [CSV],
      finish: 'half-close',
      beforeFinish: () => waitForCalls(sandbox, { operation: 'upload', fileName }, 1),
    });

    // Assess
    expect(answer).toMatchObject({ status: 400 });
    expect(answer).toHaveProperty('text', expect.stringContaining('<Code>IncompleteBody</Code>'));
    expect(sandbox.log.uploads({ fileName })).toEqual([]);
    expect(sandbox.log.calls({ operation: 'upload', fileName })).toEqual([
      expect.objectContaining({ status: 400, error: expect.stringMatching(/^IncompleteBody/) }),
    ]);
  });

  it('stores nothing when the client drops the connection mid-body', async () => {
    // Prepare
    const fileName = uniqueName('csv');
    const url = await presign(fileName);

    // Act
    const answer = await rawPut(url, {
      headers: { 'content-type': CSV_MIME, 'content-length': CSV.length * 4 },
      chunks: [CSV],
      finish: 'destroy',
      beforeFinish: () => waitForCalls(sandbox, { operation: 'upload', fileName }, 1),
    });
    await waitForCalls(sandbox, { operation: 'upload', fileName }, 1);

    // Assess
    expect(answer).toHaveProperty('error');
    await expect
      .poll(() => sandbox.log.calls({ operation: 'upload', fileName })[0]?.error)
      .toMatch(/^IncompleteBody/);
    expect(sandbox.log.uploads({ fileName })).toEqual([]);
  });

  it('lets a second successful PUT to the same URL overwrite the first', async () => {
    // Prepare: Inspect checks the stored bytes against the declared hash at completion.
    const headers = auth(sandbox).inspect;
    const presigned = await call(`${sandbox.url}/api/inspect/v1/file/upload/presigned`, {
      headers,
      json: {
        assetID: sandbox.credentials.inspect.assetIds[0],
        contentType: CSV_MIME,
        hash: sha256Base64(CSV),
        name: uniqueName('csv'),
        size: CSV.length,
      },
    });
    const { presignedURL, id } = (presigned.body as { data: { presignedURL: string; id: string } }).data;
    const wrong = Buffer.from('x'.repeat(CSV.length));
    expect((await put(presignedURL, wrong, CSV_MIME)).status).toBe(200);

    // Act
    const second = await put(presignedURL, CSV, CSV_MIME);
    const completed = await call(`${sandbox.url}/api/inspect/v1/file/upload/complete`, {
      headers,
      json: { id },
    });

    // Assess
    expect(second.status).toBe(200);
    expect(completed.status).toBe(200);
  });

  it('answers 404 NoSuchBucket for a bucket no vendor uses, without a call record', async () => {
    // Act
    const answer = await put(`${sandbox.url}/_s3/someone-elses-bucket/abc/file.csv`, CSV, CSV_MIME);

    // Assess
    expect(answer.status).toBe(404);
    expect(answer.text).toContain('<Code>NoSuchBucket</Code>');
    expect(sandbox.log.calls()).toEqual([]);
  });
});
