import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AmbiguousOutcomeError,
  ErrorCode,
  PermanentError,
  RetryableError,
  ThrottledError,
} from '../../functions/shared/errors';
import { slackAdapter } from '../../functions/vendors/slack/adapter';
import type { SlackOptions, SlackSecret } from '../../functions/vendors/slack/schemas';
import type { FileDescriptor, UploadPlan } from '../../functions/vendors/types';
import { type Sandbox, startSandbox } from '../../sandbox';
import { putBytes, sandboxContext, uniqueName, upload } from './adapter-harness';

let sandbox: Sandbox;

beforeAll(async () => {
  // A low rate limit, so the 429 ratelimited answer is reachable in a test.
  sandbox = await startSandbox({ port: 0, slackCallsPerMinute: 20 });
});
afterAll(async () => {
  await sandbox.close();
});
beforeEach(() => {
  sandbox.reset();
});

function channel(): string {
  return sandbox.credentials.slack.channelIds[0] ?? '';
}

function slack(options: Partial<SlackOptions> = {}, token = sandbox.credentials.slack.token) {
  return sandboxContext<SlackSecret, SlackOptions>(slackAdapter, {
    baseUrl: sandbox.url,
    secret: { token },
    options: { channelId: channel(), ...options },
  });
}

function fileOf(fileName: string, bytes: Buffer): FileDescriptor {
  return {
    bucket: 'intake',
    key: `slack/${channel()}/${fileName}`,
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

describe('slackAdapter (a spec) against the sandbox', () => {
  it('uploads the bytes to the URL Slack hands out and shares the file into the channel', async () => {
    // Prepare
    const bytes = randomBytes(3000);
    const ctx = slack({ initialComment: 'March register' });
    const file = fileOf(uniqueName('csv'), bytes);

    // Act
    const plan = await slackAdapter.requestUpload(file, ctx);
    const uploaded = await upload(plan, bytes);
    const result = await slackAdapter.complete({ file, upload: uploaded, refs: plan.refs }, ctx);

    // Assess
    expect(singleTarget(plan)).toMatchObject({ method: 'POST', headers: { 'Content-Type': 'text/csv' } });
    expect(result.refs.fileId).toBe(plan.refs.fileId);
    const [stored] = sandbox.log.uploads({ vendor: 'slack', fileName: file.fileName });
    expect(stored?.size).toBe(bytes.length);
    expect(sandbox.log.completions('slack', file.fileName).map((c) => c.status)).toEqual([200]);
  });

  it('refuses an unknown token (HTTP 200, ok false, invalid_auth) as a permanent auth failure', async () => {
    // Prepare
    const ctx = slack({}, 'xoxb-0-0-NotAToken');

    // Act
    const error = await slackAdapter
      .requestUpload(fileOf(uniqueName('csv'), randomBytes(10)), ctx)
      .catch((e) => e);

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ code: ErrorCode.AUTH_FAILED, vendorCode: 'invalid_auth', status: 200 });
  });

  it('turns ratelimited (429 with Retry-After) into a throttle that waits as told', async () => {
    // Prepare
    const ctx = slack();
    const asks = Array.from({ length: 21 }, () =>
      slackAdapter.requestUpload(fileOf(uniqueName('csv'), randomBytes(10)), ctx).then(
        () => undefined,
        (e: unknown) => e,
      ),
    );

    // Act
    const errors = (await Promise.all(asks)).filter((e) => e !== undefined);

    // Assess
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ThrottledError);
    expect(errors[0]).toMatchObject({ vendorCode: 'ratelimited', status: 429 });
    expect((errors[0] as ThrottledError).retryAfterMs).toBeGreaterThan(0);
  });

  it.each([
    ['a channel the bot is not in', 'C0SANDBOX99', 'not_in_channel'],
    ['an unknown channel', 'C0NOSUCH001', 'channel_not_found'],
  ])('refuses sharing into %s as a permanent rejection', async (_name, channelId, vendorCode) => {
    // Prepare
    const bytes = randomBytes(64);
    const ctx = slack({ channelId });
    const file = fileOf(uniqueName('txt'), bytes);
    const plan = await slackAdapter.requestUpload(file, ctx);
    const uploaded = await upload(plan, bytes);

    // Act
    const error = await slackAdapter
      .complete({ file, upload: uploaded, refs: plan.refs }, ctx)
      .catch((e) => e);

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ code: ErrorCode.VENDOR_REJECTED, vendorCode });
  });

  it('cannot complete one file twice: a repeat is file_not_found (so the completion is not idempotent)', async () => {
    // Prepare
    const bytes = randomBytes(64);
    const ctx = slack();
    const file = fileOf(uniqueName('txt'), bytes);
    const plan = await slackAdapter.requestUpload(file, ctx);
    const input = { file, upload: await upload(plan, bytes), refs: plan.refs };
    await slackAdapter.complete(input, ctx);

    // Act
    const error = await slackAdapter.complete(input, ctx).catch((e) => e);

    // Assess
    expect(slackAdapter.completionIdempotent).toBe(false);
    expect(error).toMatchObject({ code: ErrorCode.VENDOR_REJECTED, vendorCode: 'file_not_found' });
  });

  it('keeps another workspace from completing the file', async () => {
    // Prepare
    const bytes = randomBytes(64);
    const file = fileOf(uniqueName('txt'), bytes);
    const plan = await slackAdapter.requestUpload(file, slack());
    const uploaded = await upload(plan, bytes);
    const other = slack({}, sandbox.credentials.slack.otherWorkspace.token);

    // Act
    const error = await slackAdapter
      .complete({ file, upload: uploaded, refs: plan.refs }, other)
      .catch((e) => e);

    // Assess
    expect(error).toMatchObject({ code: ErrorCode.VENDOR_REJECTED, vendorCode: 'file_not_found' });
  });

  it('meets the upload URL rules: the declared length, once, and a fresh URL after an expired one', async () => {
    // Prepare
    const bytes = randomBytes(256);
    const ctx = slack();
    const file = fileOf(uniqueName('bin'), bytes);
    sandbox.faults.inject({
      vendor: 'slack',
      operation: 'presign',
      match: { fileName: file.fileName },
      action: { kind: 'expired-url' },
    });

    // Act
    const stale = await putBytes(singleTarget(await slackAdapter.requestUpload(file, ctx)), bytes);
    const target = singleTarget(await slackAdapter.requestUpload(file, ctx));
    const short = await putBytes(target, bytes.subarray(1));
    const fresh = await putBytes(target, bytes);
    const again = await putBytes(target, bytes);

    // Assess
    expect(stale.status).toBe(410);
    expect(short.status).toBe(400);
    expect(fresh.status).toBe(200);
    expect(again.status).toBe(410);
  });

  it('reports a success answer without the file id as ambiguous: the file may have been shared', async () => {
    // Prepare
    const bytes = randomBytes(64);
    const ctx = slack();
    const file = fileOf(uniqueName('txt'), bytes);
    const plan = await slackAdapter.requestUpload(file, ctx);
    const uploaded = await upload(plan, bytes);
    sandbox.faults.inject({
      vendor: 'slack',
      operation: 'complete',
      action: { kind: 'status', status: 200, body: { ok: true } },
    });

    // Act
    const error = await slackAdapter
      .complete({ file, upload: uploaded, refs: plan.refs }, ctx)
      .catch((e) => e);

    // Assess
    expect(error).toBeInstanceOf(AmbiguousOutcomeError);
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as Error).message).toContain('files.0.id');
  });
});
