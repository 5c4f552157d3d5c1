import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/index';
import {
  auth,
  CSV,
  call,
  md5Hex,
  rawPut,
  rawRequest,
  sha256Base64,
  uniqueName,
  waitForCalls,
} from './support';

type Json = Record<string, unknown>;

describe('sandbox slack', () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox({ slackCallsPerMinute: 1000 });
  });
  afterAll(async () => {
    await sandbox.close();
  });
  beforeEach(() => {
    sandbox.reset();
  });

  /** A Web API call with a JSON body (or, without `json`, a GET) and the bot token as a bearer header. */
  function api(method: string, json?: unknown, headers: Record<string, string> = auth(sandbox).slack) {
    return call(`${sandbox.url}/api/${method}`, { headers, ...(json === undefined ? {} : { json }) });
  }

  /** A Web API call with a form-urlencoded body. */
  async function form(method: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
    const response = await fetch(`${sandbox.url}/api/${method}`, {
      method: 'POST',
      headers,
      body: new URLSearchParams(fields),
    });
    return { status: response.status, body: (await response.json()) as Json };
  }

  /** Asks for an upload URL for `bytes` under `fileName`. */
  async function uploadUrl(fileName: string, length: number, target: Sandbox = sandbox) {
    const answer = await call(`${target.url}/api/files.getUploadURLExternal`, {
      headers: auth(target).slack,
      json: { filename: fileName, length },
    });
    expect(answer.body).toMatchObject({ ok: true });
    return answer.body as { upload_url: string; file_id: string };
  }

  /** POSTs the raw bytes to an upload URL. */
  async function post(url: string, body: Buffer | FormData, method = 'POST') {
    const response = await fetch(url, { method, body });
    return { status: response.status, text: await response.text() };
  }

  /** A file uploaded in full, ready to complete. */
  async function uploaded(fileName = uniqueName('csv'), bytes = CSV) {
    const { upload_url, file_id } = await uploadUrl(fileName, bytes.length);
    expect((await post(upload_url, bytes)).status).toBe(200);
    return { fileName, fileId: file_id };
  }

  function complete(args: Json, headers?: Record<string, string>) {
    return api('files.completeUploadExternal', args, headers);
  }

  const channel = () => sandbox.credentials.slack.channelIds[0] as string;

  describe('happy path', () => {
    it('gets an upload URL on the sandbox host, takes the raw bytes and shares the file into the channel', async () => {
      // Prepare
      const fileName = uniqueName('csv');

      // Act
      const urlAnswer = await api('files.getUploadURLExternal', { filename: fileName, length: CSV.length });
      const { upload_url, file_id } = urlAnswer.body as { upload_url: string; file_id: string };
      const uploadAnswer = await post(upload_url, CSV);
      const completed = await complete({ files: [{ id: file_id, title: 'March' }], channel_id: channel() });

      // Assess
      expect(urlAnswer).toMatchObject({
        status: 200,
        body: { ok: true, file_id: expect.stringMatching(/^F[0-9A-Z]{10}$/) },
      });
      expect(new URL(upload_url).origin).toBe(sandbox.url);
      expect(new URL(upload_url).pathname).toMatch(/^\/upload\/v1\/[A-Za-z0-9_-]+$/);
      expect(uploadAnswer).toEqual({ status: 200, text: `OK - ${CSV.length}` });
      expect(completed).toMatchObject({
        status: 200,
        body: { ok: true, files: [{ id: file_id, title: 'March' }] },
      });
      expect(sandbox.log.uploads({ vendor: 'slack', fileName })).toEqual([
        expect.objectContaining({
          objectId: file_id,
          size: CSV.length,
          sha256Base64: sha256Base64(CSV),
          md5Hex: md5Hex(CSV),
        }),
      ]);
      expect(
        sandbox.log.calls({ vendor: 'slack' }).map((c) => [c.operation, c.status, c.fileName, c.ref]),
      ).toEqual([
        ['presign', 200, fileName, file_id],
        ['upload', 200, fileName, file_id],
        ['complete', 200, fileName, file_id],
      ]);
      expect(sandbox.log.completions('slack', fileName)).toHaveLength(1);
    });

    it('takes form-encoded calls with the token in the body, and a GET with query arguments', async () => {
      // Prepare
      const fileName = uniqueName('csv');
      const { token } = sandbox.credentials.slack;

      // Act
      const viaGet = await call(
        `${sandbox.url}/api/files.getUploadURLExternal?filename=${fileName}&length=${CSV.length}`,
        { headers: auth(sandbox).slack },
      );
      const viaForm = await form('files.getUploadURLExternal', {
        token,
        filename: fileName,
        length: String(CSV.length),
      });
      const { upload_url, file_id } = viaForm.body as { upload_url: string; file_id: string };
      await post(upload_url, CSV);
      const completed = await form('files.completeUploadExternal', {
        token,
        files: JSON.stringify([{ id: file_id }]),
        channel_id: channel(),
      });

      // Assess
      expect(viaGet.body).toMatchObject({ ok: true });
      expect(viaForm.body).toMatchObject({ ok: true });
      expect(completed.body).toEqual({ ok: true, files: [{ id: file_id, title: fileName }] });
    });

    it('takes a multipart call and a multipart upload, hashing only the file part', async () => {
      // Prepare
      const fileName = uniqueName('csv');
      const fields = new FormData();
      fields.append('filename', fileName);
      fields.append('length', String(CSV.length));
      const body = new FormData();
      body.append('filename', new Blob([CSV]), fileName);

      // Act
      const urlAnswer = await fetch(`${sandbox.url}/api/files.getUploadURLExternal`, {
        method: 'POST',
        headers: auth(sandbox).slack,
        body: fields,
      });
      const { upload_url } = (await urlAnswer.json()) as { upload_url: string };
      const uploadAnswer = await post(upload_url, body);

      // Assess
      expect(uploadAnswer).toEqual({ status: 200, text: `OK - ${CSV.length}` });
      expect(sandbox.log.uploads({ fileName })).toEqual([
        expect.objectContaining({ size: CSV.length, sha256Base64: sha256Base64(CSV) }),
      ]);
    });

    it('completes without a channel (the file stays private)', async () => {
      // Prepare
      const { fileId } = await uploaded();

      // Act
      const completed = await complete({ files: [{ id: fileId }] });

      // Assess
      expect(completed.body).toMatchObject({ ok: true });
    });
  });

  describe('Web API refusals (HTTP 200, ok: false)', () => {
    it.each([
      ['no token', {}, 'not_authed'],
      ['an unknown token', { authorization: 'Bearer xoxb-0-0-unknown' }, 'invalid_auth'],
      ['a non-bearer Authorization', { authorization: 'Basic Zm9vOmJhcg==' }, 'invalid_auth'],
    ])('answers %s with %s', async (_case, headers, error) => {
      // Act
      const answer = await api('files.getUploadURLExternal', { filename: 'a.csv', length: 1 }, headers);

      // Assess
      expect(answer).toMatchObject({ status: 200, body: { ok: false, error } });
    });

    it('ignores a token inside a JSON body or the query string (not_authed)', async () => {
      // Prepare
      const { token } = sandbox.credentials.slack;

      // Act
      const inJson = await api('files.getUploadURLExternal', { token, filename: 'a.csv', length: 1 }, {});
      const inQuery = await call(
        `${sandbox.url}/api/files.getUploadURLExternal?token=${token}&filename=a.csv&length=1`,
      );

      // Assess
      expect(inJson.body).toEqual({ ok: false, error: 'not_authed' });
      expect(inQuery.body).toEqual({ ok: false, error: 'not_authed' });
    });

    it('answers missing_scope with needed and provided when the token lacks files:write', async () => {
      // Prepare
      const narrow = await startSandbox({ credentials: { slack: { scopes: ['chat:write'] } } });
      try {
        // Act
        const answer = await call(`${narrow.url}/api/files.getUploadURLExternal`, {
          headers: auth(narrow).slack,
          json: { filename: 'a.csv', length: 1 },
        });

        // Assess
        expect(answer).toMatchObject({
          status: 200,
          body: { ok: false, error: 'missing_scope', needed: 'files:write', provided: 'chat:write' },
        });
      } finally {
        await narrow.close();
      }
    });

    it.each([
      ['no filename', { length: 1 }, 'missing required field: filename'],
      ['an empty filename', { filename: ' ', length: 1 }, 'missing required field: filename'],
      ['no length', { filename: 'a.csv' }, 'missing required field: length'],
      ['a length of 0', { filename: 'a.csv', length: 0 }, 'must be greater than 1 [json-pointer:/length]'],
      [
        'a length that is not an integer',
        { filename: 'a.csv', length: 1.5 },
        'expected an integer [json-pointer:/length]',
      ],
    ])('answers invalid_arguments to getUploadURLExternal with %s', async (_case, args, message) => {
      // Act
      const answer = await api('files.getUploadURLExternal', args);

      // Assess
      expect(answer).toMatchObject({
        status: 200,
        body: {
          ok: false,
          error: 'invalid_arguments',
          response_metadata: { messages: [`[ERROR] ${message}`] },
        },
      });
    });

    it.each([
      ['alt_txt_too_large', { filename: 'a.png', length: 10, alt_txt: 'x'.repeat(1001) }],
      ['unknown_snippet_type', { filename: 'a.py', length: 10, snippet_type: 'not a type!' }],
      ['snippet_too_large', { filename: 'a.py', length: 1024 * 1024 + 1, snippet_type: 'python' }],
      ['file_upload_size_restricted', { filename: 'a.bin', length: 1024 ** 3 + 1 }],
    ])('answers %s', async (error, args) => {
      // Act
      const answer = await api('files.getUploadURLExternal', args);

      // Assess
      expect(answer).toMatchObject({ status: 200, body: { ok: false, error } });
    });

    it.each([
      ['invalid_json', 'application/json', '{"filename":'],
      ['json_not_object', 'application/json', '["a.csv"]'],
      ['invalid_post_type', 'text/csv', 'filename,length'],
      ['invalid_charset', 'application/x-www-form-urlencoded; charset=utf-16', 'filename=a.csv&length=1'],
      ['invalid_form_data', 'multipart/form-data; boundary=xyz', 'not multipart'],
    ])('answers %s to a body it cannot read', async (error, contentType, body) => {
      // Act
      const response = await fetch(`${sandbox.url}/api/files.getUploadURLExternal`, {
        method: 'POST',
        headers: { ...auth(sandbox).slack, 'content-type': contentType },
        body,
      });

      // Assess
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ ok: false, error });
    });

    it('answers missing_post_type to a body without a Content-Type', async () => {
      // Act
      const raw = await rawRequest(
        sandbox.url,
        [
          'POST /api/files.getUploadURLExternal HTTP/1.1',
          `Host: ${new URL(sandbox.url).host}`,
          `Authorization: Bearer ${sandbox.credentials.slack.token}`,
          'Content-Length: 21',
        ],
        'filename=a.csv&length',
      );

      // Assess
      expect(raw).toMatch(/^HTTP\/1\.1 200/);
      expect(raw).toContain('{"ok":false,"error":"missing_post_type"}');
    });

    it('refuses a GET of completeUploadExternal, which takes POST only', async () => {
      // Act
      const answer = await api('files.completeUploadExternal');

      // Assess
      expect(answer).toMatchObject({ status: 405, body: { ok: false, error: 'method_not_allowed' } });
    });

    it('rate-limits each method per workspace with 429 ratelimited and a Retry-After', async () => {
      // Prepare
      const limited = await startSandbox({ slackCallsPerMinute: 2 });
      try {
        const ask = (token: string, method = 'files.getUploadURLExternal') =>
          call(`${limited.url}/api/${method}`, {
            headers: { authorization: `Bearer ${token}` },
            json: { filename: 'a.csv', length: 1 },
          });
        const { token, otherWorkspace } = limited.credentials.slack;

        // Act
        const first = await ask(token);
        const second = await ask(token);
        const third = await ask(token);
        const otherMethod = await ask(token, 'files.completeUploadExternal');
        const otherTeam = await ask(otherWorkspace.token);

        // Assess
        expect([first.status, second.status]).toEqual([200, 200]);
        expect(third).toMatchObject({ status: 429, body: { ok: false, error: 'ratelimited' } });
        expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(Number(third.headers.get('retry-after'))).toBeLessThanOrEqual(60);
        expect(otherMethod.status).toBe(200);
        expect(otherTeam.body).toMatchObject({ ok: true });
      } finally {
        await limited.close();
      }
    });
  });

  describe('upload URL', () => {
    it('refuses a body whose length differs from the declared length, and keeps the URL usable', async () => {
      // Prepare
      const fileName = uniqueName('csv');
      const { upload_url } = await uploadUrl(fileName, CSV.length);

      // Act
      const shorter = await post(upload_url, CSV.subarray(1));
      const longer = await post(upload_url, Buffer.concat([CSV, Buffer.from('x')]));
      const exact = await post(upload_url, CSV);

      // Assess
      expect(shorter.status).toBe(400);
      expect(shorter.text).toContain(`length mismatch: declared ${CSV.length} bytes, sent ${CSV.length - 1}`);
      expect(longer.status).toBe(400);
      expect(exact.status).toBe(200);
      expect(sandbox.log.uploads({ fileName })).toHaveLength(1);
    });

    it('refuses a multipart body whose file part has another length, or holds two files', async () => {
      // Prepare
      const { upload_url } = await uploadUrl(uniqueName('csv'), CSV.length);
      const wrongLength = new FormData();
      wrongLength.append('file', new Blob([CSV, 'x']), 'a.csv');
      const twoFiles = new FormData();
      twoFiles.append('file', new Blob([CSV]), 'a.csv');
      twoFiles.append('file', new Blob([CSV]), 'b.csv');

      // Act
      const mismatch = await post(upload_url, wrongLength);
      const two = await post(upload_url, twoFiles);

      // Assess
      expect(mismatch.status).toBe(400);
      expect(mismatch.text).toContain(`sent ${CSV.length + 1}`);
      expect(two.status).toBe(400);
      expect(two.text).toContain('expected one file part, found 2');
    });

    it('takes POST only', async () => {
      // Prepare
      const { upload_url } = await uploadUrl(uniqueName('csv'), CSV.length);

      // Act
      const put = await post(upload_url, CSV, 'PUT');
      const get = await fetch(upload_url);

      // Assess
      expect(put.status).toBe(405);
      expect(get.status).toBe(405);
      expect(get.headers.get('allow')).toBe('POST');
    });

    it('requires Content-Length and refuses chunked bodies', async () => {
      // Prepare
      const { upload_url } = await uploadUrl(uniqueName('csv'), CSV.length);
      const { pathname, host } = new URL(upload_url);

      // Act
      const chunked = await rawRequest(
        upload_url,
        [`POST ${pathname} HTTP/1.1`, `Host: ${host}`, 'Transfer-Encoding: chunked'],
        `${CSV.length.toString(16)}\r\n${CSV.toString()}\r\n0\r\n\r\n`,
      );
      const noLength = await rawRequest(upload_url, [`POST ${pathname} HTTP/1.1`, `Host: ${host}`]);

      // Assess
      expect(chunked).toMatch(/^HTTP\/1\.1 501/);
      expect(noLength).toMatch(/^HTTP\/1\.1 411/);
    });

    it('is single-use: a second POST after a successful one is refused', async () => {
      // Prepare
      const { upload_url } = await uploadUrl(uniqueName('csv'), CSV.length);
      await post(upload_url, CSV);

      // Act
      const again = await post(upload_url, CSV);

      // Assess
      expect(again.status).toBe(410);
      expect(again.text).toContain('the upload URL has been used');
    });

    it('refuses an unknown or altered URL', async () => {
      // Prepare
      const { upload_url } = await uploadUrl(uniqueName('csv'), CSV.length);

      // Act
      const altered = await post(`${upload_url.slice(0, -2)}xx`, CSV);

      // Assess
      expect(altered.status).toBe(404);
    });

    it('refuses an expired URL (the expired-url fault)', async () => {
      // Prepare
      const fileName = uniqueName('csv');
      sandbox.faults.inject({ vendor: 'slack', operation: 'presign', action: { kind: 'expired-url' } });
      const { upload_url } = await uploadUrl(fileName, CSV.length);

      // Act
      const answer = await post(upload_url, CSV);

      // Assess
      expect(answer.status).toBe(410);
      expect(answer.text).toContain('the upload URL has expired');
      expect(sandbox.log.uploads({ fileName })).toEqual([]);
    });

    it('hands out a URL on the foreign host under the foreign-host fault', async () => {
      // Prepare
      sandbox.faults.inject({ vendor: 'slack', operation: 'presign', action: { kind: 'foreign-host' } });

      // Act
      const { upload_url } = await uploadUrl(uniqueName('csv'), CSV.length);

      // Assess
      expect(new URL(upload_url).origin).toBe(sandbox.foreignUrl);
    });

    it('stores nothing when the client half-closes before Content-Length bytes', async () => {
      // Prepare
      const fileName = uniqueName('csv');
      const { upload_url } = await uploadUrl(fileName, CSV.length);

      // Act
      const answer = await rawPut(upload_url, {
        method: 'POST',
        headers: { 'content-length': CSV.length },
        chunks: [CSV.subarray(0, 5)],
        finish: 'half-close',
        beforeFinish: () => waitForCalls(sandbox, { vendor: 'slack', operation: 'upload' }, 1),
      });

      // Assess
      expect(answer).toMatchObject({
        status: 400,
        text: expect.stringContaining('shorter than its Content-Length'),
      });
      expect(sandbox.log.uploads({ fileName })).toEqual([]);
    });
  });

  describe('completeUploadExternal refusals', () => {
    it.each([
      ['no files', {}, 'missing required field: files'],
      [
        'files that are not an array',
        { files: 'F1' },
        'files must be a non-empty array of {"id", "title"} [json-pointer:/files]',
      ],
      [
        'an empty files array',
        { files: [] },
        'files must be a non-empty array of {"id", "title"} [json-pointer:/files]',
      ],
      [
        'a file listed twice',
        { files: [{ id: 'F1' }, { id: 'F1' }] },
        'a file id is listed twice [json-pointer:/files]',
      ],
    ])('answers invalid_arguments to %s', async (_case, args, message) => {
      // Act
      const answer = await complete(args);

      // Assess
      expect(answer.body).toEqual({
        ok: false,
        error: 'invalid_arguments',
        response_metadata: { messages: [`[ERROR] ${message}`] },
      });
    });

    it('answers file_not_found for an unknown id and for a file nothing was uploaded to', async () => {
      // Prepare
      const { file_id } = await uploadUrl(uniqueName('csv'), CSV.length);

      // Act
      const unknown = await complete({ files: [{ id: 'F0000000000' }], channel_id: channel() });
      const notUploaded = await complete({ files: [{ id: file_id }], channel_id: channel() });

      // Assess
      expect(unknown).toMatchObject({ status: 200, body: { ok: false, error: 'file_not_found' } });
      expect(notUploaded).toMatchObject({ status: 200, body: { ok: false, error: 'file_not_found' } });
    });

    it("answers file_not_found to another workspace's token", async () => {
      // Prepare
      const { fileId } = await uploaded();
      const other = { authorization: `Bearer ${sandbox.credentials.slack.otherWorkspace.token}` };

      // Act
      const answer = await complete({ files: [{ id: fileId }] }, other);

      // Assess
      expect(answer.body).toEqual({ ok: false, error: 'file_not_found' });
    });

    it('answers channel_not_found and not_in_channel, sharing nothing, so the file can still be completed', async () => {
      // Prepare
      const { fileId, fileName } = await uploaded();
      const { notInChannelId } = sandbox.credentials.slack;

      // Act
      const unknown = await complete({ files: [{ id: fileId }], channel_id: 'C0NOSUCH00' });
      const notIn = await complete({ files: [{ id: fileId }], channel_id: notInChannelId });
      const right = await complete({ files: [{ id: fileId }], channel_id: channel() });

      // Assess
      expect(unknown.body).toEqual({ ok: false, error: 'channel_not_found' });
      expect(notIn.body).toEqual({ ok: false, error: 'not_in_channel' });
      expect(right.body).toMatchObject({ ok: true });
      expect(sandbox.log.completions('slack', fileName)).toEqual([
        expect.objectContaining({ status: 200, ref: fileId }),
      ]);
    });

    it('shares a file at most once: a second complete answers file_not_found', async () => {
      // Prepare
      const { fileId } = await uploaded();
      await complete({ files: [{ id: fileId }], channel_id: channel() });

      // Act
      const again = await complete({ files: [{ id: fileId }], channel_id: channel() });

      // Assess
      expect(again).toMatchObject({ status: 200, body: { ok: false, error: 'file_not_found' } });
    });
  });

  describe('faults', () => {
    it('answers an injected status in the Web API shape, 429 with a Retry-After', async () => {
      // Prepare
      sandbox.faults.inject({
        vendor: 'slack',
        operation: 'presign',
        action: { kind: 'status', status: 500 },
      });
      sandbox.faults.inject({
        vendor: 'slack',
        operation: 'complete',
        action: { kind: 'status', status: 429 },
      });

      // Act
      const failed = await api('files.getUploadURLExternal', { filename: 'a.csv', length: 1 });
      const limited = await complete({ files: [{ id: 'F1' }] });

      // Assess
      expect(failed).toMatchObject({ status: 500, body: { ok: false, error: 'internal_error' } });
      expect(limited).toMatchObject({ status: 429, body: { ok: false, error: 'ratelimited' } });
      expect(limited.headers.get('retry-after')).toBe('1');
    });

    it('drops an upload midway, storing nothing; the same URL then takes the retry', async () => {
      // Prepare
      const fileName = uniqueName('csv');
      const bytes = Buffer.alloc(256 * 1024, 7);
      const { upload_url } = await uploadUrl(fileName, bytes.length);
      sandbox.faults.inject({ vendor: 'slack', operation: 'upload', action: { kind: 'reset' } });

      // Act
      const first = await post(upload_url, bytes).then(
        () => 'answered',
        () => 'failed',
      );
      const retry = await post(upload_url, bytes);

      // Assess
      expect(first).toBe('failed');
      expect(retry.status).toBe(200);
      expect(sandbox.log.uploads({ fileName })).toHaveLength(1);
    });

    it('completes, then drops the answer: a retry of the completion finds the file gone', async () => {
      // Prepare
      const { fileId, fileName } = await uploaded();
      sandbox.faults.inject({
        vendor: 'slack',
        operation: 'complete',
        action: { kind: 'reset-after-commit' },
      });

      // Act
      const first = await complete({ files: [{ id: fileId }], channel_id: channel() }).then(
        () => 'answered',
        () => 'failed',
      );
      const retry = await complete({ files: [{ id: fileId }], channel_id: channel() });

      // Assess
      expect(first).toBe('failed');
      expect(retry.body).toEqual({ ok: false, error: 'file_not_found' });
      expect(
        sandbox.log.calls({ vendor: 'slack', operation: 'complete', fileName }).map((c) => c.status),
      ).toEqual([0, 200]);
    });

    it('refuses a fault on an operation Slack does not have', () => {
      // Act
      const inject = () =>
        sandbox.faults.inject({ vendor: 'slack', operation: 'status', action: { kind: 'hang' } });

      // Assess
      expect(inject).toThrow('slack has no status endpoint');
    });
  });
});
