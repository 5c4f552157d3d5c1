import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/index';
import { auth, BINARY, CSV, call, pollUntil, put, uniqueName, XLS, XLSX, XLSX_MIME } from './support';

const XLS_MIME = 'application/vnd.ms-excel';
const SALES_TEMPLATE = '618a5623836651c01c1498ad';

describe('sandbox cleartax-gst', () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox({ jobDurationMs: 80, mintDailyLimit: 3 });
  });
  afterAll(async () => {
    await sandbox.close();
  });
  beforeEach(() => {
    sandbox.reset();
  });

  function presign(
    fileName: string,
    fileContentType: string | undefined,
    { templateType = 'sales', token = sandbox.credentials.cleartax.authToken } = {},
  ) {
    return call(
      `${sandbox.url}/integration/v1/generatePreSign/${templateType}?fileName=${encodeURIComponent(fileName)}`,
      {
        headers: {
          'x-cleartax-auth-token': token,
          ...(fileContentType === undefined ? {} : { fileContentType }),
        },
      },
    );
  }

  function trigger(body: unknown, templateType = 'sales') {
    return call(`${sandbox.url}/integration/v1/ingest/file/${templateType}`, {
      headers: auth(sandbox).gst,
      json: body,
    });
  }

  function triggerBody(url: string, userFileName: string) {
    return { userInputArgs: { templateId: SALES_TEMPLATE }, fileInfo: { s3FileUrl: url, userFileName } };
  }

  function status(activityId: string, tenant = 'GSTSALES', templateType = 'sales') {
    return call(
      `${sandbox.url}/integration/v1/ingest/file/${templateType}/status/${activityId}?tenant=${tenant}`,
      { headers: auth(sandbox).gst },
    );
  }

  /** Presigns and uploads `bytes`; answers the URL. */
  async function uploaded(fileName: string, type: string, bytes: Buffer, mime: string): Promise<string> {
    const answer = await presign(fileName, type);
    const url = (answer.body as { preSignedS3Url: string }).preSignedS3Url;
    expect((await put(url, bytes, mime)).status).toBe(200);
    return url;
  }

  async function mint(secret = sandbox.credentials.cleartax.clientSecret) {
    return call(`${sandbox.url}/integration/v1/authz/token`, {
      headers: { 'x-clear-client-secret': secret },
    });
  }

  describe('token', () => {
    it('mints a token with valid_till one TTL ahead that the presign call accepts', async () => {
      // Act
      const minted = await mint();
      const { access_token, valid_till } = minted.body as { access_token: string; valid_till: string };
      const answer = await presign(uniqueName('csv'), 'CSV', { token: access_token });

      // Assess
      expect(minted.status).toBe(200);
      expect(Date.parse(valid_till)).toBeGreaterThan(Date.now() + 3_500_000);
      expect(answer.body).toMatchObject({ status: 'CREATED' });
    });

    it('invalidates the previous minted token on a new mint, and keeps the static token valid', async () => {
      // Prepare
      const first = ((await mint()).body as { access_token: string }).access_token;
      const second = ((await mint()).body as { access_token: string }).access_token;

      // Act
      const withFirst = await presign(uniqueName('csv'), 'CSV', { token: first });
      const withSecond = await presign(uniqueName('csv'), 'CSV', { token: second });
      const withStatic = await presign(uniqueName('csv'), 'CSV');

      // Assess
      expect(withFirst.status).toBe(401);
      expect(withSecond.body).toMatchObject({ status: 'CREATED' });
      expect(withStatic.body).toMatchObject({ status: 'CREATED' });
    });

    it('answers 429 API_QUOTA_EXCEEDED beyond the daily mint limit', async () => {
      // Prepare: the limit is 3 in this suite.
      for (let i = 0; i < 3; i++) expect((await mint()).status).toBe(200);

      // Act
      const fourth = await mint();

      // Assess
      expect(fourth.status).toBe(429);
      expect(fourth.body).toMatchObject({ errorCode: 'API_QUOTA_EXCEEDED' });
    });

    it('refuses a wrong client secret with 401 and counts no mint', async () => {
      // Act
      const answer = await mint('not-the-secret');

      // Assess
      expect(answer.status).toBe(401);
      expect(sandbox.log.calls({ operation: 'token' })).toEqual([expect.objectContaining({ status: 401 })]);
    });

    it('rejects a minted token once valid_till has passed', async () => {
      // Prepare
      const shortLived = await startSandbox({ tokenTtlMs: 1 });
      try {
        const minted = await call(`${shortLived.url}/integration/v1/authz/token`, {
          headers: { 'x-clear-client-secret': shortLived.credentials.cleartax.clientSecret },
        });
        const token = (minted.body as { access_token: string }).access_token;
        await new Promise((resolve) => setTimeout(resolve, 5));

        // Act
        const answer = await call(`${shortLived.url}/integration/v1/generatePreSign/sales?fileName=a.csv`, {
          headers: { 'x-cleartax-auth-token': token, fileContentType: 'CSV' },
        });

        // Assess
        expect(answer.status).toBe(401);
      } finally {
        await shortLived.close();
      }
    });
  });

  describe('presign', () => {
    it('answers CREATED with a 10-minute URL signed for the mandated Content-Type', async () => {
      // Act
      const answer = await presign(uniqueName('csv'), 'CSV');

      // Assess
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({
        status: 'CREATED',
        preSignedS3Url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/_s3\//),
        errorCode: null,
        errorMessage: null,
      });
      const url = new URL((answer.body as { preSignedS3Url: string }).preSignedS3Url);
      expect(url.searchParams.get('X-Amz-Expires')).toBe('600');
      expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('content-type;host');
    });

    it.each([
      ['XLSX', 'xlsx', XLSX, XLSX_MIME],
      ['XLS', 'xls', XLS, XLS_MIME],
      ['CSV', 'csv', CSV, XLS_MIME],
    ])('signs a %s URL for its mandated Content-Type only', async (type, extension, bytes, mime) => {
      // Prepare
      const answer = await presign(uniqueName(extension), type);
      const url = (answer.body as { preSignedS3Url: string }).preSignedS3Url;

      // Act
      const wrong = await put(url, bytes, extension === 'xlsx' ? XLS_MIME : XLSX_MIME);
      const right = await put(url, bytes, mime);

      // Assess
      expect(wrong.status).toBe(403);
      expect(right.status).toBe(200);
    });

    it('answers 401 with the documented body for a missing or invalid token', async () => {
      // Act
      const invalid = await presign(uniqueName('csv'), 'CSV', { token: 'nope' });
      const missing = await call(`${sandbox.url}/integration/v1/generatePreSign/sales?fileName=a.csv`, {
        headers: { fileContentType: 'CSV' },
      });

      // Assess
      const documented = {
        status: null,
        preSignedS3Url: null,
        errorCode: 'AUTHORIZATION_FAILED',
        errorMessage: 'Invalid Auth Token',
      };
      expect(invalid).toMatchObject({ status: 401, body: documented });
      expect(missing).toMatchObject({ status: 401, body: documented });
    });

    it.each([
      ['an empty file name', '', 'CSV'],
      ['a file name over 1500 characters', `${'a'.repeat(1500)}.csv`, 'CSV'],
      ['a fileContentType outside XLSX|XLS|CSV', 'a.pdf', 'PDF'],
      ['a fileContentType not matching the extension', 'a.csv', 'XLSX'],
      ['a file name without extension', 'report', 'CSV'],
    ])('answers 200 with status FAILED for %s', async (_case, fileName, type) => {
      // Act
      const answer = await presign(fileName, type);

      // Assess
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({
        status: 'FAILED',
        preSignedS3Url: null,
        errorCode: expect.any(String),
        errorMessage: expect.any(String),
      });
    });

    it('answers the documented 500 array when the fileContentType header is missing', async () => {
      // Act
      const answer = await presign(uniqueName('csv'), undefined);

      // Assess
      expect(answer.status).toBe(500);
      expect(answer.body).toEqual([
        {
          errorCode: 'INTERNAL_ERROR',
          errorMessage: expect.stringContaining("'fileContentType'"),
          errorField: null,
          errorValues: null,
          errorResolution: null,
        },
      ]);
    });

    it('answers 400 for an unknown template type', async () => {
      // Act
      const answer = await presign(uniqueName('csv'), 'CSV', { templateType: 'returns' });

      // Assess
      expect(answer.status).toBe(400);
    });
  });

  describe('trigger and status', () => {
    it('runs a CSV from presign to ACTIVITY_COMPLETED with processing stats', async () => {
      // Prepare
      const fileName = uniqueName('csv');
      const url = await uploaded(fileName, 'CSV', CSV, XLS_MIME);

      // Act
      const created = await trigger(triggerBody(url, fileName));
      const { activityId } = created.body as { activityId: string };
      const seen = await pollUntil(
        async () => (await status(activityId)).body as { status: string },
        (body) => body.status !== 'ACTIVITY_CREATED' && body.status !== 'ACTIVITY_QUEUED',
      );

      // Assess
      expect(created).toMatchObject({ status: 201, body: { activityId, status: 'ACTIVITY_CREATED' } });
      const ranks = seen.map((body) =>
        ['ACTIVITY_CREATED', 'ACTIVITY_QUEUED', 'ACTIVITY_COMPLETED'].indexOf(body.status),
      );
      expect(ranks).not.toContain(-1);
      expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
      expect(seen.at(-1)).toEqual({
        activityId,
        status: 'ACTIVITY_COMPLETED',
        processingStats: [{ identifier: 'GSTSALES', totalDocumentCount: 2, validRows: 2, invalidRows: 0 }],
        fileError: null,
        errors: [],
      });
    });

    it('accepts the s3FileUrl without its query string', async () => {
      // Prepare
      const fileName = uniqueName('xlsx');
      const url = new URL(await uploaded(fileName, 'XLSX', XLSX, XLSX_MIME));

      // Act
      const created = await trigger(triggerBody(`${url.origin}${url.pathname}`, fileName));

      // Assess
      expect(created.status).toBe(201);
    });

    it('ends SYSTEM_FEEDBACK with a fileError when the bytes are not the declared type', async () => {
      // Prepare
      const fileName = uniqueName('xls');
      const url = await uploaded(fileName, 'XLS', BINARY, XLS_MIME);
      const { activityId } = (await trigger(triggerBody(url, fileName))).body as { activityId: string };

      // Act
      const seen = await pollUntil(
        async () => (await status(activityId)).body as { status: string },
        (body) => !body.status.startsWith('ACTIVITY_'),
      );

      // Assess
      expect(seen.at(-1)).toMatchObject({
        status: 'SYSTEM_FEEDBACK',
        processingStats: null,
        fileError: { inputFileName: fileName },
      });
    });

    it('creates a new activity on every trigger (no idempotency)', async () => {
      // Prepare
      const fileName = uniqueName('csv');
      const url = await uploaded(fileName, 'CSV', CSV, XLS_MIME);

      // Act
      const first = await trigger(triggerBody(url, fileName));
      const second = await trigger(triggerBody(url, fileName));

      // Assess
      expect(first.status).toBe(201);
      expect(second.status).toBe(201);
      expect((first.body as { activityId: string }).activityId).not.toBe(
        (second.body as { activityId: string }).activityId,
      );
      expect(sandbox.log.completions('cleartax-gst', fileName)).toHaveLength(2);
    });

    it('answers 400 when templateId is missing', async () => {
      // Prepare
      const fileName = uniqueName('csv');
      const url = await uploaded(fileName, 'CSV', CSV, XLS_MIME);

      // Act
      const answer = await trigger({
        userInputArgs: {},
        fileInfo: { s3FileUrl: url, userFileName: fileName },
      });

      // Assess
      expect(answer.status).toBe(400);
      expect(answer.body).toEqual([expect.objectContaining({ errorCode: expect.any(String) })]);
    });

    it('answers 400 when s3FileUrl names no object presigned for this tenant', async () => {
      // Act
      const answer = await trigger(
        triggerBody(`${sandbox.url}/_s3/ingestionv2-sandbox/unknown/a.csv`, 'a.csv'),
      );

      // Assess
      expect(answer.status).toBe(400);
    });

    it('answers 400 when the object was presigned for the other template type', async () => {
      // Prepare
      const fileName = uniqueName('csv');
      const url = await uploaded(fileName, 'CSV', CSV, XLS_MIME);

      // Act
      const answer = await trigger(triggerBody(url, fileName), 'purchase');

      // Assess
      expect(answer.status).toBe(400);
    });

    it('answers 400 when nothing has been uploaded to the URL yet', async () => {
      // Prepare
      const fileName = uniqueName('csv');
      const url = ((await presign(fileName, 'CSV')).body as { preSignedS3Url: string }).preSignedS3Url;

      // Act
      const answer = await trigger(triggerBody(url, fileName));

      // Assess
      expect(answer.status).toBe(400);
      expect(sandbox.log.completions('cleartax-gst', fileName)).toEqual([]);
    });

    it('answers 400 when userFileName differs from the presigned file name', async () => {
      // Prepare
      const fileName = uniqueName('csv');
      const url = await uploaded(fileName, 'CSV', CSV, XLS_MIME);

      // Act
      const answer = await trigger(triggerBody(url, `renamed-${fileName}`));

      // Assess
      expect(answer.status).toBe(400);
    });

    it('answers 401 to a trigger without a valid token', async () => {
      // Act
      const answer = await call(`${sandbox.url}/integration/v1/ingest/file/sales`, {
        headers: { 'x-cleartax-auth-token': 'nope' },
        json: triggerBody('http://x/y', 'y'),
      });

      // Assess
      expect(answer.status).toBe(401);
    });

    it('answers 400 to a status call whose tenant does not match the template type', async () => {
      // Prepare
      const fileName = uniqueName('csv');
      const url = await uploaded(fileName, 'CSV', CSV, XLS_MIME);
      const { activityId } = (await trigger(triggerBody(url, fileName))).body as { activityId: string };

      // Act
      const answer = await status(activityId, 'MAXITC');

      // Assess
      expect(answer.status).toBe(400);
    });
  });
});
