import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/index';
import { auth, CSV, call, md5Hex, pollUntil, put, uniqueName, waitForCalls, XLS } from './support';

const XLS_MIME = 'application/vnd.ms-excel';

describe('sandbox fault injection', () => {
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

  function gstPresign(fileName: string) {
    return call(`${sandbox.url}/integration/v1/generatePreSign/sales?fileName=${fileName}`, {
      headers: { ...auth(sandbox).gst, fileContentType: 'XLS' },
    });
  }

  async function gstUploaded(fileName: string): Promise<string> {
    const url = ((await gstPresign(fileName)).body as { preSignedS3Url: string }).preSignedS3Url;
    expect((await put(url, XLS, XLS_MIME)).status).toBe(200);
    return url;
  }

  function gstTrigger(url: string, fileName: string) {
    return fetch(`${sandbox.url}/integration/v1/ingest/file/sales`, {
      method: 'POST',
      headers: { ...auth(sandbox).gst, 'content-type': 'application/json' },
      body: JSON.stringify({
        userInputArgs: { templateId: 't' },
        fileInfo: { s3FileUrl: url, userFileName: fileName },
      }),
    });
  }

  function clevertapPresign(fileName: string) {
    const catalogId = sandbox.credentials.clevertap.catalogIds[0];
    return call(
      `${sandbox.url}/v2/catalogs/signedurl?catalogId=${catalogId}&fileName=${fileName}&contentType=text/csv&multiPart=false`,
      { headers: auth(sandbox).clevertap },
    );
  }

  describe('status', () => {
    it('answers the given status, body and headers once, then behaves normally', async () => {
      // Prepare
      const fileName = uniqueName('xls');
      sandbox.faults.inject({
        vendor: 'cleartax-gst',
        operation: 'presign',
        action: { kind: 'status', status: 503, body: { error: 'busy' }, headers: { 'retry-after': '2' } },
      });

      // Act
      const faulted = await gstPresign(fileName);
      const normal = await gstPresign(fileName);

      // Assess
      expect(faulted).toMatchObject({ status: 503, body: { error: 'busy' } });
      expect(faulted.headers.get('retry-after')).toBe('2');
      expect(normal).toMatchObject({ status: 200, body: { status: 'CREATED' } });
      expect(sandbox.log.calls({ fileName }).map((c) => [c.status, c.fault])).toEqual([
        [503, 'status'],
        [200, undefined],
      ]);
    });

    it("answers in the vendor's error shape when no body is given, S3 XML for uploads", async () => {
      // Prepare
      const fileName = uniqueName('csv');
      sandbox.faults.inject({
        vendor: 'clevertap-catalog',
        operation: 'presign',
        action: { kind: 'status', status: 500 },
      });
      sandbox.faults.inject({
        vendor: 'clevertap-catalog',
        operation: 'upload',
        action: { kind: 'status', status: 503 },
      });

      // Act
      const api = await clevertapPresign(fileName);
      const { signedUrl } = (await clevertapPresign(fileName)).body as { signedUrl: string };
      const upload = await put(signedUrl, CSV, 'text/csv');

      // Assess
      expect(api).toMatchObject({ status: 500, body: { status: 'fail', code: 'INTERNAL_ERROR' } });
      expect(upload.status).toBe(503);
      expect(upload.text).toContain('<Code>SlowDown</Code>');
      expect(sandbox.log.uploads({ fileName })).toEqual([]);
    });

    it('hits `times` matching calls', async () => {
      // Prepare
      const fileName = uniqueName('xls');
      sandbox.faults.inject({
        vendor: 'cleartax-gst',
        operation: 'presign',
        times: 2,
        action: { kind: 'status', status: 500 },
      });

      // Act
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await gstPresign(fileName)).status);

      // Assess
      expect(statuses).toEqual([500, 500, 200]);
    });

    it('only hits calls for the matched file name', async () => {
      // Prepare
      const target = uniqueName('xls');
      const bystander = uniqueName('xls');
      sandbox.faults.inject({
        vendor: 'cleartax-gst',
        operation: 'presign',
        match: { fileName: target },
        action: { kind: 'status', status: 500 },
      });

      // Act
      const other = await gstPresign(bystander);
      const hit = await gstPresign(target);

      // Assess
      expect(other.status).toBe(200);
      expect(hit.status).toBe(500);
    });

    it('matches a status call by the file name behind its activity id', async () => {
      // Prepare
      const fileName = uniqueName('xls');
      const url = await gstUploaded(fileName);
      const { activityId } = (await (await gstTrigger(url, fileName)).json()) as { activityId: string };
      sandbox.faults.inject({
        vendor: 'cleartax-gst',
        operation: 'status',
        match: { fileName },
        action: { kind: 'status', status: 500 },
      });

      // Act
      const answer = await call(
        `${sandbox.url}/integration/v1/ingest/file/sales/status/${activityId}?tenant=GSTSALES`,
        { headers: auth(sandbox).gst },
      );

      // Assess
      expect(answer.status).toBe(500);
    });
  });

  it('delays a call, then behaves normally', async () => {
    // Prepare
    const fileName = uniqueName('xls');
    sandbox.faults.inject({
      vendor: 'cleartax-gst',
      operation: 'presign',
      action: { kind: 'delay', ms: 30 },
    });

    // Act
    const answer = await gstPresign(fileName);

    // Assess
    expect(answer.body).toMatchObject({ status: 'CREATED' });
    expect(sandbox.log.calls({ fileName })).toEqual([
      expect.objectContaining({ status: 200, fault: 'delay' }),
    ]);
  });

  describe('reset', () => {
    it('drops an API call before acting: no activity is created', async () => {
      // Prepare
      const fileName = uniqueName('xls');
      const url = await gstUploaded(fileName);
      sandbox.faults.inject({ vendor: 'cleartax-gst', operation: 'complete', action: { kind: 'reset' } });

      // Act
      const outcome = await gstTrigger(url, fileName).then(
        () => 'answered',
        () => 'failed',
      );

      // Assess
      expect(outcome).toBe('failed');
      expect(sandbox.log.calls({ operation: 'complete' })).toEqual([
        expect.objectContaining({ status: 0, fault: 'reset', fileName }),
      ]);
      expect(sandbox.log.calls({ operation: 'complete' })[0]?.ref).toBeUndefined();
    });

    it('drops an upload midway and stores nothing; a retry of the same URL then succeeds', async () => {
      // Prepare
      const fileName = uniqueName('xls');
      const url = ((await gstPresign(fileName)).body as { preSignedS3Url: string }).preSignedS3Url;
      sandbox.faults.inject({ vendor: 'cleartax-gst', operation: 'upload', action: { kind: 'reset' } });
      const body = Buffer.concat([XLS, Buffer.alloc(256 * 1024, 7)]);

      // Act
      const first = await put(url, body, XLS_MIME).then(
        () => 'answered',
        () => 'failed',
      );
      const stored = sandbox.log.uploads({ fileName });
      const retry = await put(url, body, XLS_MIME);

      // Assess
      expect(first).toBe('failed');
      expect(stored).toEqual([]);
      expect(retry.status).toBe(200);
      expect(sandbox.log.uploads({ fileName })).toHaveLength(1);
    });
  });

  describe('reset-after-commit', () => {
    it('creates the activity, then drops the answer', async () => {
      // Prepare
      const fileName = uniqueName('xls');
      const url = await gstUploaded(fileName);
      sandbox.faults.inject({
        vendor: 'cleartax-gst',
        operation: 'complete',
        action: { kind: 'reset-after-commit' },
      });

      // Act
      const outcome = await gstTrigger(url, fileName).then(
        () => 'answered',
        () => 'failed',
      );
      const record = sandbox.log.calls({ operation: 'complete', fileName })[0];
      const status = await call(
        `${sandbox.url}/integration/v1/ingest/file/sales/status/${record?.ref}?tenant=GSTSALES`,
        { headers: auth(sandbox).gst },
      );

      // Assess
      expect(outcome).toBe('failed');
      expect(record).toMatchObject({ status: 0, fault: 'reset-after-commit', ref: expect.any(String) });
      expect(status.status).toBe(200);
    });

    it('stores an upload, then drops the answer', async () => {
      // Prepare
      const fileName = uniqueName('xls');
      const url = ((await gstPresign(fileName)).body as { preSignedS3Url: string }).preSignedS3Url;
      sandbox.faults.inject({
        vendor: 'cleartax-gst',
        operation: 'upload',
        action: { kind: 'reset-after-commit' },
      });

      // Act
      const outcome = await put(url, XLS, XLS_MIME).then(
        () => 'answered',
        () => 'failed',
      );

      // Assess
      expect(outcome).toBe('failed');
      expect(sandbox.log.uploads({ fileName })).toEqual([expect.objectContaining({ md5Hex: md5Hex(XLS) })]);
    });
  });

  it('hangs a call without answering while other calls are served', async () => {
    // Prepare
    const fileName = uniqueName('xls');
    sandbox.faults.inject({
      vendor: 'cleartax-gst',
      operation: 'presign',
      match: { fileName },
      action: { kind: 'hang' },
    });
    const abort = new AbortController();
    let settled = false;
    const hung = fetch(`${sandbox.url}/integration/v1/generatePreSign/sales?fileName=${fileName}`, {
      headers: { ...auth(sandbox).gst, fileContentType: 'XLS' },
      signal: abort.signal,
    }).finally(() => {
      settled = true;
    });
    await waitForCalls(sandbox, { fileName }, 1);

    // Act
    const other = await gstPresign(uniqueName('xls'));

    // Assess
    expect(other.status).toBe(200);
    expect(settled).toBe(false);
    expect(sandbox.log.calls({ fileName })).toEqual([expect.objectContaining({ status: 0, fault: 'hang' })]);
    abort.abort();
    await expect(hung).rejects.toThrow();
  });

  it('answers 200 with truncated JSON and acts on nothing', async () => {
    // Prepare
    const fileName = uniqueName('csv');
    sandbox.faults.inject({
      vendor: 'clevertap-catalog',
      operation: 'presign',
      action: { kind: 'malformed-json' },
    });

    // Act
    const answer = await clevertapPresign(fileName);

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/json');
    expect(() => JSON.parse(answer.text)).toThrow();
    expect(sandbox.log.calls({ fileName })[0]?.ref).toBeUndefined();
  });

  it('hands out a URL on the foreign host, which records what is sent there', async () => {
    // Prepare
    const fileName = uniqueName('xls');
    sandbox.faults.inject({ vendor: 'cleartax-gst', operation: 'presign', action: { kind: 'foreign-host' } });
    const url = ((await gstPresign(fileName)).body as { preSignedS3Url: string }).preSignedS3Url;

    // Act
    const answer = await put(url, XLS, XLS_MIME);

    // Assess
    expect(url.startsWith(`${sandbox.foreignUrl}/`)).toBe(true);
    expect(answer.status).toBe(200);
    expect(sandbox.log.foreignRequests()).toEqual([
      { method: 'PUT', path: new URL(url).pathname, bytes: XLS.length },
    ]);
    expect(sandbox.log.uploads({ fileName })).toEqual([]);
  });

  it.each([
    [
      'expired-url on a non-presign operation',
      { vendor: 'inspect', operation: 'complete', action: { kind: 'expired-url' } },
    ],
    ['an unknown vendor', { vendor: 'acme', operation: 'presign', action: { kind: 'reset' } }],
    ['an unknown action', { vendor: 'inspect', operation: 'presign', action: { kind: 'explode' } }],
    [
      'complete-multipart for a vendor without it',
      { vendor: 'inspect', operation: 'complete-multipart', action: { kind: 'reset' } },
    ],
    [
      'status for a vendor without a status endpoint',
      { vendor: 'inspect', operation: 'status', action: { kind: 'hang' } },
    ],
    [
      'token for a vendor that mints none',
      { vendor: 'inspect', operation: 'token', action: { kind: 'hang' } },
    ],
  ])('refuses a spec with %s', (_case, spec) => {
    // Act
    const inject = () => sandbox.faults.inject(spec as never);

    // Assess
    expect(inject).toThrow();
    expect(sandbox.faults.list()).toEqual([]);
  });

  describe('over HTTP', () => {
    it('injects, lists and clears faults through /_sandbox/faults', async () => {
      // Prepare
      const spec = {
        vendor: 'cleartax-gst',
        operation: 'presign',
        times: 2,
        action: { kind: 'status', status: 502 },
      };

      // Act
      const created = await call(`${sandbox.url}/_sandbox/faults`, { json: spec });
      const listed = await call(`${sandbox.url}/_sandbox/faults`);
      const hit = await gstPresign(uniqueName('xls'));
      const cleared = await call(`${sandbox.url}/_sandbox/faults`, { method: 'DELETE' });
      const after = await gstPresign(uniqueName('xls'));

      // Assess
      expect(created).toMatchObject({ status: 201, body: { id: expect.any(String) } });
      expect(listed.body).toEqual([{ ...spec, id: (created.body as { id: string }).id, remaining: 2 }]);
      expect(hit.status).toBe(502);
      expect(cleared.status).toBe(204);
      expect(after.status).toBe(200);
    });

    it('answers 400 to an invalid fault spec', async () => {
      // Act
      const answer = await call(`${sandbox.url}/_sandbox/faults`, { json: { vendor: 'inspect' } });

      // Assess
      expect(answer.status).toBe(400);
      expect(sandbox.faults.list()).toEqual([]);
    });

    it('serves calls and uploads (filtered), health, and reset', async () => {
      // Prepare
      const fileName = uniqueName('xls');
      await gstUploaded(fileName);
      await gstPresign(uniqueName('xls'));

      // Act
      const calls = await call(`${sandbox.url}/_sandbox/calls?fileName=${fileName}`);
      const uploads = await call(`${sandbox.url}/_sandbox/uploads?vendor=cleartax-gst`);
      const health = await call(`${sandbox.url}/_sandbox/health`);
      const reset = await call(`${sandbox.url}/_sandbox/reset`, { method: 'POST' });

      // Assess
      expect((calls.body as Array<{ operation: string }>).map((c) => c.operation)).toEqual([
        'presign',
        'upload',
      ]);
      expect(uploads.body).toEqual([expect.objectContaining({ fileName, md5Hex: md5Hex(XLS) })]);
      expect(health).toMatchObject({
        status: 200,
        body: { status: 'ok', url: sandbox.url, foreignUrl: sandbox.foreignUrl },
      });
      expect(reset.status).toBe(204);
      expect(sandbox.log.calls()).toEqual([]);
    });
  });

  it('runs a faulted flow to its terminal state once the fault is spent', async () => {
    // Prepare
    const fileName = uniqueName('xls');
    sandbox.faults.inject({
      vendor: 'cleartax-gst',
      operation: 'complete',
      action: { kind: 'status', status: 500 },
    });
    const url = await gstUploaded(fileName);
    expect((await gstTrigger(url, fileName)).status).toBe(500);

    // Act
    const { activityId } = (await (await gstTrigger(url, fileName)).json()) as { activityId: string };
    const seen = await pollUntil(
      async () =>
        (
          await call(`${sandbox.url}/integration/v1/ingest/file/sales/status/${activityId}?tenant=GSTSALES`, {
            headers: auth(sandbox).gst,
          })
        ).body as { status: string },
      (body) => !body.status.startsWith('ACTIVITY_') || body.status === 'ACTIVITY_COMPLETED',
    );

    // Assess
    expect(seen.at(-1)?.status).toBe('ACTIVITY_COMPLETED');
    expect(sandbox.log.completions('cleartax-gst', fileName)).toHaveLength(1);
  });
});
