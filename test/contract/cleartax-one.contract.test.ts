import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AmbiguousOutcomeError,
  ErrorCode,
  FileRejectedError,
  PermanentError,
  RetryableError,
} from '../../functions/shared/errors';
import { cleartaxGstAdapter } from '../../functions/vendors/cleartax-gst/adapter';
import type { GstOptions, GstSecret } from '../../functions/vendors/cleartax-gst/schemas';
import { cleartaxOneAdapter } from '../../functions/vendors/cleartax-one/adapter';
import type { OneOptions, OneSecret } from '../../functions/vendors/cleartax-one/schemas';
import type { FileDescriptor, UploadPlan, VendorJobStatus } from '../../functions/vendors/types';
import { type Sandbox, startSandbox } from '../../sandbox';
import { MemoryTokenCache } from '../support/memory-token-cache';
import { poll, putBytes, sandboxContext, sha256Base64, uniqueName, upload } from './adapter-harness';

const CSV = Buffer.from('invoice,amount\nINV-1,100\n');
const ZIP = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(100, 3)]);

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, jobDurationMs: 200 });
});
afterAll(async () => {
  await sandbox.close();
});
beforeEach(() => {
  sandbox.reset();
});

function credential(kind: 'authToken' | 'clientSecret' = 'authToken', value?: string) {
  const { authToken, clientSecret, integrationId } = sandbox.credentials.cleartax;
  return { [kind]: value ?? (kind === 'authToken' ? authToken : clientSecret), integrationId };
}

function one(secret: object = credential(), options: object = {}, tokens?: MemoryTokenCache) {
  return sandboxContext<OneSecret, OneOptions>(cleartaxOneAdapter, {
    baseUrl: sandbox.url,
    secret,
    options: { fileType: 'sales', templateType: 'SALES', ...options },
    tokens,
  });
}

function fileOf(fileName: string, bytes: Buffer): FileDescriptor {
  return {
    bucket: 'intake',
    key: `cleartax-one/sales/${fileName}`,
    versionId: undefined,
    eTag: '"e"',
    size: bytes.length,
    fileName,
    extension: fileName.slice(fileName.lastIndexOf('.') + 1),
    contentType: undefined,
  };
}

function singleTarget(plan: UploadPlan) {
  if (plan.kind !== 'single') throw new Error(`expected a single plan, got ${plan.kind}`);
  return plan.target;
}

async function deliver(ctx: ReturnType<typeof one>, file: FileDescriptor, bytes: Buffer) {
  const plan = await cleartaxOneAdapter.requestUpload(file, ctx);
  const uploaded = await upload(plan, bytes);
  const completion = await cleartaxOneAdapter.complete({ file, upload: uploaded, refs: plan.refs }, ctx);
  return { plan, uploaded, completion };
}

describe('cleartaxOneAdapter against the sandbox', () => {
  it.each([
    ['csv', CSV],
    ['zip', ZIP],
  ] as const)('delivers a .%s file byte for byte and follows the workflow to SUCCESS', async (ext, bytes) => {
    // Prepare
    const ctx = one(credential(), { metadata: { batch: 7 } });
    const file = fileOf(uniqueName(ext), bytes);

    // Act
    const { plan, uploaded, completion } = await deliver(ctx, file, bytes);
    const status = await poll<VendorJobStatus>(async () => {
      const s = await cleartaxOneAdapter.status?.(
        { file, upload: uploaded, refs: plan.refs, result: completion.refs },
        ctx,
      );
      return s?.phase === 'running' ? undefined : s;
    });

    // Assess
    const [stored] = sandbox.log.uploads({ vendor: 'cleartax-one', fileName: file.fileName });
    expect(stored?.sha256Base64).toBe(sha256Base64(bytes));
    expect(completion.refs.taskId).toEqual(expect.any(String));
    expect(status).toMatchObject({ phase: 'succeeded', vendorState: 'SUCCESS' });
  });

  it('follows a workflow whose file does not match its extension to FAILED', async () => {
    // Prepare
    const ctx = one();
    const file = fileOf(uniqueName('xlsx'), CSV);

    // Act
    const { plan, uploaded, completion } = await deliver(ctx, file, CSV);
    const status = await poll<VendorJobStatus>(async () => {
      const s = await cleartaxOneAdapter.status?.(
        { file, upload: uploaded, refs: plan.refs, result: completion.refs },
        ctx,
      );
      return s?.phase === 'running' ? undefined : s;
    });

    // Assess
    expect(status).toMatchObject({ phase: 'failed', vendorState: 'FAILED' });
  });

  it('treats the status of an unknown task (result null) as a bad response', async () => {
    // Prepare
    const ctx = one();
    const file = fileOf(uniqueName('csv'), CSV);

    // Act
    const error = await Promise.resolve(
      cleartaxOneAdapter.status?.(
        { file, upload: { kind: 'single', url: 'http://x/y' }, refs: {}, result: { taskId: 'no-such-task' } },
        ctx,
      ),
    ).catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ retryable: true, code: ErrorCode.VENDOR_BAD_RESPONSE });
  });

  it('mints one token for parallel calls of both ClearTax flows sharing a client secret', async () => {
    // Prepare
    const tokens = new MemoryTokenCache();
    const oneCtx = one(credential('clientSecret'), {}, tokens);
    const gstCtx = sandboxContext<GstSecret, GstOptions>(cleartaxGstAdapter, {
      baseUrl: sandbox.url,
      secret: { clientSecret: sandbox.credentials.cleartax.clientSecret },
      options: { templateType: 'sales' },
      tokens,
    });

    // Act
    await Promise.all([
      ...Array.from({ length: 6 }, () =>
        cleartaxOneAdapter.requestUpload(fileOf(uniqueName('csv'), CSV), oneCtx),
      ),
      ...Array.from({ length: 6 }, () =>
        cleartaxGstAdapter.requestUpload(fileOf(uniqueName('csv'), CSV), gstCtx),
      ),
    ]);

    // Assess
    expect(sandbox.log.calls({ operation: 'token' })).toHaveLength(1);
    expect(
      sandbox.log.calls({ vendor: 'cleartax-one', operation: 'presign' }).every((c) => c.status === 200),
    ).toBe(true);
  });

  it('re-mints once after the plain-text 401 for a token minted elsewhere, then succeeds', async () => {
    // Prepare
    const ours = one(credential('clientSecret'));
    const theirs = one(credential('clientSecret'), {}, new MemoryTokenCache());
    await cleartaxOneAdapter.requestUpload(fileOf(uniqueName('csv'), CSV), ours);
    await cleartaxOneAdapter.requestUpload(fileOf(uniqueName('csv'), CSV), theirs);

    // Act
    const plan = await cleartaxOneAdapter.requestUpload(fileOf(uniqueName('csv'), CSV), ours);

    // Assess
    expect(plan.kind).toBe('single');
    expect(sandbox.log.calls({ operation: 'token' })).toHaveLength(3);
    expect(sandbox.log.calls({ vendor: 'cleartax-one', operation: 'presign' }).map((c) => c.status)).toEqual([
      200, 200, 401, 200,
    ]);
  });

  it('classifies the plain-text 401 UNAUTHORIZED for a bad static token as permanent', async () => {
    // Prepare
    const ctx = one(credential('authToken', 'bad-token'));

    // Act
    const error = await cleartaxOneAdapter
      .requestUpload(fileOf(uniqueName('csv'), CSV), ctx)
      .catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ code: ErrorCode.AUTH_FAILED, vendorCode: 'UNAUTHORIZED', status: 401 });
  });

  it('classifies a 403 for an unknown integration id as permanent', async () => {
    // Prepare
    const ctx = one({
      authToken: sandbox.credentials.cleartax.authToken,
      integrationId: '00000000-0000-4000-8000-000000000000',
    });

    // Act
    const error = await cleartaxOneAdapter
      .requestUpload(fileOf(uniqueName('csv'), CSV), ctx)
      .catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ retryable: false, code: ErrorCode.AUTH_FAILED, status: 403 });
  });

  it('maps the documented 406 extension answer to a file rejection', async () => {
    // Prepare
    const ctx = one();
    const file = fileOf(uniqueName('csv'), CSV);
    sandbox.faults.inject({
      vendor: 'cleartax-one',
      operation: 'presign',
      match: { fileName: file.fileName },
      action: {
        kind: 'status',
        status: 406,
        body: {
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
        },
      },
    });

    // Act
    const error = await cleartaxOneAdapter.requestUpload(file, ctx).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(FileRejectedError);
    expect((error as Error).message).toContain('Invalid file extension');
  });

  it.each([
    [500, true, ErrorCode.VENDOR_UNAVAILABLE],
    [400, false, ErrorCode.VENDOR_REJECTED],
  ] as const)('classifies a presign HTTP %i envelope', async (status, retryable, code) => {
    // Prepare
    const ctx = one();
    const file = fileOf(uniqueName('csv'), CSV);
    sandbox.faults.inject({
      vendor: 'cleartax-one',
      operation: 'presign',
      match: { fileName: file.fileName },
      action: { kind: 'status', status },
    });

    // Act
    const error = await cleartaxOneAdapter.requestUpload(file, ctx).catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ retryable, code, status, vendorCode: String(status) });
  });

  it('hands out a fresh URL on the next requestUpload after an expired one', async () => {
    // Prepare
    const ctx = one();
    const file = fileOf(uniqueName('csv'), CSV);
    sandbox.faults.inject({
      vendor: 'cleartax-one',
      operation: 'presign',
      match: { fileName: file.fileName },
      action: { kind: 'expired-url' },
    });

    // Act
    const stale = await putBytes(singleTarget(await cleartaxOneAdapter.requestUpload(file, ctx)), CSV);
    const fresh = await putBytes(singleTarget(await cleartaxOneAdapter.requestUpload(file, ctx)), CSV);

    // Assess
    expect(stale.status).toBe(403);
    expect(stale.text).toContain('Request has expired');
    expect(fresh.status).toBe(200);
  });

  it('reports an ingest call whose answer is lost after the task was created as ambiguous', async () => {
    // Prepare
    const ctx = one();
    const file = fileOf(uniqueName('csv'), CSV);
    const plan = await cleartaxOneAdapter.requestUpload(file, ctx);
    const uploaded = await upload(plan, CSV);
    sandbox.faults.inject({
      vendor: 'cleartax-one',
      operation: 'complete',
      match: { fileName: file.fileName },
      action: { kind: 'reset-after-commit' },
    });

    // Act
    const error = await cleartaxOneAdapter
      .complete({ file, upload: uploaded, refs: plan.refs }, ctx)
      .catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(AmbiguousOutcomeError);
  });

  it('classifies an ingest call for a file never uploaded as a permanent rejection', async () => {
    // Prepare
    const ctx = one();
    const file = fileOf(uniqueName('csv'), CSV);
    const plan = await cleartaxOneAdapter.requestUpload(file, ctx);
    const url = singleTarget(plan).url;

    // Act
    const error = await cleartaxOneAdapter
      .complete({ file, upload: { kind: 'single', url: url.split('?')[0] ?? url }, refs: plan.refs }, ctx)
      .catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).not.toBeInstanceOf(RetryableError);
    expect(error).toMatchObject({ code: ErrorCode.VENDOR_REJECTED, status: 400 });
  });
});
