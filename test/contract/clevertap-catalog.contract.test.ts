import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AmbiguousOutcomeError,
  ErrorCode,
  PermanentError,
  RetryableError,
  ThrottledError,
} from '../../functions/shared/errors';
import type { CallLimiter } from '../../functions/shared/http/vendor-http';
import { DynamoSemaphore } from '../../functions/shared/state/semaphore';
import { clevertapCatalogAdapter } from '../../functions/vendors/clevertap-catalog/adapter';
import type { ClevertapOptions, ClevertapSecret } from '../../functions/vendors/clevertap-catalog/schemas';
import type { FileDescriptor, UploadPlan } from '../../functions/vendors/types';
import { type Sandbox, startSandbox } from '../../sandbox';
import { useEmbeddedStack } from '../support/stack';
import { csvOfSize, putBytes, sandboxContext, sha256Base64, uniqueName, upload } from './adapter-harness';

/** The deployed state table, for the real per-account call semaphore. */
const stack = useEmbeddedStack();

const MiB = 1024 * 1024;
const CSV = Buffer.from('sku,name,price\nA-1,Lamp,12.5\nA-2,Desk,99\n');

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

function catalogId(): string {
  return String(sandbox.credentials.clevertap.catalogIds[0]);
}

function clevertap(options: object = {}, setup: { secret?: object; limiter?: CallLimiter } = {}) {
  const { accountId, token } = sandbox.credentials.clevertap;
  return sandboxContext<ClevertapSecret, ClevertapOptions>(clevertapCatalogAdapter, {
    baseUrl: sandbox.url,
    secret: setup.secret ?? { accountId, token },
    // `catalogId` arrives from the key segment as a string.
    options: { catalogId: catalogId(), ...options },
    limiter: setup.limiter,
  });
}

function fileOf(fileName: string, bytes: Buffer): FileDescriptor {
  return {
    bucket: 'intake',
    key: `clevertap/${catalogId()}/${fileName}`,
    versionId: undefined,
    eTag: '"e"',
    size: bytes.length,
    fileName,
    extension: fileName.slice(fileName.lastIndexOf('.') + 1),
    contentType: 'text/csv',
  };
}

function singleTarget(plan: UploadPlan) {
  if (plan.kind !== 'single') throw new Error(`expected a single plan, got ${plan.kind}`);
  return plan.target;
}

describe('clevertapCatalogAdapter against the sandbox', () => {
  it('delivers a small CSV in one PUT and marks it complete', async () => {
    // Prepare
    const ctx = clevertap();
    const file = fileOf(uniqueName('csv'), CSV);

    // Act
    const plan = await clevertapCatalogAdapter.requestUpload(file, ctx);
    const uploaded = await upload(plan, CSV);
    const result = await clevertapCatalogAdapter.complete({ file, upload: uploaded, refs: plan.refs }, ctx);

    // Assess
    const [stored] = sandbox.log.uploads({ vendor: 'clevertap-catalog', fileName: file.fileName });
    expect(plan.kind).toBe('single');
    expect(stored).toMatchObject({ sha256Base64: sha256Base64(CSV), contentType: 'text/csv' });
    expect(result).toEqual({
      refs: { jobId: expect.stringMatching(/^job_/), estimatedCompletionTime: expect.any(String) },
      vendorState: 'PROCESSING',
    });
    expect(sandbox.log.calls({ vendor: 'clevertap-catalog', operation: 'complete-multipart' })).toHaveLength(
      0,
    );
  });

  it('delivers 11 MiB in three parts of at most 5 MiB, completes the multipart upload, checkpoints and marks complete', async () => {
    // Prepare
    const bytes = csvOfSize(11 * MiB + 123);
    const ctx = clevertap({ singleUploadLimitBytes: MiB, partSizeBytes: 5 * MiB });
    const file = fileOf(uniqueName('csv'), bytes);

    // Act
    const plan = await clevertapCatalogAdapter.requestUpload(file, ctx);
    const uploaded = await upload(plan, bytes);
    const result = await clevertapCatalogAdapter.complete({ file, upload: uploaded, refs: plan.refs }, ctx);

    // Assess
    const parts = sandbox.log.uploads({ vendor: 'clevertap-catalog', fileName: file.fileName });
    parts.sort((a, b) => (a.partNumber ?? 0) - (b.partNumber ?? 0));
    expect(parts.map((p) => p.size)).toEqual([5 * MiB, 5 * MiB, MiB + 123]);
    expect(parts.map((p) => p.sha256Base64)).toEqual([
      sha256Base64(bytes.subarray(0, 5 * MiB)),
      sha256Base64(bytes.subarray(5 * MiB, 10 * MiB)),
      sha256Base64(bytes.subarray(10 * MiB)),
    ]);
    expect(ctx.checkpoints).toEqual([{ multipartCompleted: true }]);
    expect(
      sandbox.log
        .calls({ vendor: 'clevertap-catalog', operation: 'complete-multipart' })
        .map((c) => c.status),
    ).toEqual([200]);
    expect(result.refs.jobId).toEqual(expect.any(String));
  });

  it('skips complete-multipart on the retry after a failed mark-complete', async () => {
    // Prepare
    const bytes = csvOfSize(6 * MiB);
    const ctx = clevertap({ singleUploadLimitBytes: MiB, partSizeBytes: 5 * MiB });
    const file = fileOf(uniqueName('csv'), bytes);
    const plan = await clevertapCatalogAdapter.requestUpload(file, ctx);
    const uploaded = await upload(plan, bytes);
    sandbox.faults.inject({
      vendor: 'clevertap-catalog',
      operation: 'complete',
      match: { fileName: file.fileName },
      action: { kind: 'status', status: 500 },
    });

    // Act
    const first = await clevertapCatalogAdapter
      .complete({ file, upload: uploaded, refs: plan.refs }, ctx)
      .catch((e: unknown) => e);
    const retryRefs = Object.assign({}, plan.refs, ...ctx.checkpoints);
    const second = await clevertapCatalogAdapter.complete({ file, upload: uploaded, refs: retryRefs }, ctx);

    // Assess
    expect(first).toMatchObject({
      retryable: true,
      code: ErrorCode.VENDOR_UNAVAILABLE,
      vendorCode: 'INTERNAL_ERROR',
    });
    expect(second.refs.jobId).toEqual(expect.any(String));
    expect(sandbox.log.calls({ vendor: 'clevertap-catalog', operation: 'complete-multipart' })).toHaveLength(
      1,
    );
    expect(sandbox.log.completions('clevertap-catalog', file.fileName)).toHaveLength(1);
  });

  it('is throttled with 429 and no Retry-After beyond 3 concurrent calls, and not behind the real shared semaphore', async () => {
    // Prepare: four functions' worth of DynamoSemaphore instances on the deployed state table, one key.
    const key = `clevertap:${randomUUID()}`;
    const slots = clevertapCatalogAdapter.defaultMaxConcurrentCalls ?? 1;
    const limiters: CallLimiter[] = Array.from(
      { length: 4 },
      () =>
        new DynamoSemaphore({
          doc: stack.aws.doc,
          tableName: stack.target.resources.stateTable,
          key,
          slots,
          leaseMs: 30_000,
          maxWaitMs: 30_000,
        }),
    );
    const unlimited = clevertap();
    const limited = limiters.map((limiter) => clevertap({}, { limiter }));

    // Act
    const free = await Promise.allSettled(
      Array.from({ length: 8 }, () =>
        clevertapCatalogAdapter.requestUpload(fileOf(uniqueName('csv'), CSV), unlimited),
      ),
    );
    const capped = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        clevertapCatalogAdapter.requestUpload(
          fileOf(uniqueName('csv'), CSV),
          limited[i % 4] as typeof unlimited,
        ),
      ),
    );

    // Assess
    const refusals = free.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    expect(refusals.length).toBeGreaterThan(0);
    for (const refusal of refusals) {
      expect(refusal).toBeInstanceOf(ThrottledError);
      expect(refusal).toMatchObject({ status: 429, retryAfterMs: undefined });
    }
    // The sandbox refuses a fourth concurrent call, so no refusal means the limit held.
    expect(
      capped.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)),
    ).toEqual([]);
  });

  it.each([
    ['an unknown catalog', { catalogId: '999' }, {}, ErrorCode.VENDOR_REJECTED, 'CATALOG_NOT_FOUND', 404],
    [
      'a wrong token',
      {},
      { secret: { accountId: 'SANDBOX-ACCOUNT-1', token: 'nope' } },
      ErrorCode.AUTH_FAILED,
      'AUTHENTICATION_FAILED',
      401,
    ],
  ])('classifies %s as permanent', async (_name, options, setup, code, vendorCode, status) => {
    // Prepare
    const ctx = clevertap(options, setup);

    // Act
    const error = await clevertapCatalogAdapter
      .requestUpload(fileOf(uniqueName('csv'), CSV), ctx)
      .catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ code, vendorCode, status });
    expect((error as Error).message).not.toContain('nope');
  });

  it('classifies mark-complete for an unknown upload as UPLOAD_NOT_FOUND, permanent', async () => {
    // Prepare
    const ctx = clevertap();
    const file = fileOf(uniqueName('csv'), CSV);

    // Act
    const error = await clevertapCatalogAdapter
      .complete(
        { file, upload: { kind: 'single', url: `${sandbox.url}/x` }, refs: { uploadId: 'upl_unknown' } },
        ctx,
      )
      .catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({
      retryable: false,
      code: ErrorCode.VENDOR_REJECTED,
      vendorCode: 'UPLOAD_NOT_FOUND',
      status: 404,
    });
  });

  it('classifies mark-complete before the bytes arrived as CATALOG_INVALID_REQUEST, permanent', async () => {
    // Prepare
    const ctx = clevertap();
    const file = fileOf(uniqueName('csv'), CSV);
    const plan = await clevertapCatalogAdapter.requestUpload(file, ctx);

    // Act
    const error = await clevertapCatalogAdapter
      .complete({ file, upload: { kind: 'single', url: `${sandbox.url}/x` }, refs: plan.refs }, ctx)
      .catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ retryable: false, vendorCode: 'CATALOG_INVALID_REQUEST', status: 400 });
  });

  it.each([
    ['malformed-json', RetryableError, ErrorCode.VENDOR_BAD_RESPONSE],
    ['reset', RetryableError, ErrorCode.VENDOR_UNREACHABLE],
  ] as const)('treats a presign answered with %s as retryable', async (kind, errorClass, code) => {
    // Prepare
    const ctx = clevertap();
    const file = fileOf(uniqueName('csv'), CSV);
    sandbox.faults.inject({
      vendor: 'clevertap-catalog',
      operation: 'presign',
      // Twice: a GET reset on a reused connection is sent once more at once.
      times: 2,
      match: { fileName: file.fileName },
      action: { kind },
    });

    // Act
    const error = await clevertapCatalogAdapter.requestUpload(file, ctx).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(errorClass);
    expect(error).toMatchObject({ code });
  });

  it('sends a presign again at once when a reused keep-alive connection was reset before any answer', async () => {
    // Prepare: one call first, so the next one goes out on a kept-alive connection.
    const ctx = clevertap();
    await clevertapCatalogAdapter.requestUpload(fileOf(uniqueName('csv'), CSV), ctx);
    const file = fileOf(uniqueName('csv'), CSV);
    sandbox.faults.inject({
      vendor: 'clevertap-catalog',
      operation: 'presign',
      times: 1,
      match: { fileName: file.fileName },
      action: { kind: 'reset' },
    });

    // Act
    const plan = await clevertapCatalogAdapter.requestUpload(file, ctx);

    // Assess
    expect(plan.kind).toBe('single');
    const calls = sandbox.log.calls({
      vendor: 'clevertap-catalog',
      operation: 'presign',
      fileName: file.fileName,
    });
    expect(calls.map((c) => [c.fault ?? null, c.status])).toEqual([
      ['reset', 0],
      [null, 200],
    ]);
  });

  it('reports a mark-complete whose answer is lost after the job started as ambiguous', async () => {
    // Prepare
    const ctx = clevertap();
    const file = fileOf(uniqueName('csv'), CSV);
    const plan = await clevertapCatalogAdapter.requestUpload(file, ctx);
    const uploaded = await upload(plan, CSV);
    sandbox.faults.inject({
      vendor: 'clevertap-catalog',
      operation: 'complete',
      match: { fileName: file.fileName },
      action: { kind: 'reset-after-commit' },
    });

    // Act
    const error = await clevertapCatalogAdapter
      .complete({ file, upload: uploaded, refs: plan.refs }, ctx)
      .catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(AmbiguousOutcomeError);
  });

  it('hands out a fresh URL on the next requestUpload after an expired one', async () => {
    // Prepare
    const ctx = clevertap();
    const file = fileOf(uniqueName('csv'), CSV);
    sandbox.faults.inject({
      vendor: 'clevertap-catalog',
      operation: 'presign',
      match: { fileName: file.fileName },
      action: { kind: 'expired-url' },
    });

    // Act
    const stale = await putBytes(singleTarget(await clevertapCatalogAdapter.requestUpload(file, ctx)), CSV);
    const fresh = await putBytes(singleTarget(await clevertapCatalogAdapter.requestUpload(file, ctx)), CSV);

    // Assess
    expect(stale.status).toBe(403);
    expect(stale.text).toContain('Request has expired');
    expect(fresh.status).toBe(200);
  });
});
