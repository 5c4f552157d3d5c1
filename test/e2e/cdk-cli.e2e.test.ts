import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContextKey } from '../../lib/app';
import { PROJECT_ROOT } from '../../lib/config/stage-config';
import { type MotoServer, startMoto } from '../../local/moto';
import { type LocalPipeline, startLocalPipeline } from '../../local/pipeline';
import { SANDBOX_PORT_ENV } from '../support/global-setup';
import { scratchDir } from '../support/scratch';
import { csvBody, jpegBody } from './support/inputs';

/**
 * The deploy path a user takes, end to end on the embedded AWS: the project's pinned CDK CLI runs
 * `cdk bootstrap` and `cdk deploy` against moto, the local Lambda emulation runs the stack the CLI
 * built, and the operator CLI (`vendor-ingest --stack … --endpoint …`) works it: drop, status,
 * dlq list, redrive, replay, resolve.
 */

const run = promisify(execFile);
const STACK = 'VendorIngest-local';
const REGION = 'us-east-1';
const ACCOUNT = '123456789012';

let moto: MotoServer;
let pipeline: LocalPipeline;
let endpoint: string;
let scratch: string;
const sandboxPort = Number(process.env[SANDBOX_PORT_ENV] ?? 0) || 24_555;
const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;

/** The embedded AWS as the AWS CLI tools see it. `localhost`: moto parses an IP template URL's bucket as "127". */
function awsEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: REGION,
    AWS_DEFAULT_REGION: REGION,
    CDK_DISABLE_CLI_TELEMETRY: 'true',
  };
}

async function cdk(...args: string[]): Promise<string> {
  const out = await run(
    path.join(PROJECT_ROOT, 'node_modules/.bin/cdk'),
    [...args, '--no-notices', '--ci', '--output', path.join(scratch, 'cdk.out')],
    { cwd: PROJECT_ROOT, env: awsEnv(), maxBuffer: 32 * 1024 * 1024, timeout: 240_000 },
  );
  return `${out.stdout}${out.stderr}`;
}

/** The operator CLI, as a user runs it, against the stack by name on the embedded AWS. */
async function operator(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const out = await run(
      process.execPath,
      [
        path.join(PROJECT_ROOT, 'scripts/vendor-ingest.mjs'),
        ...args,
        '--stack',
        STACK,
        '--endpoint',
        endpoint,
      ],
      { cwd: PROJECT_ROOT, env: { ...awsEnv(), VENDOR_INGEST_OPERATOR: 'cli-test' }, timeout: 60_000 },
    );
    return { code: 0, out: `${out.stdout}${out.stderr}` };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

async function waitForState(key: string, state: string, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = (await operator('status', key)).out;
    if (last.includes(state)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${key} never reached ${state}; last status:\n${last}`);
}

beforeAll(async () => {
  scratch = scratchDir('cdk-cli-');
  moto = await startMoto();
  endpoint = `http://localhost:${moto.port}`;
  const context = ['-c', 'stage=local', '-c', `${ContextKey.vendorSandboxUrl}=${sandboxUrl}`];
  await cdk('bootstrap', `aws://${ACCOUNT}/${REGION}`, ...context);
  await cdk('deploy', STACK, '--require-approval', 'never', ...context);
  // Runs what the CLI deployed; it must be told how the stack was synthesized (its sandbox URL).
  pipeline = await startLocalPipeline({
    awsEndpoint: endpoint,
    attachTo: STACK,
    sandbox: { port: sandboxPort, jobDurationMs: 300 },
    pollWaitSeconds: 1,
  });
}, 300_000);

afterAll(async () => {
  await pipeline?.stop();
  await moto?.stop();
  rmSync(scratch, { recursive: true, force: true });
}, 60_000);

describe('the pinned CDK CLI deploys the stack onto the embedded AWS', () => {
  it('builds every resource of the template that the embedded AWS emulates, and it delivers a file', async () => {
    expect(pipeline.routes.map((r) => r.baseUrl)).toEqual(pipeline.routes.map(() => sandboxUrl));
    const file = path.join(scratch, 'march.csv');
    writeFileSync(file, csvBody('cli-deployed'));

    const dropped = await operator('drop', file, '--key', 'cleartax/sales/cli-deployed/march.csv');
    expect(dropped, dropped.out).toMatchObject({ code: 0 });
    const status = await waitForState('cleartax/sales/cli-deployed/march.csv', 'COMPLETED');

    expect(status).toContain('cleartax-sales');
    const uploads = pipeline.sandbox.log.uploads({ vendor: 'cleartax-gst', fileName: 'march.csv' });
    expect(uploads).toHaveLength(1);
  });

  it('lets the operator CLI list, redrive, replay and resolve on the deployed stack by name', async () => {
    // A presign outage parks a file; redrive brings it back once the vendor answers.
    pipeline.sandbox.faults.inject({
      vendor: 'inspect',
      operation: 'presign',
      times: 1000,
      action: { kind: 'status', status: 400, body: { error: 'BAD_REQUEST' } },
    });
    const photo = path.join(scratch, 'crack.jpg');
    writeFileSync(photo, jpegBody('cli-redrive'));
    const key = 'inspect/0b4cf1d2-6a8e-4f3a-9c1b-7d2e5f8a9b10/cli-crack.jpg';
    expect((await operator('drop', photo, '--key', key)).code).toBe(0);
    await waitForState(key, 'FAILED');
    const listed = await operator('dlq', 'list');
    expect(listed.out).toContain(key);
    expect(listed.out).toContain('VENDOR_REJECTED');
    pipeline.sandbox.faults.clear();
    const redriven = await operator('redrive', '--queue', 'inspect-photos');
    expect(redriven.out).toMatch(/inspect-photos: 1 moved back/);
    expect(redriven.out).toContain('no StartMessageMoveTask');
    await waitForState(key, 'COMPLETED');
    expect((await operator('dlq', 'list')).out).toContain('every dead-letter queue is empty');

    // Replay delivers the completed version once more, on purpose.
    const csvKey = 'cleartax/sales/cli-deployed/march.csv';
    const replayed = await operator('replay', csvKey);
    expect(replayed.out).toContain('requested by cli-test');
    const deadline = Date.now() + 60_000;
    for (;;) {
      const [r] = await pipeline.ledger.listByKey(pipeline.resources.bucket, csvKey);
      if (r?.state === 'COMPLETED' && r.replays === 1) break;
      if (Date.now() > deadline) throw new Error(`replay of ${csvKey} did not complete: ${r?.state}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    const uploads = pipeline.sandbox.log.uploads({ vendor: 'cleartax-gst', fileName: 'march.csv' });
    expect(uploads).toHaveLength(2);

    // A completion whose answer is lost is parked; resolve settles it.
    pipeline.sandbox.faults.inject({
      vendor: 'cleartax-gst',
      operation: 'complete',
      times: 1,
      action: { kind: 'reset-after-commit' },
    });
    const csv = path.join(scratch, 'uncertain.csv');
    writeFileSync(csv, csvBody('cli-uncertain'));
    const uncertainKey = 'cleartax/sales/cli-uncertain.csv';
    expect((await operator('drop', csv, '--key', uncertainKey)).code).toBe(0);
    await waitForState(uncertainKey, 'COMPLETION_UNCERTAIN');
    const resolved = await operator('resolve', uncertainKey, '--as', 'completed');
    expect(resolved.out).toMatch(/resolved as completed by cli-test: now COMPLETED/);
  });
});
