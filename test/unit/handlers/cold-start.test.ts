import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Env } from '../../../functions/shared/env';
import { stubEnvironment } from './support';

const ROUTES_JSON = JSON.stringify({ stage: 'test', allowLoopbackHttp: false, routes: [] });

/** A complete, valid environment for both handlers (nothing is contacted at cold start). */
const VALID: Readonly<Record<string, string>> = {
  AWS_REGION: 'ap-south-1',
  [Env.STAGE]: 'test',
  [Env.ROUTES_JSON]: ROUTES_JSON,
  [Env.COMPLETION_QUEUE_URL]: 'https://sqs.ap-south-1.amazonaws.com/123456789012/completion',
  [Env.COMPLETION_DLQ_URL]: 'https://sqs.ap-south-1.amazonaws.com/123456789012/completion-dlq',
  [Env.INTAKE_DLQ_URLS]: JSON.stringify({
    'arn:aws:sqs:ap-south-1:123456789012:intake':
      'https://sqs.ap-south-1.amazonaws.com/123456789012/intake-dlq',
  }),
  [Env.MAX_RECEIVE_COUNT]: '3',
  [Env.STATE_TABLE]: 'state',
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
        Env.INTAKE_DLQ_URLS,
        Env.MAX_RECEIVE_COUNT,
        Env.STATE_TABLE,
      ),
    );

    const error = await coldStartError('dispatch');

    expect(error.message).toMatch(/^invalid environment/);
    for (const name of [
      Env.STAGE,
      Env.COMPLETION_QUEUE_URL,
      Env.INTAKE_DLQ_URLS,
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
      [Env.INTAKE_DLQ_URLS]: '{not json',
      [Env.MAX_RECEIVE_COUNT]: '0',
      [Env.RECORD_CONCURRENCY]: '50',
      [Env.S3_FORCE_PATH_STYLE]: 'yes',
    });

    const error = await coldStartError('dispatch');

    const problems = error.message.split('\n').filter((line) => line.startsWith('- '));
    expect(problems.map((line) => line.slice(2, line.indexOf(':')))).toEqual(
      expect.arrayContaining([
        Env.COMPLETION_QUEUE_URL,
        Env.INTAKE_DLQ_URLS,
        Env.MAX_RECEIVE_COUNT,
        Env.RECORD_CONCURRENCY,
        Env.S3_FORCE_PATH_STYLE,
      ]),
    );
    expect(problems).toHaveLength(5);
  });

  // ROUTES_JSON is read by createAwsRuntime after parseEnv, so it is missing from the list.
  it('lists a missing ROUTES_JSON together with the other problems', async () => {
    stubEnvironment(without(Env.ROUTES_JSON, Env.STATE_TABLE));

    const error = await coldStartError('dispatch');

    expect(error.message).toContain(`${Env.STATE_TABLE}:`);
    expect(error.message).toContain(Env.ROUTES_JSON);
  });

  it('names ROUTES_JSON when its value is not JSON', async () => {
    stubEnvironment({ ...VALID, [Env.ROUTES_JSON]: '{"stage":' });

    const error = await coldStartError('dispatch');

    expect(error.message).toContain(Env.ROUTES_JSON);
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
