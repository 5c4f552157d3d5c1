import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { awsClients } from '../local/aws';
import { demoTable, runDemo, table } from '../local/demo';
import { MOTO_HINT } from '../local/moto';
import { type LocalPipeline, PROJECT_ROOT, startLocalPipeline } from '../local/pipeline';
import { bold, dim, formatBytes, green, red, vendorId, Watcher } from '../local/ui';
import { dlqList, drop, keyFor, redrive, replay, resolve, status, waitingNote } from './operations';
import {
  localTarget,
  removeLocalState,
  runningLocalPipeline,
  stackTarget,
  type Target,
  writeLocalState,
} from './target';

const USAGE = `vendor-ingest — deliver files dropped in S3 to SaaS vendors

Usage: vendor-ingest <command> [options]     (npm start / npm run demo / npx vendor-ingest …)

Local pipeline (embedded AWS on moto + the vendor sandbox):
  start [--demo]                       run the whole pipeline until Ctrl-C (--demo also drops the examples)
  demo                                 deliver every example file, print a summary, exit 0 only if all succeeded
    --endpoint URL                     use this AWS endpoint (LocalStack, another moto) instead of starting moto
    --sandbox-port N                   vendor sandbox port (default: a free one)
    --job-duration-ms N                how long sandbox vendor jobs take (default 3000)

Operate (the local pipeline started by \`npm start\`, or a deployed stack with --stack):
  drop <file> [--key KEY | --route ID] upload a file to the ingest bucket
  status [KEY] [--version V]           ledger entries of a key (all versions), or recent deliveries
  dlq list                             every message in every dead-letter queue, with its reason
  redrive [--queue ROUTE_ID|completion] move DLQ messages back to their source queue
  replay KEY [--version V]             deliver a version again (an explicit, logged operator action)
  resolve KEY --as completed|retry [--version V]   settle a COMPLETION_UNCERTAIN delivery
    --stack NAME [--region R] [--endpoint URL]   act on a deployed stack (its outputs say the stage and
                                       routes); --endpoint for a stack on another AWS endpoint
`;

const EXAMPLES = path.join(PROJECT_ROOT, 'examples');

function operator(): string {
  return process.env.VENDOR_INGEST_OPERATOR ?? `${os.userInfo().username}@${os.hostname()}`;
}

async function targetFor(values: Record<string, unknown>): Promise<Target> {
  if (typeof values.stack === 'string') {
    const endpoint = typeof values.endpoint === 'string' ? values.endpoint : undefined;
    const region =
      (values.region as string | undefined) ??
      process.env.AWS_REGION ??
      process.env.AWS_DEFAULT_REGION ??
      (endpoint ? 'us-east-1' : undefined);
    if (!region) throw new Error('give --region (or set AWS_REGION) for --stack');
    return stackTarget(awsClients(endpoint, region), values.stack);
  }
  return localTarget(PROJECT_ROOT);
}

function banner(p: LocalPipeline): string {
  const routes = table(
    ['prefix', 'route', 'vendor'],
    p.routes.map((r) => [r.prefix, r.id, r.vendor]),
  );
  const sample = p.routes.find((r) => r.segments.length === 0) ?? p.routes[0];
  const key = `${sample?.prefix ?? ''}my-file.csv`;
  return [
    bold('vendor-ingest is running locally'),
    `  stack                 ${p.stack.stackName}: ${p.stack.resourceCount} resources deployed from the synthesized template in ${p.stack.deploySeconds.toFixed(1)} s`,
    ...(Object.keys(p.stack.notEmulated).length > 0
      ? [
          dim(
            `                        not emulated by the embedded AWS: ${Object.entries(p.stack.notEmulated)
              .map(([type, n]) => `${type} ×${n}`)
              .join(', ')}`,
          ),
        ]
      : []),
    `  embedded AWS (moto)   ${p.endpoint}   region ${p.clients.region}`,
    `  ingest bucket         s3://${p.resources.bucket}`,
    `  vendor sandbox        ${p.sandbox.url}   (calls: ${p.sandbox.url}/_sandbox/calls)`,
    `  function logs         ${p.logFile}`,
    '',
    routes,
    '',
    'Drop a file (any terminal):',
    `  npx vendor-ingest drop ./my-file.csv --key ${key}`,
    `  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local aws s3 cp ./my-file.csv "s3://${p.resources.bucket}/${key}" --endpoint-url ${p.endpoint} --region ${p.clients.region}`,
    'Then: npx vendor-ingest status <key> · dlq list · redrive · replay <key>      Ctrl-C stops everything.',
    '',
  ].join('\n');
}

async function startPipeline(values: Record<string, unknown>, watcher: Watcher): Promise<LocalPipeline> {
  const pipeline = await startLocalPipeline({
    awsEndpoint: values.endpoint as string | undefined,
    sandbox: {
      port: values['sandbox-port'] ? Number(values['sandbox-port']) : 0,
      jobDurationMs: values['job-duration-ms'] ? Number(values['job-duration-ms']) : 3000,
    },
    progressEveryBytes: 1024 * 1024,
    logDir: path.join(PROJECT_ROOT, '.local', 'logs'),
  });
  pipeline.events.on('log', (line) => watcher.handle(line));
  return pipeline;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      demo: { type: 'boolean' },
      endpoint: { type: 'string' },
      'sandbox-port': { type: 'string' },
      'job-duration-ms': { type: 'string' },
      key: { type: 'string' },
      route: { type: 'string' },
      version: { type: 'string' },
      queue: { type: 'string' },
      as: { type: 'string' },
      stack: { type: 'string' },
      region: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...args] = positionals;
  if (!command || values.help) {
    console.log(USAGE);
    return command ? 0 : 1;
  }

  switch (command) {
    case 'start': {
      const running = runningLocalPipeline(PROJECT_ROOT);
      if (running) {
        throw new Error(
          `a local pipeline is already running from this clone (pid ${running.pid}, ${running.endpoint}); stop it first (Ctrl-C in its terminal)`,
        );
      }
      const watcher = new Watcher((line) => console.log(line));
      const pipeline = await startPipeline(values, watcher);
      writeLocalState(PROJECT_ROOT, {
        endpoint: pipeline.endpoint,
        region: pipeline.clients.region,
        stackName: pipeline.stack.stackName,
        sandboxUrl: pipeline.sandbox.url,
        pid: process.pid,
      });
      console.log(banner(pipeline));
      const stop = async () => {
        console.log(dim('\nstopping…'));
        removeLocalState(PROJECT_ROOT);
        await pipeline.stop();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      if (values.demo) {
        const rows = await runDemo(pipeline, pipeline.target, watcher, EXAMPLES);
        console.log(`\n${demoTable(rows)}\n`);
      }
      await new Promise(() => undefined);
      return 0;
    }
    case 'demo': {
      const watcher = new Watcher((line) => console.log(line));
      const pipeline = await startPipeline(values, watcher);
      const stop = () => pipeline.stop().then(() => process.exit(130));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const target = pipeline.target;
        console.log(
          dim(
            `demo: pipeline up (moto ${pipeline.endpoint}, sandbox ${pipeline.sandbox.url}); dropping ${EXAMPLES}`,
          ),
        );
        const rows = await runDemo(pipeline, target, watcher, EXAMPLES);
        console.log(`\n${demoTable(rows)}\n`);
        const failed = rows.filter((r) => !r.ok).length;
        console.log(
          failed === 0
            ? green(`all ${rows.length} files delivered and completed`)
            : red(`${failed} of ${rows.length} files did not succeed`),
        );
        return failed === 0 ? 0 : 1;
      } finally {
        await pipeline.stop();
      }
    }
    case 'drop': {
      const file = args[0];
      if (!file) throw new Error('usage: drop <file> [--key KEY | --route ID]');
      const target = await targetFor(values);
      const key = keyFor(target, file, { key: values.key, route: values.route });
      const out = await drop(target, file, key);
      console.log(
        `dropped ${formatBytes(out.bytes)} at s3://${target.resources.bucket}/${out.key}${out.versionId ? ` (version ${out.versionId})` : ''}`,
      );
      return 0;
    }
    case 'status': {
      const target = await targetFor(values);
      const records = (await status(target, args[0])).filter(
        (r) => !values.version || r.versionId === values.version || r.sk === values.version,
      );
      if (records.length === 0) {
        console.log(args[0] ? `nothing recorded for ${args[0]}` : 'no deliveries recorded yet');
        return args[0] ? 1 : 0;
      }
      console.log(
        table(
          ['key', 'version', 'state', 'route', 'attempts', 'vendor id', 'vendor state', 'reason', 'updated'],
          records.map((r) => [
            r.key,
            r.versionId ?? r.sk,
            r.state,
            r.routeId ?? '-',
            `${r.attempts ?? 0}/${r.completionAttempts ?? 0}`,
            vendorId(r.refs as Record<string, unknown> | undefined),
            r.vendorState ?? '-',
            r.reason ? `${r.reason}: ${(r.lastError ?? '').slice(0, 80)}` : '-',
            r.updatedAt,
          ]),
        ),
      );
      const breakers = await target.ledger.listBreakers();
      for (const r of records) {
        const note = waitingNote(r, breakers);
        if (note) console.log(`${r.key} (${r.versionId ?? r.sk}): ${note}`);
      }
      if (args[0] && records[0]?.history) {
        console.log(
          `\nhistory of the newest version:\n${records[0].history.map((h) => `  ${h.at}  ${h.state}${h.note ? `  ${h.note}` : ''}`).join('\n')}`,
        );
      }
      return 0;
    }
    case 'dlq': {
      if (args[0] !== 'list') throw new Error('usage: dlq list');
      const target = await targetFor(values);
      const messages = await dlqList(target);
      if (messages.length === 0) {
        console.log(green('every dead-letter queue is empty'));
        return 0;
      }
      console.log(
        table(
          ['queue', 'subject', 'errorCode', 'retryable', 'failedAt', 'errorMessage'],
          messages.map((m) => [
            m.queue,
            m.subject,
            m.errorCode,
            m.retryable,
            m.failedAt,
            m.errorMessage.slice(0, 100),
          ]),
        ),
      );
      return 0;
    }
    case 'redrive': {
      const target = await targetFor(values);
      for (const r of await redrive(target, values.queue)) {
        const moved = r.moved === 'started' ? 'move task started' : `${r.moved} moved back`;
        const left = r.left > 0 ? `, ${r.left} parked again during the redrive left in the DLQ` : '';
        console.log(`${r.queue}: ${moved}${left}${r.fallback ? dim(` (${r.fallback})`) : ''}`);
      }
      return 0;
    }
    case 'replay': {
      const key = args[0];
      if (!key) throw new Error('usage: replay KEY [--version V]');
      const target = await targetFor(values);
      const record = await replay(target, key, operator(), values.version);
      console.log(
        `replay of ${record.deliveryId} requested by ${operator()} (replay #${record.replays ?? 1}); it is back in RECEIVED and its notification is queued`,
      );
      return 0;
    }
    case 'resolve': {
      const key = args[0];
      if (!key || (values.as !== 'completed' && values.as !== 'retry'))
        throw new Error('usage: resolve KEY --as completed|retry');
      const target = await targetFor(values);
      const record = await resolve(target, key, values.as, operator(), values.version);
      console.log(`${record.deliveryId} resolved as ${values.as} by ${operator()}: now ${record.state}`);
      return 0;
    }
    default:
      console.error(`unknown command "${command}"\n\n${USAGE}`);
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    console.error(red(message === MOTO_HINT ? message : `vendor-ingest: ${message}`));
    process.exit(1);
  },
);
