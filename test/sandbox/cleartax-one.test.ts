import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/index';
import { auth, BINARY, CSV, call, pollUntil, put, uniqueName, XLSX, XLSX_MIME } from './support';

describe('sandbox cleartax-one', () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox({ jobDurationMs: 80 });
  });
  afterAll(async () => {
    await sandbox.close();
  });
  beforeEach(() => {
    sandbox.reset();
  });

  function presign(fileName: string, headers: Record<string, string> = auth(sandbox).one) {
    return call(`${sandbox.url}/one-integration/action/pre-sign?filename=${encodeURIComponent(fileName)}`, {
      headers,
    });
  }

  function ingest(body: unknown) {
    return call(`${sandbox.url}/one-integration/api/v1/ingest`, { headers: auth(sandbox).one, json: body });
  }

  function workflow(taskId: string) {
    return call(`${sandbox.url}/one-integration/workflow/status?taskId=${taskId}`, {
      headers: auth(sandbox).one,
    });
  }

  async function uploaded(fileName: string, bytes: Buffer, mime: string): Promise<string> {
    const url = ((await presign(fileName)).body as { result: { uploadUrl: string } }).result.uploadUrl;
    expect((await put(url, bytes, mime)).status).toBe(200);
    return url;
  }

  it('answers the documented envelope with a one-hour URL', async () => {
    // Act
    const answer = await presign(uniqueName('csv'));

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      status: 200,
      success: true,
      message: 'generated pre-sign url successfully',
      result: { status: 'OK', uploadUrl: expect.stringContaining('/_s3/') },
      error: null,
      metadata: null,
    });
    const url = new URL((answer.body as { result: { uploadUrl: string } }).result.uploadUrl);
    expect(url.searchParams.get('X-Amz-Expires')).toBe('3600');
  });

  it.each([
    ['csv', 'text/csv'],
    ['xls', 'application/vnd.ms-excel'],
    ['xlsx', XLSX_MIME],
    ['zip', 'application/zip'],
  ])('signs a .%s URL for %s', async (extension, mime) => {
    // Prepare
    const url = ((await presign(uniqueName(extension))).body as { result: { uploadUrl: string } }).result
      .uploadUrl;

    // Act
    const wrong = await put(url, XLSX, 'application/octet-stream');
    const right = await put(url, XLSX, mime);

    // Assess
    expect(wrong.status).toBe(403);
    expect(right.status).toBe(200);
  });

  it('answers 401 with the plain-text body UNAUTHORIZED for a bad or missing token', async () => {
    // Act
    const bad = await presign(uniqueName('csv'), { ...auth(sandbox).one, 'x-clear-auth-token': 'invalid' });
    const missing = await presign(uniqueName('csv'), {
      'x-integration-id': sandbox.credentials.cleartax.integrationId,
    });

    // Assess
    for (const answer of [bad, missing]) {
      expect(answer.status).toBe(401);
      expect(answer.text).toBe('UNAUTHORIZED');
      expect(answer.headers.get('content-type')).toMatch(/^text\/plain/);
    }
  });

  it('refuses a malformed or foreign integration id', async () => {
    // Act
    const malformed = await presign(uniqueName('csv'), { ...auth(sandbox).one, 'x-integration-id': 'short' });
    const foreign = await presign(uniqueName('csv'), {
      ...auth(sandbox).one,
      'x-integration-id': '00000000-0000-4000-8000-000000000000',
    });

    // Assess
    expect(malformed).toMatchObject({ status: 400, body: { success: false } });
    expect(foreign).toMatchObject({ status: 403, body: { success: false } });
  });

  it.each(['abc', 'report.pdf', 'data.csv.gz'])('answers 406 for the file name %s', async (fileName) => {
    // Act
    const answer = await presign(fileName);

    // Assess
    expect(answer.status).toBe(406);
    expect(answer.body).toEqual({
      status: 406,
      success: false,
      message: 'ERROR',
      result: null,
      error: {
        code: '406',
        message: 'Invalid file extension. Allowed extensions: csv, xlsx, xls, zip',
        validationErrors: null,
      },
      metadata: null,
    });
  });

  it('answers 400 for an empty file name', async () => {
    // Act
    const answer = await presign('');

    // Assess
    expect(answer).toMatchObject({ status: 400, body: { success: false, result: null } });
  });

  it('runs an upload from ingest through PROCESSING to SUCCESS, error staying null', async () => {
    // Prepare
    const fileName = uniqueName('csv');
    const url = await uploaded(fileName, CSV, 'text/csv');

    // Act
    const created = await ingest({
      fileInfo: [{ uploadUrl: url, filename: fileName, fileType: 'sales' }],
      templateType: 'SALES',
    });
    const { taskId } = (created.body as { result: { taskId: string } }).result;
    const seen = await pollUntil(
      async () => (await workflow(taskId)).body as { error: unknown; result: { workflowStatus: string } },
      (body) => ['SUCCESS', 'FAILED'].includes(body.result.workflowStatus),
    );

    // Assess
    expect(created).toMatchObject({
      status: 200,
      body: { success: true, result: { taskId, status: 'CREATED' } },
    });
    const ranks = seen.map((body) =>
      ['CREATED', 'PROCESSING', 'SUCCESS'].indexOf(body.result.workflowStatus),
    );
    expect(ranks).not.toContain(-1);
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    expect(seen.every((body) => body.error === null)).toBe(true);
  });

  it('ends FAILED, still with a 200 and error null, when the content does not match the extension', async () => {
    // Prepare
    const fileName = uniqueName('xlsx');
    const url = new URL(await uploaded(fileName, BINARY, XLSX_MIME));
    const created = await ingest({
      fileInfo: [{ uploadUrl: `${url.origin}${url.pathname}`, fileType: 'sales' }],
      templateType: 'SALES',
    });
    const { taskId } = (created.body as { result: { taskId: string } }).result;

    // Act
    const seen = await pollUntil(
      () => workflow(taskId),
      (answer) => (answer.body as { result: { workflowStatus: string } }).result.workflowStatus === 'FAILED',
    );

    // Assess
    expect(seen.at(-1)).toMatchObject({ status: 200, body: { success: true, error: null } });
  });

  it('creates a new task on every ingest call (no idempotency)', async () => {
    // Prepare
    const fileName = uniqueName('csv');
    const body = {
      fileInfo: [{ uploadUrl: await uploaded(fileName, CSV, 'text/csv'), fileType: 'sales' }],
      templateType: 'SALES',
    };

    // Act
    const first = await ingest(body);
    const second = await ingest(body);

    // Assess
    expect(first.body).not.toEqual(second.body);
    expect(sandbox.log.completions('cleartax-one', fileName)).toHaveLength(2);
  });

  it.each([
    ['an empty fileInfo list', () => ({ fileInfo: [], templateType: 'SALES' })],
    ['a missing templateType', (url: string) => ({ fileInfo: [{ uploadUrl: url, fileType: 'sales' }] })],
    ['a missing fileType', (url: string) => ({ fileInfo: [{ uploadUrl: url }], templateType: 'SALES' })],
    [
      'an uploadUrl naming no presigned file',
      () => ({
        fileInfo: [{ uploadUrl: 'http://127.0.0.1:1/_s3/x/y/z.csv', fileType: 'sales' }],
        templateType: 'SALES',
      }),
    ],
  ])('answers 400 to an ingest with %s', async (_case, body) => {
    // Prepare
    const url = await uploaded(uniqueName('csv'), CSV, 'text/csv');

    // Act
    const answer = await ingest(body(url));

    // Assess
    expect(answer).toMatchObject({ status: 400, body: { success: false, result: null } });
  });

  it('answers 400 to an ingest naming a file not uploaded yet', async () => {
    // Prepare
    const url = ((await presign(uniqueName('csv'))).body as { result: { uploadUrl: string } }).result
      .uploadUrl;

    // Act
    const answer = await ingest({ fileInfo: [{ uploadUrl: url, fileType: 'sales' }], templateType: 'SALES' });

    // Assess
    expect(answer.status).toBe(400);
  });

  it('answers result null for an unknown task', async () => {
    // Act
    const answer = await workflow('00000000-0000-4000-8000-000000000000');

    // Assess
    expect(answer).toMatchObject({ status: 200, body: { result: null, error: null } });
  });
});
