import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import {
  AmbiguousOutcomeError,
  ErrorCode,
  FileRejectedError,
  PermanentError,
  ThrottledError,
} from '../../../../functions/shared/errors';
import { slackAdapter } from '../../../../functions/vendors/slack/adapter';
import type { SlackOptions, SlackSecret } from '../../../../functions/vendors/slack/schemas';
import { adapterFromSpec } from '../../../../functions/vendors/spec/engine';
import type { VendorSpec } from '../../../../functions/vendors/spec/schema';
import { contextFor, fileFor, rejectionOf, ScriptedHttp, thrownBy } from '../scripted-vendor';

const Secret = z.object({ clientId: z.string(), clientSecret: z.string() });
const Options = z.strictObject({
  region: z.enum(['eu', 'us']),
  folder: z.string().default('inbox'),
  paths: z.strictObject({ upload: z.string().default('/v1/{folder}/uploads') }).prefault({}),
  keepSigned: z.boolean().default(false),
});
type Secret = z.infer<typeof Secret>;
type Options = z.infer<typeof Options>;

/** A made-up vendor that uses what the four real specs do not: lookups, path params, hex hashes, minted tokens with expiry, answer expiry, status pick. */
const acme: VendorSpec<Secret, Options> = {
  name: 'acme',
  secret: Secret,
  options: Options,
  auth: {
    kind: 'token',
    headers: { Authorization: 'Bearer {token}' },
    mint: {
      request: {
        method: 'POST',
        path: '/oauth/token',
        form: { client_id: '{secret.clientId}', client_secret: '{secret.clientSecret}' },
      },
      token: '{answer.access_token}',
      validUntil: '{answer.expires_at}',
      family: 'acme',
      keyFrom: '{secret.clientId}:{secret.clientSecret}',
      dailyLimit: 100,
    },
    refused: { status: [401], code: ['token_expired'] },
  },
  files: { extensions: ['csv', 'json'], maxNameLength: 12 },
  lookups: { host: { of: '{options.region}', map: { eu: 'eu.acme.test', us: 'us.acme.test' } } },
  errors: { code: ['{answer.error.code}'], byCode: { slow_down: 'throttled' } },
  presign: {
    request: {
      method: 'POST',
      path: '{options.paths.upload}',
      pathParams: { folder: '{options.folder}' },
      headers: { 'X-Host': '{lookup.host}' },
      json: { name: '{file.name}', sha256: '{file.sha256Hex}', bytes: '{file.size}' },
    },
    upload: {
      url: '{answer.upload.url}',
      headers: { 'Content-Type': '{contentType}', 'x-amz-checksum-sha256': '{file.sha256}' },
      expiresAt: '{answer.upload.expires}',
    },
    refs: { uploadId: '{answer.id}' },
  },
  complete: {
    requires: ['uploadId'],
    request: { method: 'PUT', path: '/v1/uploads/{id}/done', pathParams: { id: '{refs.uploadId}' } },
    refs: { jobId: '{answer.job}' },
    vendorState: '{answer.state}',
  },
  status: {
    requires: ['jobId'],
    request: { method: 'GET', path: '/v1/jobs/{job}', pathParams: { job: '{refs.jobId}' } },
    state: '{answer.state}',
    states: { queued: 'running', done: 'succeeded', broken: 'failed' },
    detail: { pick: ['warnings', 'summary.rows'] },
  },
  keepSignedUrl: '{options.keepSigned}',
  accountKey: '{secret.clientId}',
  completionIdempotent: false,
};

const adapter = adapterFromSpec(acme);
const HASH = Buffer.alloc(32, 7).toString('base64');

function acmeContext(http: ScriptedHttp, options: Partial<Options> = {}) {
  return contextFor<Secret, Options>(adapter, {
    secret: { clientId: 'id-1', clientSecret: 's3cret' },
    options: { region: 'eu', ...options },
    http,
  });
}

describe('adapterFromSpec', () => {
  it('refuses a spec naming every problem at once, before anything runs', () => {
    // Prepare
    const broken = {
      ...acme,
      presign: {
        ...acme.presign,
        request: {
          ...acme.presign.request,
          headers: { 'X-Host': '{lookup.hots}', 'X-Region': '{options.regoin}' },
        },
      },
      complete: { ...acme.complete, requires: ['uploadID'] },
      status: { ...acme.status, states: { queued: 'running' as const } },
    } as VendorSpec<Secret, Options>;

    // Act
    const error = thrownBy(() => adapterFromSpec(broken));

    // Assess
    const message = (error as Error).message;
    expect(message).toMatch(/vendor spec "acme" has 4 problem/);
    expect(message).toMatch(/lookup\.hots/);
    expect(message).toMatch(/options\.regoin/);
    expect(message).toMatch(/uploadID is not recorded/);
    expect(message).toMatch(/no state means succeeded/);
  });

  it('derives what the core needs from the spec', () => {
    // Act + Assess
    expect(adapter.needsSha256).toBe(true);
    expect(adapter.tokenMint).toEqual({ family: 'acme', dailyLimit: 100 });
    expect(adapter.completionIdempotent).toBe(false);
    expect(adapter.completionNeedsSignedUrl?.(Options.parse({ region: 'eu', keepSigned: true }))).toBe(true);
    expect(adapter.completionNeedsSignedUrl?.(Options.parse({ region: 'eu' }))).toBe(false);
    expect(
      adapter.accountKey?.({ clientId: 'id-1', clientSecret: 'x' }, Options.parse({ region: 'eu' })),
    ).toBe('acme:id-1');
    expect(slackAdapter.needsSha256).toBe(false);
  });

  it('checks file rules with messages naming the rule', () => {
    // Prepare
    const options = Options.parse({ region: 'eu' });

    // Act
    const wrongType = thrownBy(() => adapter.checkFile(fileFor('acme/a.pdf', 1), options));
    const longName = thrownBy(() => adapter.checkFile(fileFor('acme/abcdefghijk.csv', 1), options));

    // Assess
    expect(wrongType).toBeInstanceOf(FileRejectedError);
    expect((wrongType as Error).message).toBe('acme accepts .csv and .json files; got "a.pdf"');
    expect((longName as Error).message).toMatch(/at most 12 characters; this one has 15/);
  });

  it('refuses a Content-Type the spec does not accept, wildcards allowed', () => {
    // Prepare
    const images = adapterFromSpec({
      ...acme,
      name: 'acme-images',
      files: { contentTypes: ['image/*', 'application/pdf'] },
      contentType: { byExtension: { png: 'image/png', pdf: 'application/pdf', csv: 'text/csv' } },
    });
    const options = Options.parse({ region: 'eu' });

    // Act
    const refused = thrownBy(() => images.checkFile(fileFor('acme/a.csv', 1), options));

    // Assess
    expect(refused).toBeInstanceOf(FileRejectedError);
    expect((refused as Error).message).toBe(
      'acme-images accepts image/* and application/pdf files; "a.csv" is text/csv',
    );
    expect(() => images.checkFile(fileFor('acme/a.png', 1), options)).not.toThrow();
    expect(() => images.checkFile(fileFor('acme/a.pdf', 1), options)).not.toThrow();
  });

  it('mints a token, fills path params, lookups and hashes, and reads the URL expiry from the answer', async () => {
    // Prepare
    const http = new ScriptedHttp()
      .queue('token', { status: 200, body: { access_token: 'tok-1', expires_at: '2025-01-15T11:00:00Z' } })
      .queue('presign', {
        status: 200,
        body: { id: 'U1', upload: { url: 'https://storage.example.com/u1?sig=1', expires: 1736939400 } },
      });
    const ctx = acmeContext(http, { folder: 'in box' });

    // Act
    const plan = await adapter.requestUpload(fileFor('acme/a.csv', 5, { sha256Base64: HASH }), ctx);

    // Assess
    expect(http.calls('token')[0]).toMatchObject({
      method: 'POST',
      path: '/oauth/token',
      form: { client_id: 'id-1', client_secret: 's3cret' },
    });
    expect(http.calls('presign')[0]).toEqual({
      operation: 'presign',
      method: 'POST',
      path: '/v1/in%20box/uploads',
      headers: { Authorization: 'Bearer tok-1', 'X-Host': 'eu.acme.test' },
      json: { name: 'a.csv', sha256: '07'.repeat(32), bytes: 5 },
    });
    expect(plan).toEqual({
      kind: 'single',
      target: {
        url: 'https://storage.example.com/u1?sig=1',
        method: 'PUT',
        headers: { 'Content-Type': 'application/octet-stream', 'x-amz-checksum-sha256': HASH },
        expiresAt: 1736939400_000,
      },
      refs: { uploadId: 'U1' },
    });
  });

  it('re-mints once when the vendor refuses the token by its code in a 200, then goes on', async () => {
    // Prepare
    const http = new ScriptedHttp()
      .queue(
        'token',
        { status: 200, body: { access_token: 'old' } },
        { status: 200, body: { access_token: 'new' } },
      )
      .queue(
        'complete',
        { status: 400, body: { error: { code: 'token_expired' } } },
        {
          status: 200,
          body: { job: 42, state: 'queued' },
        },
      );
    const ctx = acmeContext(http);
    const input = {
      file: fileFor('acme/a.csv', 5),
      upload: { kind: 'single' as const, url: 'u' },
      refs: { uploadId: 'U1' },
    };

    // Act
    const result = await adapter.complete(input, ctx);

    // Assess
    expect(result).toEqual({ refs: { jobId: '42' }, vendorState: 'queued' });
    expect(http.calls('complete').map((r) => r.headers?.Authorization)).toEqual(['Bearer old', 'Bearer new']);
    expect(http.calls('complete')[0]?.path).toBe('/v1/uploads/U1/done');
  });

  it('parks nothing it cannot know: a missing required ref is STATE_INCONSISTENT, a missing answer ref ambiguous', async () => {
    // Prepare
    const http = new ScriptedHttp()
      .always('token', { status: 200, body: { access_token: 't' } })
      .queue('complete', { status: 200, body: { state: 'queued' } });
    const ctx = acmeContext(http);
    const file = fileFor('acme/a.csv', 5);

    // Act
    const noRef = await rejectionOf(
      adapter.complete({ file, upload: { kind: 'single', url: 'u' }, refs: {} }, ctx),
    );
    const noJob = await rejectionOf(
      adapter.complete({ file, upload: { kind: 'single', url: 'u' }, refs: { uploadId: 'U1' } }, ctx),
    );

    // Assess
    expect(noRef).toMatchObject({ code: ErrorCode.STATE_INCONSISTENT });
    expect(http.calls('complete')).toHaveLength(1);
    expect(noJob).toBeInstanceOf(AmbiguousOutcomeError);
    expect((noJob as Error).message).toMatch(/without jobId at job/);
  });

  it('maps job states, keeps picked detail and logs a state it does not know as running', async () => {
    // Prepare
    const http = new ScriptedHttp()
      .always('token', { status: 200, body: { access_token: 't' } })
      .queue('status', {
        status: 200,
        body: { state: 'done', warnings: ['2 rows trimmed'], summary: { rows: 9 } },
      })
      .queue('status', { status: 200, body: { state: 'thinking' } });
    const ctx = acmeContext(http);
    const input = {
      file: fileFor('acme/a.csv', 5),
      upload: { kind: 'single' as const, url: 'u' },
      refs: {},
      result: { jobId: '42' },
    };

    // Act
    const done = await adapter.status?.(input, ctx);
    const unknown = await adapter.status?.(input, ctx);

    // Assess
    expect(done).toEqual({
      phase: 'succeeded',
      vendorState: 'done',
      detail: { warnings: ['2 rows trimmed'], 'summary.rows': 9 },
    });
    expect(unknown).toMatchObject({ phase: 'running', vendorState: 'thinking' });
    expect(ctx.logs.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(http.calls('status')[0]?.path).toBe('/v1/jobs/42');
  });

  it('classifies by code before status, and 401/403 as auth whatever the code says', async () => {
    // Prepare
    const http = new ScriptedHttp()
      .always('token', { status: 200, body: { access_token: 't' } })
      .queue('presign', {
        status: 400,
        body: { error: { code: 'slow_down' } },
        headers: { 'retry-after': '7' },
      })
      .queue('presign', { status: 403, body: { error: { code: 'slow_down' } } });
    const ctx = acmeContext(http);
    const file = fileFor('acme/a.csv', 5, { sha256Base64: HASH });

    // Act
    const slow = await rejectionOf(adapter.requestUpload(file, ctx));
    const denied = await rejectionOf(adapter.requestUpload(file, ctx));

    // Assess
    expect(slow).toBeInstanceOf(ThrottledError);
    expect(slow).toMatchObject({ retryAfterMs: 7000, vendorCode: 'slow_down' });
    expect(denied).toBeInstanceOf(PermanentError);
    expect(denied).toMatchObject({ code: ErrorCode.AUTH_FAILED });
  });
});

describe('slack spec', () => {
  const CHANNEL = 'C0SANDBOX01';
  const slackContext = (http: ScriptedHttp, options: Partial<SlackOptions> = {}) =>
    contextFor<SlackSecret, SlackOptions>(slackAdapter, {
      secret: { token: 'xoxb-1-2-abc' },
      options: { channelId: CHANNEL, ...options },
      baseUrl: 'https://slack.com',
      http,
    });

  it('asks with a form and the bearer token, then shares into the channel with a JSON body', async () => {
    // Prepare
    const http = new ScriptedHttp()
      .queue('presign', {
        status: 200,
        body: { ok: true, upload_url: 'https://files.slack.com/upload/v1/x', file_id: 'F1' },
      })
      .queue('complete', { status: 200, body: { ok: true, files: [{ id: 'F1', title: 'a.csv' }] } });
    const ctx = slackContext(http, { initialComment: 'hi' });
    const file = fileFor(`slack/${CHANNEL}/a.csv`, 12);

    // Act
    const plan = await slackAdapter.requestUpload(file, ctx);
    const result = await slackAdapter.complete(
      { file, upload: { kind: 'single', url: 'https://files.slack.com/upload/v1/x' }, refs: plan.refs },
      ctx,
    );

    // Assess
    expect(http.requests).toEqual([
      {
        operation: 'presign',
        method: 'POST',
        path: '/api/files.getUploadURLExternal',
        headers: { Authorization: 'Bearer xoxb-1-2-abc' },
        form: { filename: 'a.csv', length: '12' },
        idempotent: true,
      },
      {
        operation: 'complete',
        method: 'POST',
        path: '/api/files.completeUploadExternal',
        headers: { Authorization: 'Bearer xoxb-1-2-abc' },
        json: { files: [{ id: 'F1', title: 'a.csv' }], channel_id: CHANNEL, initial_comment: 'hi' },
      },
    ]);
    expect(plan).toMatchObject({ kind: 'single', target: { method: 'POST' }, refs: { fileId: 'F1' } });
    expect(result).toEqual({ refs: { fileId: 'F1' } });
  });

  it.each([
    ['invalid_auth', ErrorCode.AUTH_FAILED, false],
    ['missing_scope', ErrorCode.AUTH_FAILED, false],
    ['internal_error', ErrorCode.VENDOR_UNAVAILABLE, true],
    ['file_upload_size_restricted', ErrorCode.FILE_REJECTED, false],
    ['something_new', ErrorCode.VENDOR_BAD_RESPONSE, true],
  ])('reads ok: false with %s as %s', async (code, expected, retryable) => {
    // Prepare
    const http = new ScriptedHttp().queue('presign', { status: 200, body: { ok: false, error: code } });

    // Act
    const error = await rejectionOf(
      slackAdapter.requestUpload(fileFor(`slack/${CHANNEL}/a.csv`, 1), slackContext(http)),
    );

    // Assess
    expect(error).toMatchObject({ code: expected, retryable, vendorCode: code });
  });

  it('refuses a file over 1 GiB before asking', () => {
    // Act
    const error = thrownBy(() =>
      slackAdapter.checkFile(
        fileFor(`slack/${CHANNEL}/big.mp4`, 1024 ** 3 + 1),
        slackAdapter.optionsSchema.parse({ channelId: CHANNEL }),
      ),
    );

    // Assess
    expect(error).toBeInstanceOf(FileRejectedError);
  });
});
