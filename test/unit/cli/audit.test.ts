import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACTIONS_LOG_ENV,
  appendAction,
  logActor,
  type OperatorAction,
  recordAction,
} from '../../../cli/audit';
import { dlqDelete } from '../../../cli/operations';
import { type ConsoleAction, routeApi } from '../../../console/api';
import { PROJECT_ROOT } from '../../../lib/config/stage-config';
import { StackOutput } from '../../../lib/stack-outputs';
import { scratchDir } from '../../support/scratch';
import { FakeSqs, fakeTarget } from './fake-target';

const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as OperatorAction & { stack: string });

describe('one operator-actions log for the CLI and the console', () => {
  it('records an action taken through the CLI, and one that failed, as JSON lines via cli', async () => {
    const file = path.join(scratchDir('audit-'), 'logs', 'operator-actions.log');
    const sqs = new FakeSqs();
    const target = fakeTarget(sqs);
    const id = sqs.put(target.resources.completion.dlqUrl, 'parked');
    const actor = logActor(file, target.description, 'alice@host');

    const { result } = await recordAction(
      actor,
      'delete',
      `completion DLQ message ${id}`,
      () => dlqDelete(target, 'completion', id),
      (m) => `deleted ${m.messageId}`,
    );
    expect(result).toBe(`deleted ${id}`);
    await expect(
      recordAction(
        actor,
        'delete',
        'completion DLQ message m-404',
        () => dlqDelete(target, 'completion', 'm-404'),
        () => 'deleted',
      ),
    ).rejects.toThrow(/no message m-404/);

    const [done, failed] = lines(file);
    expect(done).toMatchObject({
      via: 'cli',
      operator: 'alice@host',
      action: 'delete',
      subject: `completion DLQ message ${id}`,
      ok: true,
      result: `deleted ${id}`,
      stack: 'fake stack',
    });
    expect(Date.parse(done?.at ?? '')).not.toBeNaN();
    expect(failed).toMatchObject({ via: 'cli', ok: false, error: expect.stringMatching(/no message m-404/) });
  });

  it('the console records into the same file, via console, and still lists its actions', async () => {
    const file = path.join(scratchDir('audit-'), 'operator-actions.log');
    const sqs = new FakeSqs();
    const target = fakeTarget(sqs);
    const [a, b] = ['a', 'b'].map((body) => sqs.put(target.resources.completion.dlqUrl, body));
    const actions: ConsoleAction[] = [];
    const ctx = {
      target,
      operator: 'bob@host',
      actions,
      record: (action: ConsoleAction) => {
        actions.unshift(action);
        appendAction(file, action, target.description);
      },
    };
    await routeApi(ctx, {
      method: 'POST',
      path: '/api/dlq/delete',
      query: new URLSearchParams(),
      body: { confirmed: true, queue: 'completion', messageId: a },
    });
    await recordAction(
      logActor(file, target.description, 'alice@host'),
      'delete',
      `completion DLQ message ${b}`,
      () => dlqDelete(target, 'completion', b ?? ''),
      () => 'deleted',
    );

    expect(lines(file).map((l) => [l.via, l.operator, l.subject, l.ok])).toEqual([
      ['console', 'bob@host', `completion DLQ message ${a}`, true],
      ['cli', 'alice@host', `completion DLQ message ${b}`, true],
    ]);
    const listed = await routeApi(ctx, {
      method: 'GET',
      path: '/api/actions',
      query: new URLSearchParams(),
      body: undefined,
    });
    expect(listed).toMatchObject({
      kind: 'json',
      value: { actions: [{ via: 'console', operator: 'bob@host' }] },
    });
  });
});

/**
 * The commands themselves, run as a user runs them (the bin script) against a stack on a fake AWS
 * endpoint: CloudFormation's DescribeStacks and the few SQS calls a purge and a delete make.
 */
describe('vendor-ingest dlq purge / dlq delete append to the operator-actions log', () => {
  let server: Server;
  let endpoint = '';
  const calls: string[] = [];
  const run = promisify(execFile);

  const outputs = () => ({
    [StackOutput.Stage]: 'test',
    [StackOutput.IngestBucketName]: 'bucket',
    [StackOutput.StateTableName]: 'table',
    [StackOutput.CompletionQueueUrl]: `${endpoint}/000000000000/fake-completion`,
    [StackOutput.Routes]: JSON.stringify({ sales: { prefix: 'sales/', vendor: 'cleartax-gst' } }),
  });
  const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const sqsAction = String(req.headers['x-amz-target'] ?? '').replace('AmazonSQS.', '');
        if (sqsAction) {
          calls.push(sqsAction);
          res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
          res.end(
            JSON.stringify(
              sqsAction === 'GetQueueAttributes'
                ? {
                    Attributes: {
                      ApproximateNumberOfMessages: '2',
                      ApproximateNumberOfMessagesNotVisible: '0',
                    },
                  }
                : {},
            ),
          );
          return;
        }
        calls.push(new URLSearchParams(body).get('Action') ?? '?');
        const members = Object.entries(outputs())
          .map(([k, v]) => `<member><OutputKey>${k}</OutputKey><OutputValue>${xml(v)}</OutputValue></member>`)
          .join('');
        res.writeHead(200, { 'content-type': 'text/xml' });
        res.end(
          `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>Fake</StackName><StackStatus>CREATE_COMPLETE</StackStatus><CreationTime>2026-01-01T00:00:00Z</CreationTime><Outputs>${members}</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeStacksResponse>`,
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  async function cli(
    log: string,
    ...args: string[]
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const out = await run(
        process.execPath,
        [
          path.join(PROJECT_ROOT, 'scripts/vendor-ingest.mjs'),
          ...args,
          '--stack',
          'Fake',
          '--endpoint',
          endpoint,
        ],
        {
          cwd: scratchDir('audit-cwd-'),
          env: {
            ...process.env,
            [ACTIONS_LOG_ENV]: log,
            VENDOR_INGEST_OPERATOR: 'carol@cli',
            AWS_REGION: 'us-east-1',
            NO_COLOR: '1',
          },
          timeout: 60_000,
        },
      );
      return { code: 0, ...out };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  it('appends what was done and what failed, via cli, with the operator and the stack', async () => {
    const log = path.join(scratchDir('audit-'), 'operator-actions.log');
    const purged = await cli(log, 'dlq', 'purge', '--queue', 'completion', '--yes');
    expect(purged, purged.stderr).toMatchObject({ code: 0 });
    expect(purged.stdout).toContain('completion: purged (about 2 messages)');
    expect(calls).toContain('PurgeQueue');

    const missing = await cli(log, 'dlq', 'delete', 'm-404', '--queue', 'completion', '--yes');
    expect(missing.code).toBe(1);

    expect(existsSync(log)).toBe(true);
    const [purge, del] = lines(log);
    expect(purge).toMatchObject({
      via: 'cli',
      operator: 'carol@cli',
      action: 'purge',
      subject: 'the completion DLQ',
      ok: true,
      result: 'completion: purged (about 2 messages)',
      stack: `stack Fake on ${endpoint}`,
    });
    expect(del).toMatchObject({
      via: 'cli',
      action: 'delete',
      subject: 'completion DLQ message m-404',
      ok: false,
      error: expect.stringMatching(/no message m-404/),
    });
  });
});
