import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, PermanentError, RetryableError } from '../../functions/shared/errors';
import { inspectAdapter } from '../../functions/vendors/inspect/adapter';
import type { InspectOptions, InspectSecret } from '../../functions/vendors/inspect/schemas';
import type { FileDescriptor, UploadPlan } from '../../functions/vendors/types';
import { type Sandbox, startSandbox } from '../../sandbox';
import { putBytes, sandboxContext, sha256Base64, uniqueName, upload } from './adapter-harness';

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
});
afterAll(async () => {
  await sandbox.close();
});
beforeEach(() => {
  sandbox.reset();
});

function assetId(): string {
  return sandbox.credentials.inspect.assetIds[0] ?? '';
}

function inspect(options: object = {}, token = sandbox.credentials.inspect.token) {
  return sandboxContext<InspectSecret, InspectOptions>(inspectAdapter, {
    baseUrl: sandbox.url,
    secret: { token },
    options: { assetId: assetId(), ...options },
  });
}

/** The file as the core hands it over: `needsSha256` makes it compute the hash first. */
function fileOf(fileName: string, bytes: Buffer, contentType?: string): FileDescriptor {
  return {
    bucket: 'intake',
    key: `inspect/${assetId()}/${fileName}`,
    versionId: undefined,
    eTag: '"e"',
    size: bytes.length,
    fileName,
    extension: fileName.slice(fileName.lastIndexOf('.') + 1),
    contentType,
    sha256Base64: sha256Base64(bytes),
  };
}

function singleTarget(plan: UploadPlan) {
  if (plan.kind !== 'single') throw new Error(`expected a single plan, got ${plan.kind}`);
  return plan.target;
}

describe('inspectAdapter against the sandbox', () => {
  it('delivers a photo byte for byte with the announced Content-Type and marks it uploaded', async () => {
    // Prepare
    const bytes = randomBytes(4096);
    const ctx = inspect();
    const file = fileOf(uniqueName('jpg'), bytes, 'image/jpeg');

    // Act
    const plan = await inspectAdapter.requestUpload(file, ctx);
    const uploaded = await upload(plan, bytes);
    const result = await inspectAdapter.complete({ file, upload: uploaded, refs: plan.refs }, ctx);

    // Assess
    const [stored] = sandbox.log.uploads({ vendor: 'inspect', fileName: file.fileName });
    expect(stored).toMatchObject({
      sha256Base64: sha256Base64(bytes),
      contentType: 'image/jpeg',
      size: bytes.length,
    });
    expect(result.refs.fileId).toBe(plan.refs.fileId);
    expect(sandbox.log.completions('inspect', file.fileName).map((c) => c.status)).toEqual([200]);
  });

  it('plans nothing for bytes the vendor already holds (200) and names the existing file', async () => {
    // Prepare
    const bytes = randomBytes(2048);
    const ctx = inspect();
    const original = fileOf(uniqueName('png'), bytes);
    const plan = await inspectAdapter.requestUpload(original, ctx);
    await inspectAdapter.complete(
      { file: original, upload: await upload(plan, bytes), refs: plan.refs },
      ctx,
    );

    // Act
    const again = await inspectAdapter.requestUpload(fileOf(uniqueName('png'), bytes), ctx);

    // Assess
    expect(again).toEqual({ kind: 'already-present', refs: { fileId: plan.refs.fileId } });
    expect(sandbox.log.uploads({ vendor: 'inspect' })).toHaveLength(1);
  });

  it('marks a repeated completion harmlessly (the completion is declared idempotent)', async () => {
    // Prepare
    const bytes = randomBytes(512);
    const ctx = inspect();
    const file = fileOf(uniqueName('pdf'), bytes);
    const plan = await inspectAdapter.requestUpload(file, ctx);
    const uploaded = await upload(plan, bytes);
    const input = { file, upload: uploaded, refs: plan.refs };

    // Act
    const first = await inspectAdapter.complete(input, ctx);
    const second = await inspectAdapter.complete(input, ctx);

    // Assess
    expect(second).toEqual(first);
  });

  it.each([
    [
      'an unknown asset',
      { assetId: '00000000-0000-4000-8000-000000000000' },
      undefined,
      ErrorCode.VENDOR_REJECTED,
      404,
      'NotFound',
    ],
    ['a wrong token', {}, 'wrong-token', ErrorCode.AUTH_FAILED, 401, 'Unauthorized'],
  ])('classifies %s as permanent', async (_name, options, token, code, status, vendorCode) => {
    // Prepare
    const ctx = inspect(options, token);

    // Act
    const error = await inspectAdapter
      .requestUpload(fileOf(uniqueName('png'), randomBytes(10)), ctx)
      .catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ code, status, vendorCode });
  });

  it('classifies a completion whose bytes do not match the announced hash as permanent', async () => {
    // Prepare
    const bytes = randomBytes(256);
    const ctx = inspect();
    const file = fileOf(uniqueName('png'), bytes);
    const plan = await inspectAdapter.requestUpload(file, ctx);
    const other = randomBytes(256);
    await putBytes(singleTarget(plan), other);

    // Act
    const error = await inspectAdapter
      .complete({ file, upload: { kind: 'single', url: sandbox.url }, refs: plan.refs }, ctx)
      .catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({
      retryable: false,
      code: ErrorCode.VENDOR_REJECTED,
      vendorCode: 'HashMismatch',
      status: 400,
    });
  });

  it.each([
    ['an HTTP 500', { kind: 'status', status: 500 } as const, ErrorCode.VENDOR_UNAVAILABLE],
    ['malformed JSON', { kind: 'malformed-json' } as const, ErrorCode.VENDOR_BAD_RESPONSE],
  ])('treats a presign answered with %s as retryable', async (_name, action, code) => {
    // Prepare
    const ctx = inspect();
    const file = fileOf(uniqueName('png'), randomBytes(10));
    sandbox.faults.inject({
      vendor: 'inspect',
      operation: 'presign',
      match: { fileName: file.fileName },
      action,
    });

    // Act
    const error = await inspectAdapter.requestUpload(file, ctx).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(RetryableError);
    expect(error).toMatchObject({ code });
  });

  it('hands out a fresh URL on the next requestUpload after an expired one', async () => {
    // Prepare
    const bytes = randomBytes(300);
    const ctx = inspect();
    const file = fileOf(uniqueName('png'), bytes);
    sandbox.faults.inject({
      vendor: 'inspect',
      operation: 'presign',
      match: { fileName: file.fileName },
      action: { kind: 'expired-url' },
    });

    // Act
    const stale = await putBytes(singleTarget(await inspectAdapter.requestUpload(file, ctx)), bytes);
    const fresh = await putBytes(singleTarget(await inspectAdapter.requestUpload(file, ctx)), bytes);

    // Assess
    expect(stale.status).toBe(403);
    expect(stale.text).toContain('Request has expired');
    expect(fresh.status).toBe(200);
  });
});
