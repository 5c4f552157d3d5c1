import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BUNDLED_ROUTES_FILE } from '../../../functions/shared/deployment';
import { Env } from '../../../functions/shared/env';
import { stubEnvironment } from '../../support/environment';
import { scratchDir } from '../../support/scratch';

/** A task root whose packaged routes.json holds `text`. */
function taskRoot(text: string | undefined): string {
  const dir = scratchDir('cold-start-');
  if (text !== undefined) writeFileSync(path.join(dir, BUNDLED_ROUTES_FILE), text);
  return dir;
}
const ROUTES = JSON.stringify({ stage: 'test', allowLoopbackHttp: false, routes: [] });

/** A complete, valid environment for both handlers (nothing is contacted at cold start). */
const VALID: Readonly<Record<string, string>> = {
  AWS_REGION: 'ap-south-1',
  [Env.STAGE]: 'test',
  [Env.LAMBDA_TASK_ROOT]: taskRoot(ROUTES),
  [Env.COMPLETION_QUEUE_URL]: 'https://sqs.ap-south-1.amazonaws.com/123456789012/completion',
  [Env.COMPLETION_DLQ_URL]: 'https://sqs.ap-south-1.amazonaws.com/123456789012/completion-dlq',
  [Env.MAX_RECEIVE_COUNT]: '3',
  [Env.RECORD_CONCURRENCY]: '4',
  [Env.STATE_TABLE]: 'state',
  [Env.SECRET_CACHE_SECONDS]: '300',
  [Env.VENDOR_TIMEOUT_MS]: '10000',
  [Env.RETRY_BASE_SECONDS]: '10',
  [Env.RETRY_MAX_SECONDS]: '900',
  [Env.LEDGER_RETENTION_DAYS]: '90',
  [Env.OUTAGE_HORIZON_SECONDS]: '86400',
  [Env.BREAKER_FAILURE_THRESHOLD]: '5',
  [Env.BREAKER_PROBE_SECONDS]: '60',
  [Env.WAIT_SECONDS]: '300',
  [Env.ATTENTION_AFTER_SECONDS]: '3600',
  [Env.STALL_TIMEOUT_SECONDS]: '60',
  [Env.EVENT_BUS_NAME]: 'default',
  [Env.STACK_NAME]: 'VendorIngest-test',
  [Env.RESULTS_PREFIX]: '_results/',
  [Env.ERROR_FILE_MAX_BYTES]: '52428800',
  [Env.TAG_OBJECTS]: 'true',
  [Env.STATUS_POLL_FIRST_SECONDS]: '60',
  [Env.STATUS_POLL_MAX_SECONDS]: '21600',
  [Env.COMPLETE_INLINE]: 'true',
};

function without(...names: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(VALID).filter(([name]) => !names.includes(name)));
}

async function coldStartError(module: 'dispatch' | 'completion'): Promise<Error> {
  try {
    if (module === 'dispatch') await import('../../../functions/dispatch/handler');
    else await import('../../../functions/completion/handler');
  } catch (error) {
    return error as Error;
  }
  throw new Error(`the ${module} handler started`);
}

beforeEach(() => {
  vi.resetModules();
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe('dispatch handler cold start', () => {
  it('starts with a complete environment', async () => {
    stubEnvironment(VALID);

    const module = await import('../../../functions/dispatch/handler');

    expect(module.handler).toEqual(expect.any(Function));
  });

  it('lists every missing variable in one error', async () => {
    stubEnvironment(
      without(
        Env.STAGE,
        Env.COMPLETION_QUEUE_URL,
        Env.LEDGER_RETENTION_DAYS,
        Env.MAX_RECEIVE_COUNT,
        Env.STATE_TABLE,
      ),
    );

    const error = await coldStartError('dispatch');

    expect(error.message).toMatch(/^invalid environment/);
    for (const name of [
      Env.STAGE,
      Env.COMPLETION_QUEUE_URL,
      Env.LEDGER_RETENTION_DAYS,
      Env.MAX_RECEIVE_COUNT,
      Env.STATE_TABLE,
    ]) {
      expect(error.message).toContain(`${name}:`);
    }
  });

  it('lists every invalid value in one error', async () => {
    stubEnvironment({
      ...VALID,
      [Env.COMPLETION_QUEUE_URL]: 'completion-queue',
      [Env.RETRY_MAX_SECONDS]: 'never',
      [Env.MAX_RECEIVE_COUNT]: '0',
      [Env.RECORD_CONCURRENCY]: '50',
      [Env.S3_FORCE_PATH_STYLE]: 'yes',
    });

    const error = await coldStartError('dispatch');

    const problems = error.message.split('\n').filter((line) => line.startsWith('- '));
    expect(problems.map((line) => line.slice(2, line.indexOf(':')))).toEqual(
      expect.arrayContaining([
        Env.COMPLETION_QUEUE_URL,
        Env.RETRY_MAX_SECONDS,
        Env.MAX_RECEIVE_COUNT,
        Env.RECORD_CONCURRENCY,
        Env.S3_FORCE_PATH_STYLE,
      ]),
    );
    expect(problems).toHaveLength(5);
  });

  it('names the packaged routes file when it is missing', async () => {
    stubEnvironment({ ...VALID, [Env.LAMBDA_TASK_ROOT]: taskRoot(undefined) });

    const error = await coldStartError('dispatch');

    expect(error.message).toContain(`no routes document at`);
    expect(error.message).toContain(BUNDLED_ROUTES_FILE);
  });

  it('names the packaged routes file when it is not JSON', async () => {
    stubEnvironment({ ...VALID, [Env.LAMBDA_TASK_ROOT]: taskRoot('{"stage":') });

    const error = await coldStartError('dispatch');

    expect(error.message).toContain(`${BUNDLED_ROUTES_FILE} is not JSON`);
  });

  it('reports a routes document of the wrong shape with the fields at fault', async () => {
    stubEnvironment({ ...VALID, [Env.LAMBDA_TASK_ROOT]: taskRoot('{"stage":"test","routes":"none"}') });

    const error = await coldStartError('dispatch');

    expect(error.message).toMatch(/resolved routes.*(allowLoopbackHttp|routes)/s);
  });
});

describe('completion handler cold start', () => {
  it('starts with a complete environment', async () => {
    stubEnvironment(VALID);

    const module = await import('../../../functions/completion/handler');

    expect(module.handler).toEqual(expect.any(Function));
  });

  it('lists every missing or invalid variable in one error', async () => {
    stubEnvironment({
      ...without(Env.COMPLETION_DLQ_URL, Env.STATE_TABLE),
      [Env.STATUS_POLL_FIRST_SECONDS]: '901',
      [Env.VENDOR_TIMEOUT_MS]: 'soon',
    });

    const error = await coldStartError('completion');

    const problems = error.message.split('\n').filter((line) => line.startsWith('- '));
    expect(problems.map((line) => line.slice(2, line.indexOf(':'))).sort()).toEqual(
      [Env.COMPLETION_DLQ_URL, Env.STATE_TABLE, Env.STATUS_POLL_FIRST_SECONDS, Env.VENDOR_TIMEOUT_MS].sort(),
    );
  });
});
