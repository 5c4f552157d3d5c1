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
import { cleartaxOneAdapter } from '../../../functions/vendors/cleartax-one/adapter';
import type { OneOptions, OneSecret } from '../../../functions/vendors/cleartax-one/schemas';
import type { CompletionInput } from '../../../functions/vendors/types';
import { MemoryTokenCache } from '../../support/memory-token-cache';
import { contextFor, fileFor, type Reply, rejectionOf, ScriptedHttp, thrownBy } from './scripted-vendor';

const BASE = 'https://api-sandbox.clear.in';
const INTEGRATION_ID = '85899214-187b-4ca5-9d53-f89a83f955ba';
const UNSIGNED = 'https://storage.clear.in/v1/ap-south-1/one-integration-staging/abc/sales.csv';
const SIGNED = `${UNSIGNED}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-SignedHeaders=content-type%3Bhost&X-Amz-Signature=539d9fe3`;

const envelope = (result: unknown, extra: object = {}) => ({
  status: 200,
  success: true,
  message: 'ok',
  result,
  error: null,
  metadata: null,
  ...extra,
});
const presigned: Reply = { status: 200, body: envelope({ status: 'OK', uploadUrl: SIGNED }) };
const unauthorised: Reply = { status: 401, body: 'UNAUTHORIZED', headers: { 'content-type': 'text/plain' } };
const errorEnvelope = (status: number, code: string, message: string): Reply => ({
  status,
  body: {
    status,
    success: false,
    message: 'ERROR',
    result: null,
    error: { code, message, validationErrors: null },
    metadata: null,
  },
});

function oneContext(
  setup: {
    secret?: object;
    options?: Record<string, unknown>;
    http?: ScriptedHttp;
    tokens?: MemoryTokenCache;
  } = {},
) {
  return contextFor<OneSecret, OneOptions>(cleartaxOneAdapter, {
    secret: setup.secret ?? { authToken: 'static-token', integrationId: INTEGRATION_ID },
    options: setup.options ?? { fileType: 'sales', templateType: 'SALES' },
    baseUrl: BASE,
    http: setup.http,
    tokens: setup.tokens,
  });
}

function completionInput(overrides: Partial<CompletionInput> = {}): CompletionInput {
  return {
    file: fileFor('cleartax-one/sales/sales.csv', 100),
    upload: { kind: 'single', url: UNSIGNED, signedUrl: SIGNED },
    refs: { filename: 'sales.csv' },
    ...overrides,
  };
}

describe('cleartaxOneAdapter options and secret', () => {
  it('defaults the documented paths and the assumed task id and status fields', () => {
    // Act
    const options = cleartaxOneAdapter.optionsSchema.parse({ fileType: 'sales', templateType: 'SALES' });

    // Assess
    expect(options).toEqual({
      fileType: 'sales',
      templateType: 'SALES',
      taskIdField: 'result.taskId',
      statusFields: { stats: 'result.stats', errorFileUrl: 'result.errorFileUrl' },
      paths: {
        token: '/integration/v1/authz/token',
        presign: '/one-integration/action/pre-sign',
        ingest: '/one-integration/api/v1/ingest',
        status: '/one-integration/workflow/status',
      },
    });
  });

  it.each([
    ['no fileType', { templateType: 'SALES' }],
    ['no templateType', { fileType: 'sales' }],
    ['a bad taskIdField', { fileType: 'sales', templateType: 'SALES', taskIdField: 'result..id' }],
    ['a misspelt option', { fileType: 'sales', templateType: 'SALES', metaData: {} }],
  ])('refuses options with %s', (_name, raw) => {
    // Act + Assess
    expect(cleartaxOneAdapter.optionsSchema.safeParse(raw).success).toBe(false);
  });

  it.each([
    ['a token and an integration id', { authToken: 't', integrationId: INTEGRATION_ID }, true],
    ['a client secret and an integration id', { clientSecret: 's', integrationId: INTEGRATION_ID }, true],
    ['no integration id', { authToken: 't' }, false],
    ['a short integration id', { authToken: 't', integrationId: '1234' }, false],
    ['both credentials', { authToken: 't', clientSecret: 's', integrationId: INTEGRATION_ID }, false],
  ])('secret with %s → valid: %s', (_name, secret, ok) => {
    // Act + Assess
    expect(cleartaxOneAdapter.secretSchema.safeParse(secret).success).toBe(ok);
  });
});

describe('cleartaxOneAdapter.checkFile', () => {
  const options = cleartaxOneAdapter.optionsSchema.parse({ fileType: 'sales', templateType: 'SALES' });

  it.each(['a.csv', 'a.xls', 'a.xlsx', 'a.zip'])('accepts %s', (name) => {
    // Act + Assess
    expect(() =>
      cleartaxOneAdapter.checkFile(fileFor(`cleartax-one/sales/${name}`, 1), options),
    ).not.toThrow();
  });

  it.each(['a.pdf', 'a.json', 'abc'])('rejects %s naming the allowed extensions', (name) => {
    // Act
    const error = thrownBy(() =>
      cleartaxOneAdapter.checkFile(fileFor(`cleartax-one/sales/${name}`, 1), options),
    );

    // Assess
    expect(error).toBeInstanceOf(FileRejectedError);
    expect((error as Error).message).toMatch(/\.csv, \.xlsx, \.xls and \.zip/);
  });
});

describe('cleartaxOneAdapter.requestUpload', () => {
  it('asks for a pre-signed URL with both headers and plans one PUT valid for an hour', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('presign', presigned);
    const ctx = oneContext({ http });

    // Act
    const plan = await cleartaxOneAdapter.requestUpload(fileFor('cleartax-one/sales/sales.csv', 100), ctx);

    // Assess
    expect(http.requests).toEqual([
      {
        operation: 'presign',
        method: 'GET',
        path: '/one-integration/action/pre-sign',
        query: { filename: 'sales.csv' },
        headers: { 'x-clear-auth-token': 'static-token', 'x-integration-id': INTEGRATION_ID },
      },
    ]);
    expect(plan).toEqual({
      kind: 'single',
      target: {
        url: SIGNED,
        method: 'PUT',
        headers: { 'Content-Type': 'text/csv' },
        expiresAt: ctx.now() + 3_600_000,
      },
      refs: { filename: 'sales.csv' },
    });
  });

  it.each([
    ['xls', 'application/vnd.ms-excel'],
    ['xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
    ['zip', 'application/zip'],
  ])('signs .%s uploads as %s', async (extension, contentType) => {
    // Prepare
    const http = new ScriptedHttp().queue('presign', presigned);
    const ctx = oneContext({ http });

    // Act
    const plan = await cleartaxOneAdapter.requestUpload(fileFor(`cleartax-one/sales/f.${extension}`, 1), ctx);

    // Assess
    expect(plan.kind === 'single' && plan.target.headers['Content-Type']).toBe(contentType);
  });

  it('classifies the plain-text 401 UNAUTHORIZED with a static token as permanent', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('presign', unauthorised);
    const ctx = oneContext({ http });

    // Act
    const error = await rejectionOf(
      cleartaxOneAdapter.requestUpload(fileFor('cleartax-one/sales/a.csv', 1), ctx),
    );

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ code: ErrorCode.AUTH_FAILED, vendorCode: 'UNAUTHORIZED', status: 401 });
  });

  it('maps the 406 extension error to a file rejection with the vendor message', async () => {
    // Prepare
    const http = new ScriptedHttp().queue(
      'presign',
      errorEnvelope(406, '406', 'Invalid file extension. Allowed extensions: csv, xlsx, xls, zip'),
    );
    const ctx = oneContext({ http });

    // Act
    const error = await rejectionOf(
      cleartaxOneAdapter.requestUpload(fileFor('cleartax-one/sales/a.csv', 1), ctx),
    );

    // Assess
    expect(error).toBeInstanceOf(FileRejectedError);
    expect(error).toMatchObject({ vendorCode: '406', status: 406 });
    expect((error as Error).message).toContain('Invalid file extension');
  });

  it.each([
    [
      '400',
      errorEnvelope(400, 'BAD_REQUEST', 'filename is empty'),
      PermanentError,
      ErrorCode.VENDOR_REJECTED,
    ],
    ['403', errorEnvelope(403, 'FORBIDDEN', 'no access'), PermanentError, ErrorCode.AUTH_FAILED],
    [
      '500',
      errorEnvelope(500, 'INTERNAL_SERVER_ERROR', 'boom'),
      RetryableError,
      ErrorCode.VENDOR_UNAVAILABLE,
    ],
    ['429', { status: 429, body: '' }, ThrottledError, ErrorCode.VENDOR_THROTTLED],
    ['200 with success false', errorEnvelope(200, 'X', 'odd'), RetryableError, ErrorCode.VENDOR_BAD_RESPONSE],
    [
      '200 not an envelope',
      { status: 200, body: { uploadUrl: SIGNED } },
      RetryableError,
      ErrorCode.VENDOR_BAD_RESPONSE,
    ],
    [
      '200 without uploadUrl',
      { status: 200, body: envelope({ status: 'OK' }) },
      RetryableError,
      ErrorCode.VENDOR_BAD_RESPONSE,
    ],
  ] as const)('classifies a %s answer', async (_name, reply, errorClass, code) => {
    // Prepare
    const http = new ScriptedHttp().queue('presign', reply);
    const ctx = oneContext({ http });

    // Act
    const error = await rejectionOf(
      cleartaxOneAdapter.requestUpload(fileFor('cleartax-one/sales/a.csv', 1), ctx),
    );

    // Assess
    expect(error).toBeInstanceOf(errorClass);
    expect(error).toMatchObject({ code });
  });
});

describe('cleartaxOneAdapter token handling', () => {
  it('mints one token for many parallel calls and sends it as x-clear-auth-token', async () => {
    // Prepare
    const http = new ScriptedHttp()
      .always('token', { status: 200, body: { access_token: 'minted', valid_till: null } })
      .always('presign', presigned);
    const ctx = oneContext({ http, secret: { clientSecret: 'secret-1', integrationId: INTEGRATION_ID } });

    // Act
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        cleartaxOneAdapter.requestUpload(fileFor(`cleartax-one/sales/${i}.csv`, 1), ctx),
      ),
    );

    // Assess
    expect(http.calls('token')).toHaveLength(1);
    expect(http.calls('token')[0]?.headers).toEqual({ 'x-clear-client-secret': 'secret-1' });
    expect(new Set(http.calls('presign').map((r) => r.headers?.['x-clear-auth-token']))).toEqual(
      new Set(['minted']),
    );
  });

  it('re-mints once after the plain-text 401 and retries the call', async () => {
    // Prepare
    const http = new ScriptedHttp()
      .queue(
        'token',
        { status: 200, body: { access_token: 'old', valid_till: null } },
        { status: 200, body: { access_token: 'new', valid_till: null } },
      )
      .queue('presign', unauthorised, presigned);
    const ctx = oneContext({ http, secret: { clientSecret: 'secret-1', integrationId: INTEGRATION_ID } });

    // Act
    const plan = await cleartaxOneAdapter.requestUpload(fileFor('cleartax-one/sales/a.csv', 1), ctx);

    // Assess
    expect(plan.kind).toBe('single');
    expect(http.calls('presign').map((r) => r.headers?.['x-clear-auth-token'])).toEqual(['old', 'new']);
  });

  it('shares the token with the GST flow for the same client secret and base URL', async () => {
    // Prepare
    const tokens = new MemoryTokenCache();
    const http = new ScriptedHttp()
      .always('token', { status: 200, body: { access_token: 'shared', valid_till: null } })
      .queue('presign', presigned, {
        status: 200,
        body: { status: 'CREATED', preSignedS3Url: SIGNED, errorCode: null, errorMessage: null },
      });
    const one = oneContext({
      http,
      tokens,
      secret: { clientSecret: 'secret-1', integrationId: INTEGRATION_ID },
    });
    const gst = contextFor<GstSecret, GstOptions>(cleartaxGstAdapter, {
      secret: { clientSecret: 'secret-1' },
      options: { templateType: 'sales' },
      baseUrl: BASE,
      http,
      tokens,
    });

    // Act
    await cleartaxOneAdapter.requestUpload(fileFor('cleartax-one/sales/a.csv', 1), one);
    await cleartaxGstAdapter.requestUpload(fileFor('cleartax/sales/a.csv', 1), gst);

    // Assess
    expect(tokens.mints).toBe(1);
    expect(http.calls('token')).toHaveLength(1);
  });
});

describe('cleartaxOneAdapter.complete', () => {
  it('creates the ingestion activity with the unsigned URL, file type, template and metadata', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('complete', { status: 200, body: envelope({ taskId: 'task-1' }) });
    const ctx = oneContext({
      http,
      options: { fileType: 'sales', templateType: 'SALES', metadata: { source: 'vendor-ingest' } },
    });

    // Act
    const result = await cleartaxOneAdapter.complete(completionInput(), ctx);

    // Assess
    expect(http.requests).toEqual([
      {
        operation: 'complete',
        method: 'POST',
        path: '/one-integration/api/v1/ingest',
        headers: { 'x-clear-auth-token': 'static-token', 'x-integration-id': INTEGRATION_ID },
        json: {
          fileInfo: [{ uploadUrl: UNSIGNED, filename: 'sales.csv', fileType: 'sales' }],
          templateType: 'SALES',
          metadata: { source: 'vendor-ingest' },
        },
      },
    ]);
    expect(result).toEqual({ refs: { taskId: 'task-1' } });
  });

  it('reads the task id where the route says it is', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('complete', { status: 200, body: envelope({ id: 77 }) });
    const ctx = oneContext({
      http,
      options: { fileType: 'sales', templateType: 'SALES', taskIdField: 'result.id' },
    });

    // Act
    const result = await cleartaxOneAdapter.complete(completionInput(), ctx);

    // Assess
    expect(result.refs).toEqual({ taskId: '77' });
    expect(http.requests[0]?.json).not.toHaveProperty('metadata');
  });

  it('reports an accepted activity without a task id as ambiguous', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('complete', { status: 200, body: envelope({ workflowId: 'w' }) });
    const ctx = oneContext({ http });

    // Act
    const error = await rejectionOf(cleartaxOneAdapter.complete(completionInput(), ctx));

    // Assess
    expect(error).toBeInstanceOf(AmbiguousOutcomeError);
    expect((error as Error).message).toContain('result.taskId');
  });

  it.each([
    ['400', errorEnvelope(400, 'BAD_REQUEST', 'fileType unknown'), false, ErrorCode.VENDOR_REJECTED],
    ['500', errorEnvelope(500, 'ERR', 'down'), true, ErrorCode.VENDOR_UNAVAILABLE],
    ['401', unauthorised, false, ErrorCode.AUTH_FAILED],
  ] as const)('classifies a %s answer', async (_name, reply, retryable, code) => {
    // Prepare
    const http = new ScriptedHttp().queue('complete', reply);
    const ctx = oneContext({ http });

    // Act
    const error = await rejectionOf(cleartaxOneAdapter.complete(completionInput(), ctx));

    // Assess
    expect(error).toMatchObject({ retryable, code });
  });
});

describe('cleartaxOneAdapter.status', () => {
  const statusInput = { ...completionInput(), result: { taskId: 'task-1' } };

  it('polls the workflow with the task id and both headers', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('status', {
      status: 200,
      body: envelope({ workflowStatus: 'CREATED' }),
    });
    const ctx = oneContext({ http });

    // Act
    await cleartaxOneAdapter.status?.(statusInput, ctx);

    // Assess
    expect(http.requests).toEqual([
      {
        operation: 'status',
        method: 'GET',
        path: '/one-integration/workflow/status',
        query: { taskId: 'task-1' },
        headers: { 'x-clear-auth-token': 'static-token', 'x-integration-id': INTEGRATION_ID },
      },
    ]);
  });

  it.each([
    ['CREATED', 'running'],
    ['PROCESSING', 'running'],
    ['SUCCESS', 'succeeded'],
    ['FAILED', 'failed'],
  ])('maps workflowStatus %s to %s, reading only workflowStatus', async (workflowStatus, phase) => {
    // Prepare: `error` stays null on 200 even when the workflow failed.
    const http = new ScriptedHttp().queue('status', {
      status: 200,
      body: envelope({ workflowStatus, taskId: 'task-1' }),
    });
    const ctx = oneContext({ http });

    // Act
    const status = await cleartaxOneAdapter.status?.(statusInput, ctx);

    // Assess
    expect(status).toEqual({ phase, vendorState: workflowStatus, detail: { taskId: 'task-1' } });
  });

  it('treats result null (unknown task) as a bad response', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('status', { status: 200, body: envelope(null) });
    const ctx = oneContext({ http });

    // Act
    const error = await rejectionOf(Promise.resolve(cleartaxOneAdapter.status?.(statusInput, ctx)));

    // Assess
    expect(error).toMatchObject({ retryable: true, code: ErrorCode.VENDOR_BAD_RESPONSE });
    expect((error as Error).message).toContain('task-1');
  });
});
