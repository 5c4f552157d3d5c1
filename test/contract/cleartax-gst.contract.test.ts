import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AmbiguousOutcomeError,
  ErrorCode,
  PermanentError,
  RetryableError,
  ThrottledError,
} from '../../functions/shared/errors';
import { cleartaxGstAdapter } from '../../functions/vendors/cleartax-gst/adapter';
import type { GstOptions, GstSecret } from '../../functions/vendors/cleartax-gst/schemas';
import type { FileDescriptor, UploadPlan, VendorJobStatus } from '../../functions/vendors/types';
import { type Sandbox, startSandbox } from '../../sandbox';
import { MemoryTokenCache } from '../support/memory-token-cache';
import { poll, putBytes, sandboxContext, sha256Base64, uniqueName, upload } from './adapter-harness';

const CSV = Buffer.from('invoice,amount\nINV-1,100\nINV-2,250\n');
const XLSX = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(200, 7)]);

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

function gst(
  secret: object = { authToken: sandbox.credentials.cleartax.authToken },
  options: object = {},
  tokens?: MemoryTokenCache,
) {
  return sandboxContext<GstSecret, GstOptions>(cleartaxGstAdapter, {
    baseUrl: sandbox.url,
    secret,
    options: { templateType: 'sales', ...options },
    tokens,
  });
}

function fileOf(fileName: string, bytes: Buffer): FileDescriptor {
  const extension = fileName.slice(fileName.lastIndexOf('.') + 1);
  return {
    bucket: 'intake',
    key: `cleartax/sales/${fileName}`,
    versionId: undefined,
    eTag: '"e"',
    size: bytes.length,
    fileName,
    extension,
    contentType: undefined,
  };
}

function singleTarget(plan: UploadPlan) {
  if (plan.kind !== 'single') throw new Error(`expected a single plan, got ${plan.kind}`);
  return plan.target;
}

describe('cleartaxGstAdapter against the sandbox', () => {
  it.each([
    ['csv', CSV, 'sales'],
    ['xlsx', XLSX, 'purchase'],
  ] as const)(
    'delivers a .%s file byte for byte and follows the activity to ACTIVITY_COMPLETED',
    async (ext, bytes, templateType) => {
      // Prepare
      const ctx = gst(undefined, { templateType });
      const file = fileOf(uniqueName(ext), bytes);

      // Act
      const plan = await cleartaxGstAdapter.requestUpload(file, ctx);
      const uploaded = await upload(plan, bytes);
      const completion = await cleartaxGstAdapter.complete({ file, upload: uploaded, refs: plan.refs }, ctx);
      const status = await poll<VendorJobStatus>(async () => {
        const s = await cleartaxGstAdapter.status?.(
          { file, upload: uploaded, refs: plan.refs, result: completion.refs },
          ctx,
        );
        return s?.phase === 'running' ? undefined : s;
      });

      // Assess
      const [stored] = sandbox.log.uploads({ vendor: 'cleartax-gst', fileName: file.fileName });
      expect(stored?.sha256Base64).toBe(sha256Base64(bytes));
      expect(stored?.size).toBe(bytes.length);
      expect(completion.refs.activityId).toEqual(expect.any(String));
      expect(status).toMatchObject({ phase: 'succeeded', vendorState: 'ACTIVITY_COMPLETED' });
      expect(status.detail?.processingStats).toEqual(expect.any(Array));
      expect(sandbox.log.completions('cleartax-gst', file.fileName)).toHaveLength(1);
    },
  );

  it('sends the unsigned URL when the route says so, and the sandbox accepts it', async () => {
    // Prepare
    const ctx = gst(undefined, { s3FileUrlMode: 'unsigned' });
    const file = fileOf(uniqueName('csv'), CSV);

    // Act
    const plan = await cleartaxGstAdapter.requestUpload(file, ctx);
    const uploaded = await upload(plan, CSV);
    const completion = await cleartaxGstAdapter.complete({ file, upload: uploaded, refs: plan.refs }, ctx);

    // Assess
    expect(completion.refs.activityId).toEqual(expect.any(String));
  });

  it('reports a file that is not what its extension says as a failed activity', async () => {
    // Prepare
    const ctx = gst();
    const file = fileOf(uniqueName('xlsx'), CSV);

    // Act
    const plan = await cleartaxGstAdapter.requestUpload(file, ctx);
    const uploaded = await upload(plan, CSV);
    const completion = await cleartaxGstAdapter.complete({ file, upload: uploaded, refs: plan.refs }, ctx);
    const status = await poll<VendorJobStatus>(async () => {
      const s = await cleartaxGstAdapter.status?.(
        { file, upload: uploaded, refs: plan.refs, result: completion.refs },
        ctx,
      );
      return s?.phase === 'running' ? undefined : s;
    });

    // Assess
    expect(status).toMatchObject({ phase: 'failed', vendorState: 'SYSTEM_FEEDBACK' });
    expect(status.detail?.fileError).toMatchObject({ status: 'INVALID_FILE' });
  });

  it('mints one token for many parallel presign calls', async () => {
    // Prepare
    const ctx = gst({ clientSecret: sandbox.credentials.cleartax.clientSecret });
    const files = Array.from({ length: 10 }, () => fileOf(uniqueName('csv'), CSV));

    // Act
    const plans = await Promise.all(files.map((file) => cleartaxGstAdapter.requestUpload(file, ctx)));

    // Assess
    expect(plans.every((plan) => plan.kind === 'single')).toBe(true);
    expect(sandbox.log.calls({ vendor: 'cleartax-gst', operation: 'token' })).toHaveLength(1);
  });

  it('re-mints once when another party minted (invalidating our token) and the call succeeds', async () => {
    // Prepare
    const ours = gst({ clientSecret: sandbox.credentials.cleartax.clientSecret });
    const theirs = gst(
      { clientSecret: sandbox.credentials.cleartax.clientSecret },
      {},
      new MemoryTokenCache(),
    );
    await cleartaxGstAdapter.requestUpload(fileOf(uniqueName('csv'), CSV), ours);
    await cleartaxGstAdapter.requestUpload(fileOf(uniqueName('csv'), CSV), theirs);

    // Act
    const plan = await cleartaxGstAdapter.requestUpload(fileOf(uniqueName('csv'), CSV), ours);

    // Assess
    expect(plan.kind).toBe('single');
    expect(sandbox.log.calls({ vendor: 'cleartax-gst', operation: 'token' })).toHaveLength(3);
    expect(sandbox.log.calls({ vendor: 'cleartax-gst', operation: 'presign' }).map((c) => c.status)).toEqual([
      200, 200, 401, 200,
    ]);
  });

  it('hands out a fresh URL on the next requestUpload after an expired one', async () => {
    // Prepare
    const ctx = gst();
    const file = fileOf(uniqueName('csv'), CSV);
    sandbox.faults.inject({
      vendor: 'cleartax-gst',
      operation: 'presign',
      match: { fileName: file.fileName },
      action: { kind: 'expired-url' },
    });

    // Act
    const stale = await putBytes(singleTarget(await cleartaxGstAdapter.requestUpload(file, ctx)), CSV);
    const fresh = await putBytes(singleTarget(await cleartaxGstAdapter.requestUpload(file, ctx)), CSV);

    // Assess
    expect(stale.status).toBe(403);
    expect(stale.text).toContain('Request has expired');
    expect(fresh.status).toBe(200);
  });

  it.each([
    ['API_QUOTA_EXCEEDED', ThrottledError, true, ErrorCode.VENDOR_THROTTLED],
    ['INTERNAL_ERROR', RetryableError, true, ErrorCode.VENDOR_UNAVAILABLE],
    ['AUTHORIZATION_FAILED', PermanentError, false, ErrorCode.AUTH_FAILED],
    ['LICENSE_EXPIRED', PermanentError, false, ErrorCode.VENDOR_REJECTED],
    ['PERMISSION_DENIED', PermanentError, false, ErrorCode.AUTH_FAILED],
  ] as const)('classifies a presign 200 FAILED %s', async (errorCode, errorClass, retryable, code) => {
    // Prepare
    const ctx = gst();
    const file = fileOf(uniqueName('csv'), CSV);
    sandbox.faults.inject({
      vendor: 'cleartax-gst',
      operation: 'presign',
      match: { fileName: file.fileName },
      action: {
        kind: 'status',
        status: 200,
        body: { status: 'FAILED', preSignedS3Url: null, errorCode, errorMessage: 'refused' },
      },
    });

    // Act
    const error = await cleartaxGstAdapter.requestUpload(file, ctx).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(errorClass);
    expect(error).toMatchObject({ retryable, code, vendorCode: errorCode });
  });

  it.each([
    [500, RetryableError, ErrorCode.VENDOR_UNAVAILABLE, 'INTERNAL_ERROR'],
    [403, PermanentError, ErrorCode.AUTH_FAILED, 'INVALID_REQUEST'],
  ] as const)(
    'classifies a presign HTTP %i in the vendor error shape',
    async (status, errorClass, code, vendorCode) => {
      // Prepare
      const ctx = gst();
      const file = fileOf(uniqueName('csv'), CSV);
      sandbox.faults.inject({
        vendor: 'cleartax-gst',
        operation: 'presign',
        match: { fileName: file.fileName },
        action: { kind: 'status', status },
      });

      // Act
      const error = await cleartaxGstAdapter.requestUpload(file, ctx).catch((e: unknown) => e);

      // Assess
      expect(error).toBeInstanceOf(errorClass);
      expect(error).toMatchObject({ code, status, vendorCode });
    },
  );

  it('classifies the documented 401 for a bad static token as permanent, without retrying', async () => {
    // Prepare
    const ctx = gst({ authToken: 'not-the-token' });

    // Act
    const error = await cleartaxGstAdapter
      .requestUpload(fileOf(uniqueName('csv'), CSV), ctx)
      .catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({
      retryable: false,
      code: ErrorCode.AUTH_FAILED,
      vendorCode: 'AUTHORIZATION_FAILED',
      status: 401,
    });
    expect((error as Error).message).not.toContain('not-the-token');
    expect(sandbox.log.calls({ vendor: 'cleartax-gst' })).toHaveLength(1);
  });

  it('classifies a refused client secret and a 429 from the token endpoint', async () => {
    // Prepare
    const refused = gst({ clientSecret: 'wrong-secret' });
    const throttled = gst({ clientSecret: sandbox.credentials.cleartax.clientSecret });

    // Act
    const refusal = await cleartaxGstAdapter
      .requestUpload(fileOf(uniqueName('csv'), CSV), refused)
      .catch((e: unknown) => e);
    sandbox.faults.inject({
      vendor: 'cleartax-gst',
      operation: 'token',
      action: { kind: 'status', status: 429 },
    });
    const throttling = await cleartaxGstAdapter
      .requestUpload(fileOf(uniqueName('csv'), CSV), throttled)
      .catch((e: unknown) => e);

    // Assess
    expect(refusal).toMatchObject({ retryable: false, code: ErrorCode.AUTH_FAILED, status: 401 });
    expect(throttling).toBeInstanceOf(ThrottledError);
  });

  it('treats a malformed presign answer as a retryable bad response', async () => {
    // Prepare
    const ctx = gst();
    const file = fileOf(uniqueName('csv'), CSV);
    sandbox.faults.inject({
      vendor: 'cleartax-gst',
      operation: 'presign',
      match: { fileName: file.fileName },
      action: { kind: 'malformed-json' },
    });

    // Act
    const error = await cleartaxGstAdapter.requestUpload(file, ctx).catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ retryable: true, code: ErrorCode.VENDOR_BAD_RESPONSE });
  });

  it.each([
    ['reset-after-commit', 1],
    ['malformed-json', 0],
  ] as const)('reports a trigger answered with %s as ambiguous', async (kind, activities) => {
    // Prepare
    const ctx = gst();
    const file = fileOf(uniqueName('csv'), CSV);
    const plan = await cleartaxGstAdapter.requestUpload(file, ctx);
    const uploaded = await upload(plan, CSV);
    sandbox.faults.inject({
      vendor: 'cleartax-gst',
      operation: 'complete',
      match: { fileName: file.fileName },
      action: { kind },
    });

    // Act
    const error = await cleartaxGstAdapter
      .complete({ file, upload: uploaded, refs: plan.refs }, ctx)
      .catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(AmbiguousOutcomeError);
    expect(
      sandbox.log.calls({ vendor: 'cleartax-gst', operation: 'complete' }).filter((c) => c.ref !== undefined),
    ).toHaveLength(activities);
  });

  it('classifies a trigger for a file never uploaded as a permanent rejection', async () => {
    // Prepare
    const ctx = gst();
    const file = fileOf(uniqueName('csv'), CSV);
    const plan = await cleartaxGstAdapter.requestUpload(file, ctx);
    const url = singleTarget(plan).url;

    // Act
    const error = await cleartaxGstAdapter
      .complete(
        { file, upload: { kind: 'single', url: url.split('?')[0] ?? url, signedUrl: url }, refs: plan.refs },
        ctx,
      )
      .catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({
      retryable: false,
      code: ErrorCode.VENDOR_REJECTED,
      status: 400,
      vendorCode: 'INVALID_REQUEST',
    });
  });
});
