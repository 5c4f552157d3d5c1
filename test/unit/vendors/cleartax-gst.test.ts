import { describe, expect, it } from 'vitest';
import {
  AmbiguousOutcomeError,
  ErrorCode,
  FileRejectedError,
  PermanentError,
  RetryableError,
  ThrottledError,
} from '../../../functions/shared/errors';
import { cleartaxGstAdapter } from '../../../functions/vendors/cleartax-gst/adapter';
import type { GstOptions, GstSecret } from '../../../functions/vendors/cleartax-gst/schemas';
import type { CompletionInput, MintedToken, TokenCache } from '../../../functions/vendors/types';
import type { MemoryTokenCache } from '../../support/memory-token-cache';
import { contextFor, fileFor, type Reply, rejectionOf, ScriptedHttp, thrownBy } from './scripted-vendor';

const BASE = 'https://api-sandbox.clear.in';
const SIGNED =
  'https://storage.clear.in/v1/ap-south-1/ingestionv2-staging/abc/march.xlsx?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-SignedHeaders=content-type%3Bhost&X-Amz-Signature=77c29e7e';
const UNSIGNED = 'https://storage.clear.in/v1/ap-south-1/ingestionv2-staging/abc/march.xlsx';
const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

const created: Reply = {
  status: 200,
  body: { status: 'CREATED', preSignedS3Url: SIGNED, errorCode: null, errorMessage: null },
};
const failed = (errorCode: string, errorMessage = 'refused'): Reply => ({
  status: 200,
  body: { status: 'FAILED', preSignedS3Url: null, errorCode, errorMessage },
});
const unauthorised: Reply = {
  status: 401,
  body: {
    status: null,
    preSignedS3Url: null,
    errorCode: 'AUTHORIZATION_FAILED',
    errorMessage: 'Invalid Auth Token',
  },
};
const mintedToken = (token: string): Reply => ({
  status: 200,
  body: { access_token: token, valid_till: null },
});

function gstContext(
  setup: {
    secret?: object;
    options?: Record<string, unknown>;
    http?: ScriptedHttp;
    tokens?: MemoryTokenCache;
  } = {},
) {
  return contextFor<GstSecret, GstOptions>(cleartaxGstAdapter, {
    secret: setup.secret ?? { authToken: 'static-token' },
    options: setup.options ?? { templateType: 'sales' },
    baseUrl: BASE,
    http: setup.http,
    tokens: setup.tokens,
  });
}

function completionInput(overrides: Partial<CompletionInput> = {}): CompletionInput {
  return {
    file: fileFor('cleartax/sales/march.xlsx', 2048),
    upload: { kind: 'single', url: UNSIGNED, signedUrl: SIGNED },
    refs: { userFileName: 'march.xlsx' },
    ...overrides,
  };
}

describe('cleartaxGstAdapter options and secret', () => {
  it('defaults templateId to the system template of the templateType, the signed URL mode and the documented paths', () => {
    // Prepare
    const raw = { templateType: 'purchase' };

    // Act
    const options = cleartaxGstAdapter.optionsSchema.parse(raw);

    // Assess
    expect(options).toEqual({
      templateType: 'purchase',
      templateId: '60e5613ff71f4a7aeca4336b',
      s3FileUrlMode: 'signed',
      paths: {
        token: '/integration/v1/authz/token',
        presign: '/integration/v1/generatePreSign/{templateType}',
        ingest: '/integration/v1/ingest/file/{templateType}',
        status: '/integration/v1/ingest/file/{templateType}/status/{activityId}',
      },
      statusFields: { stats: 'processingStats', errorFileUrl: 'fileError.errorFileUrl' },
    });
  });

  it('keeps a route templateId, gstins, URL mode and path override', () => {
    // Prepare
    const raw = {
      templateType: 'sales',
      templateId: 'custom-template',
      gstins: ['29AAACI1681G1ZV'],
      s3FileUrlMode: 'unsigned',
      paths: { presign: '/v2/presign/{templateType}' },
    };

    // Act
    const options = cleartaxGstAdapter.optionsSchema.parse(raw);

    // Assess
    expect(options.templateId).toBe('custom-template');
    expect(options.gstins).toEqual(['29AAACI1681G1ZV']);
    expect(options.s3FileUrlMode).toBe('unsigned');
    expect(options.paths.presign).toBe('/v2/presign/{templateType}');
    expect(options.paths.ingest).toBe('/integration/v1/ingest/file/{templateType}');
  });

  it.each([
    ['an unknown template type', { templateType: 'returns' }],
    ['a misspelt option', { templateType: 'sales', templateID: 'x' }],
    ['a malformed GSTIN', { templateType: 'sales', gstins: ['29-ABC'] }],
    ['a path with a query', { templateType: 'sales', paths: { presign: '/p?x=1' } }],
  ])('refuses %s', (_name, raw) => {
    // Act
    const result = cleartaxGstAdapter.optionsSchema.safeParse(raw);

    // Assess
    expect(result.success).toBe(false);
  });

  it.each([
    ['authToken only', { authToken: 't' }, true],
    ['clientSecret only', { clientSecret: 's' }, true],
    ['both', { authToken: 't', clientSecret: 's' }, false],
    ['neither', {}, false],
  ])('accepts a secret with %s: %s', (_name, secret, ok) => {
    // Act
    const result = cleartaxGstAdapter.secretSchema.safeParse(secret);

    // Assess
    expect(result.success).toBe(ok);
  });
});

describe('cleartaxGstAdapter.checkFile', () => {
  const options = cleartaxGstAdapter.optionsSchema.parse({ templateType: 'sales' });

  it.each(['march.csv', 'march.xls', 'march.xlsx', `${'a'.repeat(1495)}.xlsx`])('accepts %s', (name) => {
    // Act + Assess
    expect(() => cleartaxGstAdapter.checkFile(fileFor(`cleartax/sales/${name}`, 10), options)).not.toThrow();
  });

  it.each([
    ['a PDF', 'march.pdf', /\.csv, \.xls and \.xlsx/],
    ['a file without extension', 'march', /\.csv, \.xls and \.xlsx/],
    ['a name over 1500 characters', `${'a'.repeat(1496)}.xlsx`, /at most 1500 characters/],
  ])('rejects %s naming the rule', (_name, fileName, rule) => {
    // Act
    const error = thrownBy(() =>
      cleartaxGstAdapter.checkFile(fileFor(`cleartax/sales/${fileName}`, 10), options),
    );

    // Assess
    expect(error).toBeInstanceOf(FileRejectedError);
    expect((error as FileRejectedError).message).toMatch(rule);
  });
});

describe('cleartaxGstAdapter.requestUpload', () => {
  it('asks for a presigned URL exactly as documented and plans one PUT with the mandated Content-Type', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('presign', created);
    const ctx = gstContext({ http });

    // Act
    const plan = await cleartaxGstAdapter.requestUpload(fileFor('cleartax/sales/march.xlsx', 2048), ctx);

    // Assess
    expect(http.requests).toEqual([
      {
        operation: 'presign',
        method: 'GET',
        path: '/integration/v1/generatePreSign/sales',
        query: { fileName: 'march.xlsx' },
        headers: { 'x-cleartax-auth-token': 'static-token', fileContentType: 'XLSX' },
      },
    ]);
    expect(plan).toEqual({
      kind: 'single',
      target: {
        url: SIGNED,
        method: 'PUT',
        headers: { 'Content-Type': XLSX },
        expiresAt: ctx.now() + 10 * 60_000,
      },
      refs: { userFileName: 'march.xlsx' },
    });
  });

  it.each([
    ['csv', 'CSV', 'application/vnd.ms-excel'],
    ['xls', 'XLS', 'application/vnd.ms-excel'],
  ])(
    'sends fileContentType and signs the PUT Content-Type for .%s',
    async (extension, header, contentType) => {
      // Prepare
      const http = new ScriptedHttp().queue('presign', created);
      const ctx = gstContext({ http, options: { templateType: 'purchase' } });

      // Act
      const plan = await cleartaxGstAdapter.requestUpload(
        fileFor(`cleartax/purchase/march.${extension}`, 10),
        ctx,
      );

      // Assess
      expect(http.requests[0]?.path).toBe('/integration/v1/generatePreSign/purchase');
      expect(http.requests[0]?.headers?.fileContentType).toBe(header);
      expect(plan.kind === 'single' && plan.target.headers).toEqual({ 'Content-Type': contentType });
    },
  );

  it('uses a route path override', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('presign', created);
    const ctx = gstContext({
      http,
      options: { templateType: 'sales', paths: { presign: '/v9/presign/{templateType}/x' } },
    });

    // Act
    await cleartaxGstAdapter.requestUpload(fileFor('cleartax/sales/march.csv', 10), ctx);

    // Assess
    expect(http.requests[0]?.path).toBe('/v9/presign/sales/x');
  });

  it.each([
    ['API_QUOTA_EXCEEDED', ThrottledError, true, ErrorCode.VENDOR_THROTTLED],
    ['INTERNAL_ERROR', RetryableError, true, ErrorCode.VENDOR_UNAVAILABLE],
    ['AUTHORIZATION_FAILED', PermanentError, false, ErrorCode.AUTH_FAILED],
    ['LICENSE_EXPIRED', PermanentError, false, ErrorCode.VENDOR_REJECTED],
    ['PERMISSION_DENIED', PermanentError, false, ErrorCode.AUTH_FAILED],
  ])('classifies a 200 FAILED with errorCode %s', async (errorCode, errorClass, retryable, code) => {
    // Prepare
    const http = new ScriptedHttp().queue('presign', failed(errorCode, 'see docs'));
    const ctx = gstContext({ http });

    // Act
    const error = await rejectionOf(
      cleartaxGstAdapter.requestUpload(fileFor('cleartax/sales/march.xlsx', 10), ctx),
    );

    // Assess
    expect(error).toBeInstanceOf(errorClass);
    expect(error).toMatchObject({ retryable, code, vendorCode: errorCode, status: 200 });
    expect((error as Error).message).toContain('see docs');
  });

  it('retries a 200 FAILED with an unknown code, as anything unknown', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('presign', failed('NEW_CODE'));
    const ctx = gstContext({ http });

    // Act
    const error = await rejectionOf(
      cleartaxGstAdapter.requestUpload(fileFor('cleartax/sales/march.xlsx', 10), ctx),
    );

    // Assess
    expect(error).toMatchObject({ retryable: true, vendorCode: 'NEW_CODE' });
  });

  it('reads the first entry of a 500 JSON array and retries, without leaking a signed URL', async () => {
    // Prepare
    const body = [
      {
        errorCode: 'INTERNAL_ERROR',
        errorMessage: `Required request header 'fileContentType' is not present for ${SIGNED}`,
        errorField: null,
        errorValues: null,
        errorResolution: null,
      },
    ];
    const http = new ScriptedHttp().queue('presign', { status: 500, body });
    const ctx = gstContext({ http });

    // Act
    const error = await rejectionOf(
      cleartaxGstAdapter.requestUpload(fileFor('cleartax/sales/march.xlsx', 10), ctx),
    );

    // Assess
    expect(error).toBeInstanceOf(RetryableError);
    expect(error).toMatchObject({
      code: ErrorCode.VENDOR_UNAVAILABLE,
      vendorCode: 'INTERNAL_ERROR',
      status: 500,
    });
    expect((error as Error).message).toContain("Required request header 'fileContentType'");
    expect((error as Error).message).not.toContain('77c29e7e');
  });

  it.each([
    ['401 with a static token', unauthorised, PermanentError, ErrorCode.AUTH_FAILED],
    ['403', { status: 403, body: '' }, PermanentError, ErrorCode.AUTH_FAILED],
    ['429', { status: 429, body: '' }, ThrottledError, ErrorCode.VENDOR_THROTTLED],
    ['502', { status: 502, body: 'Bad Gateway' }, RetryableError, ErrorCode.VENDOR_UNAVAILABLE],
  ] as const)('classifies %s', async (_name, reply, errorClass, code) => {
    // Prepare
    const http = new ScriptedHttp().queue('presign', reply);
    const ctx = gstContext({ http });

    // Act
    const error = await rejectionOf(
      cleartaxGstAdapter.requestUpload(fileFor('cleartax/sales/march.xlsx', 10), ctx),
    );

    // Assess
    expect(error).toBeInstanceOf(errorClass);
    expect(error).toMatchObject({ code });
    expect(http.calls('presign')).toHaveLength(1);
  });

  it.each([
    ['not JSON', { status: 200, body: '<html>' }],
    [
      'CREATED without a URL',
      { status: 200, body: { status: 'CREATED', preSignedS3Url: null, errorCode: null } },
    ],
    ['a wrong type', { status: 200, body: { status: 'CREATED', preSignedS3Url: 42 } }],
  ])('treats a 200 that is %s as a retryable bad response', async (_name, reply) => {
    // Prepare
    const http = new ScriptedHttp().queue('presign', reply);
    const ctx = gstContext({ http });

    // Act
    const error = await rejectionOf(
      cleartaxGstAdapter.requestUpload(fileFor('cleartax/sales/march.xlsx', 10), ctx),
    );

    // Assess
    expect(error).toMatchObject({ retryable: true, code: ErrorCode.VENDOR_BAD_RESPONSE });
  });
});

describe('cleartaxGstAdapter token handling', () => {
  it('mints one token from the client secret for many parallel presign calls', async () => {
    // Prepare
    const http = new ScriptedHttp()
      .always('token', {
        status: 200,
        body: { access_token: 'minted-1', valid_till: '2099-01-01T00:00:00Z' },
      })
      .always('presign', created);
    const ctx = gstContext({ http, secret: { clientSecret: 'client-secret-1' } });
    const files = Array.from({ length: 12 }, (_, i) => fileFor(`cleartax/sales/f${i}.csv`, 10));

    // Act
    await Promise.all(files.map((file) => cleartaxGstAdapter.requestUpload(file, ctx)));

    // Assess
    expect(http.calls('token')).toEqual([
      {
        operation: 'token',
        method: 'GET',
        path: '/integration/v1/authz/token',
        headers: { 'x-clear-client-secret': 'client-secret-1' },
      },
    ]);
    expect(http.calls('presign').map((r) => r.headers?.['x-cleartax-auth-token'])).toEqual(
      Array(12).fill('minted-1'),
    );
  });

  it.each([
    ['a 401', unauthorised],
    ['a 200 AUTHORIZATION_FAILED', failed('AUTHORIZATION_FAILED')],
  ])('re-mints once and retries the call after %s with a minted token', async (_name, refusal) => {
    // Prepare
    const http = new ScriptedHttp()
      .queue('token', mintedToken('old'), mintedToken('new'))
      .queue('presign', refusal, created);
    const ctx = gstContext({ http, secret: { clientSecret: 'client-secret-1' } });

    // Act
    const plan = await cleartaxGstAdapter.requestUpload(fileFor('cleartax/sales/march.xlsx', 10), ctx);

    // Assess
    expect(plan.kind).toBe('single');
    expect(http.calls('token')).toHaveLength(2);
    expect(http.calls('presign').map((r) => r.headers?.['x-cleartax-auth-token'])).toEqual(['old', 'new']);
  });

  it('re-mints only once when many parallel calls are refused with the same token', async () => {
    // Prepare
    const http = new ScriptedHttp()
      .queue('token', mintedToken('old'), mintedToken('new'))
      .always('presign', (request) =>
        request.headers?.['x-cleartax-auth-token'] === 'old' ? unauthorised : created,
      );
    const ctx = gstContext({ http, secret: { clientSecret: 'client-secret-1' } });
    const files = Array.from({ length: 8 }, (_, i) => fileFor(`cleartax/sales/f${i}.csv`, 10));

    // Act
    const plans = await Promise.all(files.map((file) => cleartaxGstAdapter.requestUpload(file, ctx)));

    // Assess
    expect(plans.every((plan) => plan.kind === 'single')).toBe(true);
    expect(http.calls('token')).toHaveLength(2);
  });

  it('gives up with AUTH_FAILED when the fresh token is refused too', async () => {
    // Prepare
    const http = new ScriptedHttp()
      .queue('token', mintedToken('old'), mintedToken('new'))
      .always('presign', unauthorised);
    const ctx = gstContext({ http, secret: { clientSecret: 'client-secret-1' } });

    // Act
    const error = await rejectionOf(
      cleartaxGstAdapter.requestUpload(fileFor('cleartax/sales/march.xlsx', 10), ctx),
    );

    // Assess
    expect(error).toMatchObject({
      retryable: false,
      code: ErrorCode.AUTH_FAILED,
      vendorCode: 'AUTHORIZATION_FAILED',
    });
    expect(http.calls('token')).toHaveLength(2);
    expect(http.calls('presign')).toHaveLength(2);
  });

  it('never mints with a static authToken', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('presign', unauthorised);
    const ctx = gstContext({ http, secret: { authToken: 'static-token' } });

    // Act
    await rejectionOf(cleartaxGstAdapter.requestUpload(fileFor('cleartax/sales/march.xlsx', 10), ctx));

    // Assess
    expect(http.calls('token')).toHaveLength(0);
  });

  it.each([
    ['429', { status: 429, body: '' }, ThrottledError],
    ['401', { status: 401, body: '' }, PermanentError],
    ['200 without a token', { status: 200, body: { valid_till: null } }, RetryableError],
    [
      '200 with a bad valid_till',
      { status: 200, body: { access_token: 't', valid_till: 'soon' } },
      RetryableError,
    ],
  ] as const)('classifies a token endpoint %s', async (_name, reply, errorClass) => {
    // Prepare
    const http = new ScriptedHttp().queue('token', reply);
    const ctx = gstContext({ http, secret: { clientSecret: 'client-secret-1' } });

    // Act
    const error = await rejectionOf(
      cleartaxGstAdapter.requestUpload(fileFor('cleartax/sales/march.xlsx', 10), ctx),
    );

    // Assess
    expect(error).toBeInstanceOf(errorClass);
    expect(http.calls('presign')).toHaveLength(0);
  });

  it('keys the shared token by base origin and a digest of the client secret, and keeps valid_till', async () => {
    // Prepare
    const seen: Array<{ key: string; minted: MintedToken }> = [];
    const tokens: TokenCache = {
      async get(key, mint) {
        const minted = await mint();
        seen.push({ key, minted });
        return minted.token;
      },
      async refused() {
        return 'remint' as const;
      },
    };
    const http = new ScriptedHttp()
      .queue('token', { status: 200, body: { access_token: 'minted', valid_till: '2030-05-01T00:00:00Z' } })
      .queue('presign', created);
    const ctx = { ...gstContext({ http, secret: { clientSecret: 'client-secret-1' } }), tokens };

    // Act
    await cleartaxGstAdapter.requestUpload(fileFor('cleartax/sales/march.xlsx', 10), ctx);

    // Assess
    expect(seen).toHaveLength(1);
    expect(seen[0]?.key).toMatch(/^cleartax:https:\/\/api-sandbox\.clear\.in:[0-9a-f]{16}$/);
    expect(seen[0]?.key).not.toContain('client-secret-1');
    expect(seen[0]?.minted).toEqual({ token: 'minted', validUntil: Date.parse('2030-05-01T00:00:00Z') });
  });
});

describe('cleartaxGstAdapter.complete', () => {
  it('triggers ingestion with the template, the presigned URL whole and the presign file name', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('complete', {
      status: 201,
      body: { activityId: 'act-1', status: 'ACTIVITY_CREATED' },
    });
    const ctx = gstContext({ http });

    // Act
    const result = await cleartaxGstAdapter.complete(completionInput(), ctx);

    // Assess
    expect(http.requests).toEqual([
      {
        operation: 'complete',
        method: 'POST',
        path: '/integration/v1/ingest/file/sales',
        headers: { 'x-cleartax-auth-token': 'static-token' },
        json: {
          userInputArgs: { templateId: '618a5623836651c01c1498ad' },
          fileInfo: { s3FileUrl: SIGNED, userFileName: 'march.xlsx' },
        },
      },
    ]);
    expect(result).toEqual({ refs: { activityId: 'act-1' }, vendorState: 'ACTIVITY_CREATED' });
  });

  it('sends the unsigned URL and the gstins when the route says so', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('complete', {
      status: 201,
      body: { activityId: 'act-2', status: null },
    });
    const ctx = gstContext({
      http,
      options: {
        templateType: 'purchase',
        templateId: 'tpl-9',
        gstins: ['29AAACI1681G1ZV'],
        s3FileUrlMode: 'unsigned',
      },
    });

    // Act
    await cleartaxGstAdapter.complete(completionInput({ refs: { userFileName: 'p.csv' } }), ctx);

    // Assess
    expect(http.requests[0]?.path).toBe('/integration/v1/ingest/file/purchase');
    expect(http.requests[0]?.json).toEqual({
      userInputArgs: { templateId: 'tpl-9', gstins: ['29AAACI1681G1ZV'] },
      fileInfo: { s3FileUrl: UNSIGNED, userFileName: 'p.csv' },
    });
  });

  it('falls back to the unsigned URL with a warning when the signed one was not kept', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('complete', { status: 201, body: { activityId: 'act-3' } });
    const ctx = gstContext({ http });

    // Act
    await cleartaxGstAdapter.complete(completionInput({ upload: { kind: 'single', url: UNSIGNED } }), ctx);

    // Assess
    expect(http.requests[0]?.json).toMatchObject({ fileInfo: { s3FileUrl: UNSIGNED } });
    expect(ctx.logs.some((l) => l.level === 'warn')).toBe(true);
  });

  it.each([
    [
      '400',
      { status: 400, body: { errorCode: 'INVALID_TEMPLATE', errorMessage: 'bad template' } },
      false,
      ErrorCode.VENDOR_REJECTED,
    ],
    [
      '500 array',
      { status: 500, body: [{ errorCode: 'INTERNAL_ERROR', errorMessage: 'boom' }] },
      true,
      ErrorCode.VENDOR_UNAVAILABLE,
    ],
    ['401', { status: 401, body: { errorCode: 'AUTHORIZATION_FAILED' } }, false, ErrorCode.AUTH_FAILED],
  ] as const)('classifies a %s trigger answer', async (_name, reply, retryable, code) => {
    // Prepare
    const http = new ScriptedHttp().queue('complete', reply);
    const ctx = gstContext({ http });

    // Act
    const error = await rejectionOf(cleartaxGstAdapter.complete(completionInput(), ctx));

    // Assess
    expect(error).toMatchObject({ retryable, code });
  });

  it('reports an accepted trigger without an activityId as ambiguous, not as safe to retry', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('complete', { status: 201, body: 'created' });
    const ctx = gstContext({ http });

    // Act
    const error = await rejectionOf(cleartaxGstAdapter.complete(completionInput(), ctx));

    // Assess
    expect(error).toBeInstanceOf(AmbiguousOutcomeError);
  });
});

describe('cleartaxGstAdapter.status', () => {
  const statusInput = { ...completionInput(), result: { activityId: 'act/1' } };

  it.each([
    ['sales', 'GSTSALES'],
    ['purchase', 'MAXITC'],
  ])('polls the %s activity with tenant %s', async (templateType, tenant) => {
    // Prepare
    const http = new ScriptedHttp().queue('status', {
      status: 200,
      body: { activityId: 'act/1', status: 'ACTIVITY_QUEUED' },
    });
    const ctx = gstContext({ http, options: { templateType } });

    // Act
    await cleartaxGstAdapter.status?.(statusInput, ctx);

    // Assess
    expect(http.requests).toEqual([
      {
        operation: 'status',
        method: 'GET',
        path: `/integration/v1/ingest/file/${templateType}/status/act%2F1`,
        query: { tenant },
        headers: { 'x-cleartax-auth-token': 'static-token' },
      },
    ]);
  });

  it.each([
    ['ACTIVITY_CREATED', 'running'],
    ['ACTIVITY_QUEUED', 'running'],
    ['ACTIVITY_COMPLETED', 'succeeded'],
    ['ACTIVITY_DISCARDED', 'failed'],
    ['SYSTEM_FEEDBACK', 'failed'],
    ['UNPLANNED_ERROR', 'failed'],
  ])('maps %s to %s', async (vendorState, phase) => {
    // Prepare
    const http = new ScriptedHttp().queue('status', {
      status: 200,
      body: { activityId: 'a', status: vendorState },
    });
    const ctx = gstContext({ http });

    // Act
    const status = await cleartaxGstAdapter.status?.(statusInput, ctx);

    // Assess
    expect(status).toMatchObject({ phase, vendorState });
  });

  it('keeps processing stats and the file error of a completed activity, without link signatures', async () => {
    // Prepare
    const body = {
      activityId: 'a',
      status: 'ACTIVITY_COMPLETED',
      processingStats: [{ identifier: 'INVOICE', totalDocumentCount: 10, validRows: 8, invalidRows: 2 }],
      fileError: { inputFileName: 'march.xlsx', status: 'PARTIAL', errorFileUrl: SIGNED },
      errors: [],
    };
    const http = new ScriptedHttp().queue('status', { status: 200, body });
    const ctx = gstContext({ http });

    // Act
    const status = await cleartaxGstAdapter.status?.(statusInput, ctx);

    // Assess
    expect(status?.detail?.processingStats).toEqual(body.processingStats);
    expect(JSON.stringify(status?.detail?.fileError)).toContain('march.xlsx');
    expect(JSON.stringify(status?.detail)).not.toContain('77c29e7e');
  });

  it('treats an unknown state as still running and says so', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('status', { status: 200, body: { status: 'ACTIVITY_PAUSED' } });
    const ctx = gstContext({ http });

    // Act
    const status = await cleartaxGstAdapter.status?.(statusInput, ctx);

    // Assess
    expect(status).toMatchObject({ phase: 'running', vendorState: 'ACTIVITY_PAUSED' });
    expect(ctx.logs.some((l) => l.level === 'warn')).toBe(true);
  });

  it('treats a status answer without a status as a retryable bad response', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('status', { status: 200, body: { activityId: 'a' } });
    const ctx = gstContext({ http });

    // Act
    const error = await rejectionOf(Promise.resolve(cleartaxGstAdapter.status?.(statusInput, ctx)));

    // Assess
    expect(error).toMatchObject({ retryable: true, code: ErrorCode.VENDOR_BAD_RESPONSE });
  });
});
