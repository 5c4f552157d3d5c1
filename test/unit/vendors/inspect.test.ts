import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ErrorCode,
  FileRejectedError,
  PermanentError,
  RetryableError,
} from '../../../functions/shared/errors';
import { inspectAdapter, inspectContentType } from '../../../functions/vendors/inspect/adapter';
import type { InspectOptions, InspectSecret } from '../../../functions/vendors/inspect/schemas';
import type { CompletionInput, FileDescriptor } from '../../../functions/vendors/types';
import { contextFor, fileFor, rejectionOf, ScriptedHttp, thrownBy } from './scripted-vendor';

const BASE = 'https://api.eu.screeningeagle.com';
const ASSET = '3fa85f64-5717-4562-b3fc-2c963f66afa6';
const FILE_ID = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const URL = 'https://bucket.s3.eu-west-1.amazonaws.com/files/7c9e?X-Amz-Signature=abc';
const HASH = createHash('sha256').update('photo bytes').digest('base64');

function inspectContext(setup: { options?: Record<string, unknown>; http?: ScriptedHttp } = {}) {
  return contextFor<InspectSecret, InspectOptions>(inspectAdapter, {
    secret: { token: 'insp-token' },
    options: setup.options ?? { assetId: ASSET },
    baseUrl: BASE,
    http: setup.http,
  });
}

function photo(extra: Partial<FileDescriptor> = {}): FileDescriptor {
  return fileFor(`inspect/${ASSET}/crack.png`, 11, { sha256Base64: HASH, ...extra });
}

describe('inspectAdapter options', () => {
  it('defaults the assumed auth header, scheme, completion path and id field', () => {
    // Act
    const options = inspectAdapter.optionsSchema.parse({ assetId: ASSET });

    // Assess
    expect(options).toEqual({
      assetId: ASSET,
      authHeader: 'Authorization',
      authScheme: 'Bearer',
      completeOnDuplicate: false,
      completeIdField: 'id',
      paths: {
        presign: '/api/inspect/v1/file/upload/presigned',
        complete: '/api/inspect/v1/file/upload/complete',
      },
    });
    expect(inspectAdapter.needsSha256).toBe(true);
    expect(inspectAdapter.completionIdempotent).toBe(true);
    expect(inspectAdapter.status).toBeUndefined();
  });

  it.each([
    ['an assetId that is not a UUID', { assetId: 'asset-1' }],
    ['a malformed content type', { assetId: ASSET, contentType: 'png' }],
    ['a header name with a space', { assetId: ASSET, authHeader: 'X Api Key' }],
    ['a misspelt option', { assetId: ASSET, maxSize: 10 }],
  ])('refuses %s', (_name, raw) => {
    // Act + Assess
    expect(inspectAdapter.optionsSchema.safeParse(raw).success).toBe(false);
  });
});

describe('inspectContentType', () => {
  const options = inspectAdapter.optionsSchema.parse({ assetId: ASSET });

  it.each([
    ['the route override first', { contentType: 'image/jpeg' }, { contentType: 'image/webp' }, 'image/jpeg'],
    ['a specific stored type next', {}, { contentType: 'image/webp' }, 'image/webp'],
    [
      'the extension over a generic stored type',
      {},
      { contentType: 'application/octet-stream' },
      'image/png',
    ],
    ['the extension without a stored type', {}, {}, 'image/png'],
    [
      'octet-stream for an unknown extension',
      {},
      { fileName: 'scan.xyz', extension: 'xyz' },
      'application/octet-stream',
    ],
  ])('takes %s', (_name, routeOptions, fileExtra, expected) => {
    // Act
    const type = inspectContentType(photo(fileExtra), { ...options, ...routeOptions });

    // Assess
    expect(type).toBe(expected);
  });
});

describe('inspectAdapter.checkFile', () => {
  it('rejects a file over the route maxSizeBytes and accepts one at it', () => {
    // Prepare
    const options = inspectAdapter.optionsSchema.parse({ assetId: ASSET, maxSizeBytes: 11 });

    // Act
    const error = thrownBy(() => inspectAdapter.checkFile(photo({ size: 12 }), options));

    // Assess
    expect(error).toBeInstanceOf(FileRejectedError);
    expect((error as Error).message).toMatch(/up to 11 bytes/);
    expect(() => inspectAdapter.checkFile(photo({ size: 11 }), options)).not.toThrow();
  });
});

describe('inspectAdapter.requestUpload', () => {
  it('asks for a presigned URL with the file hash and plans one PUT with exactly that Content-Type', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('presign', {
      status: 201,
      body: { data: { presignedURL: URL, id: FILE_ID } },
    });
    const ctx = inspectContext({ http });

    // Act
    const plan = await inspectAdapter.requestUpload(photo(), ctx);

    // Assess
    expect(http.requests).toEqual([
      {
        operation: 'presign',
        method: 'POST',
        path: '/api/inspect/v1/file/upload/presigned',
        headers: { Authorization: 'Bearer insp-token' },
        json: { assetID: ASSET, contentType: 'image/png', hash: HASH, name: 'crack.png', size: 11 },
      },
    ]);
    expect(plan).toEqual({
      kind: 'single',
      target: {
        url: URL,
        method: 'PUT',
        headers: { 'Content-Type': 'image/png' },
        expiresAt: ctx.now() + 15 * 60_000,
      },
      refs: { fileId: FILE_ID },
    });
  });

  it('uses the route auth header and scheme', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('presign', {
      status: 201,
      body: { data: { presignedURL: URL, id: FILE_ID } },
    });
    const ctx = inspectContext({
      http,
      options: { assetId: ASSET, authHeader: 'X-Api-Key', authScheme: '' },
    });

    // Act
    await inspectAdapter.requestUpload(photo(), ctx);

    // Assess
    expect(http.requests[0]?.headers).toEqual({ 'X-Api-Key': 'insp-token' });
  });

  it('plans no upload when the vendor already holds the bytes (200)', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('presign', { status: 200, body: { data: { id: FILE_ID } } });
    const ctx = inspectContext({ http });

    // Act
    const plan = await inspectAdapter.requestUpload(photo(), ctx);

    // Assess
    expect(plan).toEqual({ kind: 'already-present', refs: { fileId: FILE_ID } });
    expect(http.requests).toHaveLength(1);
  });

  it('marks a duplicate uploaded when the route asks for it', async () => {
    // Prepare
    const http = new ScriptedHttp()
      .queue('presign', { status: 200, body: { data: { id: FILE_ID } } })
      .queue('complete', { status: 200, body: '' });
    const ctx = inspectContext({ http, options: { assetId: ASSET, completeOnDuplicate: true } });

    // Act
    const plan = await inspectAdapter.requestUpload(photo(), ctx);

    // Assess
    expect(plan.kind).toBe('already-present');
    expect(http.calls('complete').map((r) => r.json)).toEqual([{ id: FILE_ID }]);
  });

  it('refuses to ask without the SHA-256 the vendor requires', async () => {
    // Prepare
    const http = new ScriptedHttp();
    const ctx = inspectContext({ http });

    // Act
    const error = await rejectionOf(inspectAdapter.requestUpload(photo({ sha256Base64: undefined }), ctx));

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect(http.requests).toHaveLength(0);
  });

  it.each([
    [400, false, ErrorCode.VENDOR_REJECTED, 'BadRequest'],
    [401, false, ErrorCode.AUTH_FAILED, 'Unauthorized'],
    [403, false, ErrorCode.AUTH_FAILED, 'Forbidden'],
    [404, false, ErrorCode.VENDOR_REJECTED, 'NotFound'],
    [500, true, ErrorCode.VENDOR_UNAVAILABLE, 'Internal'],
  ] as const)(
    'classifies a %i {error, errorDescription} answer',
    async (status, retryable, code, vendorCode) => {
      // Prepare
      const http = new ScriptedHttp().queue('presign', {
        status,
        body: { error: vendorCode, errorDescription: 'details here' },
      });
      const ctx = inspectContext({ http });

      // Act
      const error = await rejectionOf(inspectAdapter.requestUpload(photo(), ctx));

      // Assess
      expect(error).toMatchObject({ retryable, code, vendorCode, status });
      expect((error as Error).message).toContain('details here');
    },
  );

  it.each([
    ['a 201 without a URL', { status: 201, body: { data: { id: FILE_ID } } }],
    ['a 200 without an id', { status: 200, body: { data: {} } }],
    ['a 204', { status: 204, body: '' }],
  ])('treats %s as a retryable bad response', async (_name, reply) => {
    // Prepare
    const http = new ScriptedHttp().queue('presign', reply);
    const ctx = inspectContext({ http });

    // Act
    const error = await rejectionOf(inspectAdapter.requestUpload(photo(), ctx));

    // Assess
    expect(error).toBeInstanceOf(RetryableError);
    expect(error).toMatchObject({ code: ErrorCode.VENDOR_BAD_RESPONSE });
  });
});

describe('inspectAdapter.complete', () => {
  const input: CompletionInput = {
    file: photo(),
    upload: { kind: 'single', url: 'https://bucket.s3.eu-west-1.amazonaws.com/files/7c9e' },
    refs: { fileId: FILE_ID },
  };

  it('marks the file uploaded with its id', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('complete', { status: 200, body: { data: { id: FILE_ID } } });
    const ctx = inspectContext({ http });

    // Act
    const result = await inspectAdapter.complete(input, ctx);

    // Assess
    expect(http.requests).toEqual([
      {
        operation: 'complete',
        method: 'POST',
        path: '/api/inspect/v1/file/upload/complete',
        headers: { Authorization: 'Bearer insp-token' },
        json: { id: FILE_ID },
      },
    ]);
    expect(result).toEqual({ refs: { fileId: FILE_ID } });
  });

  it('uses the route completion path and id field', async () => {
    // Prepare
    const http = new ScriptedHttp().queue('complete', { status: 204 });
    const ctx = inspectContext({
      http,
      options: {
        assetId: ASSET,
        completeIdField: 'fileID',
        paths: { complete: '/api/inspect/v2/file/complete' },
      },
    });

    // Act
    await inspectAdapter.complete(input, ctx);

    // Assess
    expect(http.requests[0]).toMatchObject({
      path: '/api/inspect/v2/file/complete',
      json: { fileID: FILE_ID },
    });
  });

  it.each([
    [404, false],
    [500, true],
  ] as const)('classifies a %i answer', async (status, retryable) => {
    // Prepare
    const http = new ScriptedHttp().queue('complete', {
      status,
      body: { error: 'E', errorDescription: 'no such file' },
    });
    const ctx = inspectContext({ http });

    // Act
    const error = await rejectionOf(inspectAdapter.complete(input, ctx));

    // Assess
    expect(error).toMatchObject({ retryable, vendorCode: 'E', status });
  });
});
