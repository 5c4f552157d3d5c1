import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { ConsoleServer } from '../console/server';
import { DeliveryState } from '../functions/shared/state/ledger';
import { PROJECT_ROOT } from '../lib/config/stage-config';
import { awsClients } from '../local/aws';
import { MOTO_HINT } from '../local/moto';
import type { LocalPipeline } from '../local/pipeline';
import {
  bold,
  dim,
  fitColumns,
  formatBytes,
  green,
  LiveTerminal,
  red,
  table,
  terminalColumns,
  Watcher,
} from '../local/ui';
import { type Actor, logActor, operatorActionsLog, recordAction } from './audit';
import {
  DEFAULT_PART_SIZE,
  deliveries,
  dlqDelete,
  dlqList,
  dlqPurge,
  dlqs,
  drop,
  keyFor,
  NotFoundError,
  type OutcomeEvent,
  readEvents,
  redrive,
  redriveMessage,
  replay,
  resolve,
  resultsOf,
  status,
  waitingNote,
} from './operations';
import { operator } from './operator';
import {
  acquireLocalLock,
  localTarget,
  removeLocalState,
  stackTarget,
  type Target,
  writeLocalState,
} from './target';

/**
 * The operator CLI. Every command is one entry of {@link COMMANDS}: its usage, help and options,
 * and what it runs (the functions of operations.ts, which the console calls too). A new command
 * (say `events`) is one more entry; `--json` is the convention for machine-readable output.
 */

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;

interface Command {
  /** One or two words: `drop`, `dlq list`. */
  readonly name: string;
  readonly usage: string;
  readonly summary: string;
  readonly help: string;
  readonly options: Options;
  /** Acts on a stack: takes --stack/--region/--endpoint. */
  readonly target?: boolean;
  run(values: Values, args: string[]): Promise<number>;
}

const TARGET_OPTIONS: Options = {
  stack: { type: 'string' },
  region: { type: 'string' },
  endpoint: { type: 'string' },
};

const TARGET_HELP = `Target: the local pipeline started by \`npm start\` in this clone (found from the clone the CLI
lives in, whatever the current directory), or a deployed stack:
  --stack NAME           a deployed stack (VendorIngest-<stage>), read from its CloudFormation outputs,
                         with the AWS credentials of the environment
  --region R             its region (default $AWS_REGION)
  --endpoint URL         a stack on another AWS endpoint (another moto, LocalStack)`;

const LOCAL_OPTIONS: Options = {
  endpoint: { type: 'string' },
  'sandbox-port': { type: 'string' },
  'job-duration-ms': { type: 'string' },
};

const LOCAL_HELP = `  --endpoint URL         use this AWS endpoint instead of starting moto (it must run local/moto_server.py)
  --sandbox-port N       vendor sandbox port (default: a free one)
  --job-duration-ms N    how long sandbox vendor jobs take (default 3000)`;

const EXAMPLES = path.join(PROJECT_ROOT, 'examples');

/** A usage mistake: exit code 2 and the command's usage. */
class UsageError extends Error {}

async function targetFor(values: Values): Promise<Target> {
  if (typeof values.stack === 'string') {
    const endpoint = typeof values.endpoint === 'string' ? values.endpoint : undefined;
    const region =
      (values.region as string | undefined) ??
      process.env.AWS_REGION ??
      process.env.AWS_DEFAULT_REGION ??
      (endpoint ? 'us-east-1' : undefined);
    if (!region) throw new UsageError('give --region (or set AWS_REGION) for --stack');
    return stackTarget(awsClients(endpoint, region), values.stack);
  }
  if (values.endpoint !== undefined) throw new UsageError('--endpoint goes with --stack NAME');
  return localTarget(PROJECT_ROOT);
}

/** The CLI acting on a target: its actions are appended to the operator-actions log (cli/audit.ts). */
function cliActor(target: Target): Actor {
  return logActor(operatorActionsLog(PROJECT_ROOT), target.description, operator(), 'cli');
}

function int(values: Values, name: string, fallback: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} takes a whole number, not "${raw}"`);
  return n;
}

/** Asks for a yes on a terminal; without one (a pipe, CI) the caller must have passed --yes. */
async function confirmed(question: string, values: Values): Promise<boolean> {
  if (values.yes) return true;
  if (!process.stdin.isTTY)
    throw new UsageError(`${question} — stdin is not a terminal to ask on: pass --yes to confirm`);
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

function json(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

function banner(p: LocalPipeline, consoleServer: ConsoleServer | undefined): string {
  const routes = table(
    ['prefix', 'route', 'vendor'],
    p.routes.map((r) => [r.prefix, r.id, r.vendor]),
  );
  const sample = p.routes.find((r) => r.segments.length === 0) ?? p.routes[0];
  const key = `${sample?.prefix ?? ''}my-file.csv`;
  return [
    bold('vendor-ingest is running locally'),
    `  stack           ${p.stack.stackName}: ${p.stack.resourceCount} resources deployed in ${p.stack.deploySeconds.toFixed(1)} s`,
    ...(Object.keys(p.stack.notEmulated).length > 0
      ? [
          dim(
            `                  not emulated: ${Object.entries(p.stack.notEmulated)
              .map(([type, n]) => `${type} ×${n}`)
              .join(', ')}`,
          ),
        ]
      : []),
    ...(consoleServer ? [`  console         ${bold(consoleServer.url)}`] : []),
    `  embedded AWS    ${p.endpoint} (moto, region ${p.clients.region})`,
    `  ingest bucket   s3://${p.resources.bucket}`,
    `  vendor sandbox  ${p.sandbox.url}   (calls: ${p.sandbox.url}/_sandbox/calls)`,
    `  function logs   ${path.relative(process.cwd(), p.logFile) || p.logFile}`,
    '',
    routes,
    '',
    'Drop a file (any terminal, any directory once `npm link` has run):',
    `  vendor-ingest drop ./my-file.csv --key ${key}`,
    '  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local',
    `  aws s3 cp ./my-file.csv s3://${p.resources.bucket}/${key} \\`,
    `    --endpoint-url ${p.endpoint} --region ${p.clients.region}`,
    'Then: vendor-ingest status <key> · dlq list · redrive · replay <key> · console      Ctrl-C stops everything.',
    '',
  ].join('\n');
}

function watcher(): Watcher {
  if (process.stdout.isTTY) {
    const terminal = new LiveTerminal(process.stdout);
    return new Watcher(terminal.line, { progress: terminal.progress });
  }
  return new Watcher((line) => console.log(line));
}

// What only some commands need (CDK, esbuild, the sandbox) is imported when they run, so help and the
// operate commands start quickly.
const startConsole: typeof import('../console/server').startConsole = async (...args) =>
  (await import('../console/server')).startConsole(...args);

async function startPipeline(values: Values, w: Watcher): Promise<LocalPipeline> {
  const { startLocalPipeline } = await import('../local/pipeline');
  const pipeline = await startLocalPipeline({
    awsEndpoint: values.endpoint as string | undefined,
    sandbox: {
      port: int(values, 'sandbox-port', 0),
      jobDurationMs: int(values, 'job-duration-ms', 3000),
    },
    progressEveryBytes: 1024 * 1024,
    logDir: path.join(PROJECT_ROOT, '.local', 'logs'),
  });
  pipeline.events.on('log', (line) => w.handle(line));
  return pipeline;
}

/** Runs until SIGINT/SIGTERM, then `stop` and exit 0. */
function untilSignal(stop: () => Promise<void>): Promise<number> {
  return new Promise((resolveExit) => {
    const onSignal = () => {
      console.log(dim('\nstopping…'));
      stop().then(
        () => resolveExit(0),
        () => resolveExit(1),
      );
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}

const STATES = Object.values(DeliveryState);

const COMMANDS: readonly Command[] = [
  {
    name: 'start',
    usage: 'start [--demo] [--console-port N | --no-console] [local options]',
    summary: 'run the whole pipeline locally until Ctrl-C, with its console',
    help: `Deploys the stack onto an embedded AWS (moto) with the vendor sandbox, runs both functions against
it, follows every file in the terminal and serves the console (its URL is in the banner). One per clone:
a second start is refused while the first runs.

Options:
  --demo                 also drop the example files and print a summary table
  --console-port N       console port (default: a free one); --no-console to serve none
${LOCAL_HELP}`,
    options: {
      ...LOCAL_OPTIONS,
      demo: { type: 'boolean' },
      'console-port': { type: 'string' },
      'no-console': { type: 'boolean' },
    },
    async run(values) {
      const release = acquireLocalLock(PROJECT_ROOT);
      const w = watcher();
      let pipeline: LocalPipeline;
      try {
        pipeline = await startPipeline(values, w);
      } catch (error) {
        release();
        throw error;
      }
      let consoleServer: ConsoleServer | undefined;
      if (!values['no-console']) {
        consoleServer = await startConsole(pipeline.target, {
          port: int(values, 'console-port', 0),
          operator: operator(),
          auditFile: operatorActionsLog(PROJECT_ROOT),
          log: (line) => w.note(line),
        });
      }
      writeLocalState(PROJECT_ROOT, {
        endpoint: pipeline.endpoint,
        region: pipeline.clients.region,
        stackName: pipeline.stack.stackName,
        sandboxUrl: pipeline.sandbox.url,
        pid: process.pid,
      });
      console.log(banner(pipeline, consoleServer));
      const done = untilSignal(async () => {
        removeLocalState(PROJECT_ROOT);
        await consoleServer?.close();
        await pipeline.stop();
        release();
      });
      if (values.demo) {
        const { demoTable, runDemo } = await import('../local/demo');
        const rows = await runDemo(pipeline, pipeline.target, w, EXAMPLES);
        console.log(`\n${demoTable(rows)}\n`);
      }
      return done;
    },
  },
  {
    name: 'demo',
    usage: 'demo [local options]',
    summary: 'deliver every example file, print a summary, exit 0 only if all succeeded',
    help: `Starts its own local pipeline (as start does, without the console), drops examples/, waits until
each file reaches its vendor's final state, prints a table and stops. It is this clone's local pipeline
while it runs, as start's is: refused while start (or another demo) runs, and the operate commands
(status, dlq list, console) talk to it.

Options:
${LOCAL_HELP}`,
    options: LOCAL_OPTIONS,
    async run(values) {
      // The same lock as start: both rotate .local/logs/functions.log when they start, so a demo beside
      // a running start (or another demo) would rotate its live log. Holding the lock, the demo is this
      // clone's local pipeline and says so in .local/pipeline.json, as start does.
      const release = acquireLocalLock(PROJECT_ROOT);
      const w = watcher();
      const { demoTable, runDemo } = await import('../local/demo');
      let pipeline: LocalPipeline;
      try {
        pipeline = await startPipeline(values, w);
      } catch (error) {
        release();
        throw error;
      }
      writeLocalState(PROJECT_ROOT, {
        endpoint: pipeline.endpoint,
        region: pipeline.clients.region,
        stackName: pipeline.stack.stackName,
        sandboxUrl: pipeline.sandbox.url,
        pid: process.pid,
      });
      let stopping: Promise<void> | undefined;
      const stop = () => {
        stopping ??= (async () => {
          removeLocalState(PROJECT_ROOT);
          await pipeline.stop();
          release();
        })();
        return stopping;
      };
      const interrupted = untilSignal(stop).then(() => 130);
      try {
        console.log(
          dim(
            `demo: pipeline up (moto ${pipeline.endpoint}, sandbox ${pipeline.sandbox.url}); dropping examples/`,
          ),
        );
        const rows = await Promise.race([runDemo(pipeline, pipeline.target, w, EXAMPLES), interrupted]);
        if (typeof rows === 'number') return rows;
        console.log(`\n${demoTable(rows)}\n`);
        const failed = rows.filter((r) => !r.ok).length;
        console.log(
          failed === 0
            ? green(`all ${rows.length} files delivered and completed`)
            : red(`${failed} of ${rows.length} files did not succeed`),
        );
        return failed === 0 ? 0 : 1;
      } finally {
        await stop();
      }
    },
  },
  {
    name: 'console',
    usage: 'console [--port N] [target]',
    summary: 'serve the web console for the local pipeline or a deployed stack',
    help: `Serves the console on 127.0.0.1 only and prints its URL, which carries this run's access token
(open it as printed). Deliveries, DLQs (redrive, delete, replay, resolve), vendor charts, live.
Actions are recorded with the operator name (${operator()}; set VENDOR_INGEST_OPERATOR to change it).

Options:
  --port N               port (default: a free one)

${TARGET_HELP}`,
    options: { port: { type: 'string' } },
    target: true,
    async run(values) {
      const target = await targetFor(values);
      const server = await startConsole(target, {
        port: int(values, 'port', 0),
        operator: operator(),
        auditFile: operatorActionsLog(PROJECT_ROOT),
        log: (line) => console.log(line),
      });
      console.log(
        `${bold('vendor-ingest console')} for ${target.description}\n  ${bold(server.url)}\nCtrl-C stops it.`,
      );
      return untilSignal(() => server.close());
    },
  },
  {
    name: 'drop',
    usage: 'drop <file> [--key KEY | --route ID] [--part-size MIB] [target]',
    summary: 'upload a file to the ingest bucket',
    help: `Uploads <file> under KEY (or the route's prefix + the file name). The key is checked first: a key
under no route, or whose segments the vendor's options refuse (clevertap/{catalogId}/ takes digits), is
refused here instead of being parked by the pipeline. Files up to the part size go in one PUT with
their SHA-256 as a full-object checksum; larger ones as a multipart upload, each part checksummed.

Options:
  --key KEY              object key (e.g. cleartax/sales/march.csv)
  --route ID             the route's prefix + the file name (routes without {segments})
  --part-size MIB        multipart part size in MiB (default ${DEFAULT_PART_SIZE / 1024 / 1024}, at least 5)

${TARGET_HELP}`,
    options: { key: { type: 'string' }, route: { type: 'string' }, 'part-size': { type: 'string' } },
    target: true,
    async run(values, args) {
      const file = args[0];
      if (!file || args.length > 1) throw new UsageError('give one file to drop');
      const target = await targetFor(values);
      const key = keyFor(target, file, { key: values.key as string, route: values.route as string });
      const partSizeBytes = int(values, 'part-size', DEFAULT_PART_SIZE / 1024 / 1024) * 1024 * 1024;
      const out = await drop(target, file, key, {
        partSizeBytes,
        onProgress: process.stderr.isTTY
          ? (sent, total) =>
              process.stderr.write(
                `\r${formatBytes(sent)} / ${formatBytes(total)}${sent === total ? '\n' : ''}`,
              )
          : undefined,
      });
      console.log(
        `dropped ${formatBytes(out.bytes)} at s3://${target.resources.bucket}/${out.key}${out.versionId ? ` (version ${out.versionId})` : ''}${out.upload === 'multipart' ? ` in ${out.parts} parts` : ''}`,
      );
      return 0;
    },
  },
  {
    name: 'status',
    usage: 'status [KEY] [--version V] [--route ID | --vendor V] [--state S] [--limit N] [--json] [target]',
    summary: 'ledger entries of a key (every version, with history), or recent deliveries',
    help: `With KEY: every recorded version of the key, newest first, and the newest one's history. Without:
the most recent deliveries across routes (from the ledger's route index), optionally filtered.
Exits 1 when KEY has no delivery recorded.

Options:
  --version V            only this version (S3 version id or ledger sort key)
  --route ID, --vendor V, --state S (${STATES.join(', ')}), --limit N (default 50)
  --json                 the ledger records as JSON

${TARGET_HELP}`,
    options: {
      version: { type: 'string' },
      route: { type: 'string' },
      vendor: { type: 'string' },
      state: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
    },
    target: true,
    async run(values, args) {
      const state = values.state as DeliveryState | undefined;
      if (state && !STATES.includes(state)) throw new UsageError(`--state is one of ${STATES.join(', ')}`);
      const target = await targetFor(values);
      const key = args[0];
      const records = key
        ? (await status(target, key)).filter(
            (r) => !values.version || r.versionId === values.version || r.sk === values.version,
          )
        : (
            await deliveries(target, {
              route: values.route as string | undefined,
              vendor: values.vendor as string | undefined,
              state,
              limit: int(values, 'limit', 50),
            })
          ).items;
      if (values.json) {
        json(records);
        return key && records.length === 0 ? 1 : 0;
      }
      if (records.length === 0) {
        console.log(key ? `nothing recorded for ${key}` : 'no deliveries recorded yet');
        return key ? 1 : 0;
      }
      // A version waiting for its vendor says so (its vendor account's breaker is open).
      const breakers = await target.ledger.listBreakers();
      const waiting = records.flatMap((r) => {
        const note = waitingNote(r, breakers);
        return note ? [`${r.key} (${r.versionId ?? r.sk}): ${note}`] : [];
      });
      if (!key) {
        for (const line of waiting) console.log(line);
        console.log(
          table(
            ['key', 'state', 'route', 'vendor state', 'reason', 'dropped'],
            records.map((r) => [
              r.key,
              r.state,
              r.routeId ?? '-',
              r.vendorState ?? '-',
              r.reason ?? '-',
              r.createdAt.slice(0, 19).replace('T', ' '),
            ]),
            { middle: [0] },
          ),
        );
        return 0;
      }
      console.log(
        table(
          ['version', 'dropped', 'state', 'outcome', 'tries', 'vendor state', 'updated'],
          records.map((r) => [
            r.versionId ?? r.sk,
            r.createdAt.slice(0, 19).replace('T', ' '),
            r.state,
            r.outcome ?? '-',
            `${r.attempts ?? 0}/${r.completionAttempts ?? 0}`,
            r.vendorState ?? '-',
            r.updatedAt.slice(0, 19).replace('T', ' '),
          ]),
        ),
      );
      for (const line of waiting) console.log(line);
      const newest = records[0];
      if (newest) {
        const refs = Object.entries(newest.refs ?? {}).map(([k, v]) => `${k}=${v}`);
        console.log(
          [
            '',
            `newest version of ${newest.key} (${newest.routeId ?? '?'} → ${newest.vendor ?? '?'}):`,
            ...(refs.length > 0 ? [`  vendor ids  ${refs.join('  ')}`] : []),
            ...(newest.reason
              ? [`  reason      ${newest.reason}${newest.failedStep ? ` (in ${newest.failedStep})` : ''}`]
              : []),
            ...(newest.lastError ? [`  error       ${newest.lastError}`] : []),
            ...Object.entries(resultsOf(target, newest)).map(
              ([which, k]) =>
                `  ${which === 'document' ? 'result    ' : 'error file'}  s3://${newest.bucket}/${k}`,
            ),
            '  history',
            ...(newest.history ?? []).map((h) => `    ${h.at}  ${h.state}${h.note ? `  ${h.note}` : ''}`),
          ].join('\n'),
        );
      }
      return 0;
    },
  },
  {
    name: 'events',
    usage: 'events [--follow] [--take] [--json] [target]',
    summary: "the delivery outcome events (the stack's events queue)",
    help: `Prints the outcome events the pipeline announced (Delivery Succeeded / Failed / Needs Attention), read
from the stack's events queue: on in the local stage, "events": { "queue": true } elsewhere. Without
--take they stay in the queue for the next reader.

Options:
  --follow               keep waiting for new events until Ctrl-C (takes them)
  --take                 remove the events read from the queue
  --json                 one JSON event per line

${TARGET_HELP}`,
    options: { follow: { type: 'boolean' }, take: { type: 'boolean' }, json: { type: 'boolean' } },
    target: true,
    async run(values) {
      const target = await targetFor(values);
      const print = (events: readonly OutcomeEvent[]) => {
        for (const e of events) {
          if (values.json) {
            console.log(JSON.stringify(e));
            continue;
          }
          const d = e.detail;
          const paint = d.outcome === 'succeeded' ? green : d.outcome === 'failed' ? red : bold;
          const stats = d.vendorJob?.stats
            ? `  rows ${d.vendorJob.stats.accepted ?? '?'} accepted / ${d.vendorJob.stats.rejected ?? '?'} rejected`
            : '';
          console.log(
            [
              `${(d.timings?.decidedAt ?? '').replace('T', ' ').slice(0, 19)}  ${paint(e['detail-type'])}  ${d.key}`,
              `  ${d.route ?? '?'} → ${d.vendor ?? '?'}${d.vendorId ? `  ${d.vendorId}` : ''}${d.errorCode ? `  ${d.errorCode}` : ''}${stats}`,
              ...(d.errorMessage ? [`  ${d.errorMessage}`] : []),
              `  result ${d.resultDocument}${d.errorFile ? `  errors ${d.errorFile}` : ''}`,
            ].join('\n'),
          );
        }
      };
      if (!values.follow) {
        const events = await readEvents(target, { take: Boolean(values.take) });
        if (events.length === 0 && !values.json) console.log(dim('no events waiting in the events queue'));
        print(events);
        return 0;
      }
      for (;;) print(await readEvents(target, { take: true, waitSeconds: 20 }));
    },
  },
  {
    name: 'dlq list',
    usage: 'dlq list [--queue ROUTE_ID|completion] [--full] [--json] [target]',
    summary: 'every message in every dead-letter queue, with its reason',
    help: `Lists DLQ messages without removing them: queue, the object key, errorCode, retryable, failedAt and
errorMessage (cut to the terminal), and its message id; --full prints each message whole, body and attributes.

Options:
  --queue Q              one DLQ: a route id or completion
  --full                 whole messages
  --json                 the messages as JSON (always whole)

${TARGET_HELP}`,
    options: { queue: { type: 'string' }, full: { type: 'boolean' }, json: { type: 'boolean' } },
    target: true,
    async run(values) {
      const target = await targetFor(values);
      const messages = await dlqList(target, values.queue as string | undefined);
      if (values.json) {
        json(messages);
        return 0;
      }
      if (messages.length === 0) {
        console.log(
          green(values.queue ? `the ${values.queue} DLQ is empty` : 'every dead-letter queue is empty'),
        );
        return 0;
      }
      if (values.full) {
        for (const m of messages) {
          console.log(
            [
              bold(`${m.queue}  ${m.messageId}`),
              `  subject     ${m.subject}`,
              `  errorCode   ${m.errorCode}   retryable ${m.retryable || '-'}   failedAt ${m.failedAt || '-'}`,
              `  errorMessage ${m.errorMessage}`,
              ...Object.entries(m.attributes)
                .filter(([k]) => !['errorCode', 'errorMessage', 'retryable', 'failedAt'].includes(k))
                .map(([k, v]) => `  ${k.padEnd(11)} ${v}`),
              `  body        ${m.body}`,
              '',
            ].join('\n'),
          );
        }
        return 0;
      }
      // One block per message: the key whole (it is what an operator acts on), the rest cut to the width.
      const width = terminalColumns();
      for (const m of messages) {
        console.log(
          [
            fitColumns(
              `${bold(m.errorCode)}  ${m.queue}  retryable=${m.retryable || '-'}  ${(m.failedAt || m.sentAt || '').slice(0, 19).replace('T', ' ')}  id ${m.messageId}`,
              width,
            ),
            `  ${m.subject}`,
            fitColumns(`  ${m.errorMessage || '(no message)'}`, width),
          ].join('\n'),
        );
      }
      console.log(
        dim(
          `${messages.length} message${messages.length === 1 ? '' : 's'}; --full for whole messages · dlq delete <id> · redrive --queue Q --message <id>`,
        ),
      );
      return 0;
    },
  },
  {
    name: 'dlq delete',
    usage: 'dlq delete <MESSAGE_ID> [--queue Q] [--yes] [target]',
    summary: 'delete one DLQ message (asks first)',
    help: `Deletes one message from a DLQ: what it was about is not retried. MESSAGE_ID as \`dlq list --full\`
prints it (the first characters shown by \`dlq list\` are not enough). Asks for confirmation.

Options:
  --queue Q              the DLQ holding it (default: look in each)
  --yes                  do not ask

${TARGET_HELP}`,
    options: { queue: { type: 'string' }, yes: { type: 'boolean' } },
    target: true,
    async run(values, args) {
      const id = args[0];
      if (!id || args.length > 1) throw new UsageError('give one message id');
      const target = await targetFor(values);
      const queue = values.queue as string | undefined;
      const queues = dlqs(target, queue);
      if (!(await confirmed(`Delete DLQ message ${id}?`, values))) return 1;
      const { result } = await recordAction(
        cliActor(target),
        'delete',
        `${queue ? `${queue} ` : ''}DLQ message ${id}`,
        async () => {
          for (const d of queues) {
            try {
              return { m: await dlqDelete(target, d.id, id), label: d.label };
            } catch (error) {
              if (!(error instanceof NotFoundError)) throw error;
            }
          }
          throw new NotFoundError(`no message ${id} in ${queue ? `the ${queue} DLQ` : 'any DLQ'}`);
        },
        ({ m, label }) => `deleted ${m.messageId} (${m.subject}, ${m.errorCode}) from the ${label} DLQ`,
      );
      console.log(result);
      return 0;
    },
  },
  {
    name: 'dlq purge',
    usage: 'dlq purge [--queue Q] [--yes] [target]',
    summary: 'delete every message of every DLQ, or of one (asks first)',
    help: `Empties DLQs (SQS PurgeQueue; AWS allows one purge per queue a minute). Asks for confirmation.

Options:
  --queue Q              only this DLQ: a route id or completion
  --yes                  do not ask

${TARGET_HELP}`,
    options: { queue: { type: 'string' }, yes: { type: 'boolean' } },
    target: true,
    async run(values) {
      const target = await targetFor(values);
      const which = values.queue as string | undefined;
      dlqs(target, which);
      if (
        !(await confirmed(
          `Purge ${which ? `the ${which} DLQ` : 'every DLQ'} of ${target.description}?`,
          values,
        ))
      )
        return 1;
      const { value } = await recordAction(
        cliActor(target),
        'purge',
        which ? `the ${which} DLQ` : 'every DLQ',
        () => dlqPurge(target, which),
        (results) => results.map((r) => `${r.queue}: purged (about ${r.purged} messages)`).join('; '),
      );
      for (const r of value) console.log(`${r.queue}: purged (about ${r.purged} messages)`);
      return 0;
    },
  },
  {
    name: 'redrive',
    usage: 'redrive [--queue ROUTE_ID|completion] [--message ID] [target]',
    summary: 'move DLQ messages back to their source queue',
    help: `Moves what the DLQs hold now back to their source queues (SQS's move task where the endpoint has
it, message by message otherwise). A file that fails again is parked again and stays parked: a redrive
never sends a message round twice.

Options:
  --queue Q              one DLQ: a route id or completion
  --message ID           only this message (needs --queue)

${TARGET_HELP}`,
    options: { queue: { type: 'string' }, message: { type: 'string' } },
    target: true,
    async run(values) {
      const target = await targetFor(values);
      const queue = values.queue as string | undefined;
      const message = values.message as string | undefined;
      if (message) {
        if (!queue) throw new UsageError('--message needs --queue');
        const { result } = await recordAction(
          cliActor(target),
          'redrive',
          `${queue} DLQ message ${message}`,
          () => redriveMessage(target, queue, message),
          (m) => `${m.messageId} (${m.subject}) moved back to the ${m.queue} queue`,
        );
        console.log(result);
        return 0;
      }
      const line = (r: Awaited<ReturnType<typeof redrive>>[number]) => {
        const moved = r.moved === 'started' ? 'move task started' : `${r.moved} moved back`;
        const left = r.left > 0 ? `, ${r.left} in the DLQ now (parked since the redrive began)` : '';
        return `${r.queue}: ${moved}${left}`;
      };
      const { value } = await recordAction(
        cliActor(target),
        'redrive',
        queue ? `the ${queue} DLQ` : 'every DLQ',
        () => redrive(target, queue),
        (results) => results.map(line).join('; '),
      );
      for (const r of value) console.log(`${line(r)}${r.fallback ? dim(` (${r.fallback})`) : ''}`);
      return 0;
    },
  },
  {
    name: 'replay',
    usage: 'replay KEY [--version V] [target]',
    summary: 'deliver a version again (an explicit, logged operator action)',
    help: `Resets the version's ledger entry to RECEIVED (history kept, your operator name recorded) and sends
its notification again: the one way to deliver a version twice.

Options:
  --version V            S3 version id or ledger sort key (default: the newest)

${TARGET_HELP}`,
    options: { version: { type: 'string' } },
    target: true,
    async run(values, args) {
      const key = args[0];
      if (!key || args.length > 1) throw new UsageError('give one KEY');
      const target = await targetFor(values);
      const { result } = await recordAction(
        cliActor(target),
        'replay',
        key,
        () => replay(target, key, operator(), values.version as string | undefined),
        (record) =>
          `replay of ${record.deliveryId} requested by ${operator()} (replay #${record.replays ?? 1}); it is back in RECEIVED and its notification is queued`,
      );
      console.log(result);
      return 0;
    },
  },
  {
    name: 'resolve',
    usage: 'resolve KEY --as completed|retry [--version V] [target]',
    summary: 'settle a COMPLETION_UNCERTAIN delivery',
    help: `After checking at the vendor whether the completion happened: --as completed records it as done;
--as retry calls the vendor's completion again. Your operator name goes into the ledger history.

Options:
  --as completed|retry
  --version V            S3 version id or ledger sort key (default: the newest)

${TARGET_HELP}`,
    options: { as: { type: 'string' }, version: { type: 'string' } },
    target: true,
    async run(values, args) {
      const key = args[0];
      if (!key || args.length > 1) throw new UsageError('give one KEY');
      if (values.as !== 'completed' && values.as !== 'retry')
        throw new UsageError('give --as completed or --as retry');
      const target = await targetFor(values);
      const as = values.as;
      const { result } = await recordAction(
        cliActor(target),
        `resolve as ${as}`,
        key,
        () => resolve(target, key, as, operator(), values.version as string | undefined),
        (record) => `${record.deliveryId} resolved as ${as} by ${operator()}: now ${record.state}`,
      );
      console.log(result);
      return 0;
    },
  },
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `vendor-ingest — deliver files dropped in S3 to SaaS vendors

Usage: vendor-ingest <command> [options]        vendor-ingest <command> --help for a command's help

Local pipeline (embedded AWS on moto + the vendor sandbox):
${COMMANDS.filter((c) => ['start', 'demo'].includes(c.name))
  .map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`)
  .join('\n')}

Operate (the local pipeline of this clone, or a deployed stack with --stack NAME [--region R]):
${COMMANDS.filter((c) => !['start', 'demo'].includes(c.name))
  .map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`)
  .join('\n')}
`;
}

function commandHelp(c: Command): string {
  return `Usage: vendor-ingest ${c.usage}\n\n${c.help}\n`;
}

/** The command named by the first one or two positionals, and the rest of the arguments. */
function findCommand(argv: readonly string[]): { command?: Command; group?: string; rest: string[] } {
  const [one, second] = argv;
  const two = second && !second.startsWith('-') ? `${one} ${second}` : undefined;
  const byTwo = COMMANDS.find((c) => c.name === two);
  const found = byTwo ?? COMMANDS.find((c) => c.name === one);
  if (!found) {
    const group = one && COMMANDS.some((c) => c.name.startsWith(`${one} `)) ? one : undefined;
    return { group, rest: [...argv] };
  }
  const rest = [...argv];
  for (const word of found.name.split(' ')) rest.splice(rest.indexOf(word), 1);
  return { command: found, rest };
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv.length === 0) {
    console.error(usage());
    return 2;
  }
  if (argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    const { command, group } = findCommand(argv.slice(1));
    console.log(command ? commandHelp(command) : group ? groupHelp(group) : usage());
    return 0;
  }
  if (argv[0] === '--version') {
    console.log('vendor-ingest 0.1.0');
    return 0;
  }
  const { command, group, rest } = findCommand(argv);
  if (!command) {
    if (group) {
      const wantsHelp = rest.includes('--help') || rest.includes('-h');
      (wantsHelp ? console.log : console.error)(groupHelp(group));
      return wantsHelp ? 0 : 2;
    }
    console.error(`vendor-ingest: unknown command "${argv[0]}"\n\n${usage()}`);
    return 2;
  }
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: {
        ...command.options,
        ...(command.target ? TARGET_OPTIONS : {}),
        help: { type: 'boolean', short: 'h' },
      },
    }) as { values: Values; positionals: string[] };
  } catch (error) {
    console.error(`vendor-ingest ${command.name}: ${(error as Error).message}\n\n${commandHelp(command)}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(commandHelp(command));
    return 0;
  }
  try {
    return await command.run(parsed.values, parsed.positionals);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(
        `vendor-ingest ${command.name}: ${error.message}\n\nUsage: vendor-ingest ${command.usage}`,
      );
      return 2;
    }
    throw error;
  }
}

function groupHelp(group: string): string {
  const members = COMMANDS.filter((c) => c.name.startsWith(`${group} `));
  return `Usage: vendor-ingest ${group} <${members.map((c) => c.name.split(' ')[1]).join('|')}> …\n\n${members
    .map((c) => `  ${c.usage}\n      ${c.summary}`)
    .join('\n')}\n`;
}

// A reader that went away (`| head`, a pager quit) is not an error: stop writing, keep shutting down.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    console.error(red(message === MOTO_HINT ? message : `vendor-ingest: ${message}`));
    process.exit(1);
  },
);
