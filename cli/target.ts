import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DEAD_LETTER_SUFFIX } from '../functions/shared/deployment';
import { filterPrefixOf, segmentsOf } from '../functions/shared/routes/match';
import { resourceNames } from '../lib/naming';
import { StackOutput } from '../lib/stack-outputs';
import { type AwsClients, awsClients } from '../local/aws';
import { LedgerAdmin } from './ledger-admin';

/**
 * What the operator CLI acts on: a deployed stack, found by name and read from its CloudFormation
 * outputs. The local pipeline is one too (deployed onto the embedded AWS), so every command takes
 * the same path for both.
 */

export interface QueueRef {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
  readonly dlqName: string;
  readonly dlqUrl: string;
  readonly dlqArn: string;
}

export interface IntakeQueueRef extends QueueRef {
  readonly routeId: string;
}

/** Where everything lives: enough to drop files, read the ledger and move DLQ messages. */
export interface PipelineResources {
  readonly bucket: string;
  readonly stateTable: string;
  readonly intake: readonly IntakeQueueRef[];
  readonly completion: QueueRef;
  /** Key prefix of the result documents and vendor error files in the bucket. */
  readonly resultsPrefix: string;
  /** The queue receiving every outcome event, when the stage has one (`events.queue`). */
  readonly eventsQueueUrl?: string;
}

/** A route as the CLI needs it: where its files go and how keys match. */
export interface TargetRoute {
  readonly id: string;
  readonly prefix: string;
  readonly vendor: string;
  readonly filterPrefix: string;
  readonly segments: readonly string[];
  /** The route's options, when the stack's `Routes` output carries them. */
  readonly options?: Readonly<Record<string, unknown>>;
}

export interface Target {
  /** `local` for a stack on a custom endpoint (the embedded AWS), `aws` for a real account. */
  readonly kind: 'local' | 'aws';
  readonly description: string;
  readonly stackName: string;
  readonly stage: string;
  readonly clients: AwsClients;
  readonly resources: PipelineResources;
  readonly routes: readonly TargetRoute[];
  readonly ledger: LedgerAdmin;
}

/** The stack output holding route id → `{ prefix, vendor, options? }` (see lib/vendor-ingest-stack.ts). */
interface RoutesOutput {
  readonly [routeId: string]: {
    readonly prefix: string;
    readonly vendor: string;
    readonly options?: Readonly<Record<string, unknown>>;
  };
}

function queueRef(baseUrl: string, arnPrefix: string, name: string): QueueRef {
  const dlqName = `${name}${DEAD_LETTER_SUFFIX}`;
  return {
    name,
    url: `${baseUrl}/${name}`,
    arn: `${arnPrefix}:${name}`,
    dlqName,
    dlqUrl: `${baseUrl}/${dlqName}`,
    dlqArn: `${arnPrefix}:${dlqName}`,
  };
}

/**
 * A deployed stack from its outputs: the stage and routes it was synthesized with, its bucket,
 * table and queues. `clients` decide where it is (a region of an account, or an endpoint).
 */
export async function stackTarget(clients: AwsClients, stackName: string): Promise<Target> {
  const out = await clients.cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
  const stack = out.Stacks?.[0];
  if (!stack) throw new Error(`no stack ${stackName}`);
  const outputs = new Map((stack.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  const need = (name: string) => {
    const value = outputs.get(name);
    if (!value) throw new Error(`stack ${stackName} has no output ${name}: is it a vendor-ingest stack?`);
    return value;
  };
  const stage = need(StackOutput.Stage);
  const instance = outputs.get(StackOutput.Instance) || undefined;
  const names = resourceNames(stage, instance);
  const completionUrl = need(StackOutput.CompletionQueueUrl);
  const baseUrl = completionUrl.slice(0, completionUrl.lastIndexOf('/'));
  const [, , account = ''] = new URL(completionUrl).pathname.split('/');
  const arnPrefix = `arn:aws:sqs:${clients.region}:${account}`;
  const routesOutput = JSON.parse(need(StackOutput.Routes)) as RoutesOutput;
  const routes: TargetRoute[] = Object.entries(routesOutput).map(([id, r]) => ({
    id,
    prefix: r.prefix,
    vendor: r.vendor,
    filterPrefix: filterPrefixOf(r.prefix),
    segments: segmentsOf(r.prefix),
    ...(r.options ? { options: r.options } : {}),
  }));
  const resources: PipelineResources = {
    bucket: need(StackOutput.IngestBucketName),
    stateTable: need(StackOutput.StateTableName),
    intake: routes.map((r) => ({ ...queueRef(baseUrl, arnPrefix, names.intakeQueue(r.id)), routeId: r.id })),
    completion: queueRef(baseUrl, arnPrefix, names.completionQueue),
    resultsPrefix: outputs.get(StackOutput.ResultsPrefix) || '_results/',
    ...(outputs.get(StackOutput.EventsQueueUrl)
      ? { eventsQueueUrl: outputs.get(StackOutput.EventsQueueUrl) }
      : {}),
  };
  return {
    kind: clients.endpoint ? 'local' : 'aws',
    description: clients.endpoint
      ? `stack ${stackName} on ${clients.endpoint}`
      : `stack ${stackName} (${clients.region})`,
    stackName,
    stage,
    clients,
    resources,
    routes,
    ledger: new LedgerAdmin({
      doc: clients.doc,
      tableName: resources.stateTable,
      retentionDays: Number(outputs.get(StackOutput.LedgerRetentionDays) ?? '') || undefined,
    }),
  };
}

/** What `npm start` records so that commands in another terminal find the running local pipeline. */
export interface LocalStateFile {
  readonly endpoint: string;
  readonly region: string;
  readonly stackName: string;
  readonly sandboxUrl: string;
  readonly pid: number;
}

export function localStatePath(root: string): string {
  return path.join(root, '.local', 'pipeline.json');
}

/**
 * Whether `pid` is a live `vendor-ingest` process: signal 0 finds it, and where /proc exists its
 * command line runs cli/main.ts (a pid reused by another program after a crash does not).
 */
export function isPipelineProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const cmdline = `/proc/${pid}/cmdline`;
  if (!existsSync('/proc/self/cmdline')) return true;
  try {
    return /cli[/\\]main\.ts/.test(readFileSync(cmdline, 'utf8'));
  } catch {
    return false;
  }
}

/** The local pipeline recorded in the state file, if its process still runs. */
export function runningLocalPipeline(root: string): LocalStateFile | undefined {
  const file = localStatePath(root);
  if (!existsSync(file)) return undefined;
  let state: LocalStateFile;
  try {
    state = JSON.parse(readFileSync(file, 'utf8')) as LocalStateFile;
  } catch {
    return undefined;
  }
  return isPipelineProcess(state.pid) ? state : undefined;
}

interface LockContent {
  readonly pid: number;
  readonly startedAt: string;
}

function readLock(file: string): LockContent | undefined {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockContent>;
    return typeof value.pid === 'number'
      ? { pid: value.pid, startedAt: String(value.startedAt ?? '') }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One `npm start` per clone: a lock file (`.local/pipeline.lock`) created exclusively with this
 * process's pid, taken before anything starts and removed on exit. A lock whose process is gone
 * (a crash, a kill -9, a reboot) is stale and taken over; one whose process runs refuses the start.
 * Returns the release function (also run on process exit).
 */
export function acquireLocalLock(root: string): () => void {
  const file = path.join(root, '.local', 'pipeline.lock');
  mkdirSync(path.dirname(file), { recursive: true });
  const mine = JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(file, mine, { flag: 'wx' });
      const release = () => {
        if (readLock(file)?.pid === process.pid) rmSync(file, { force: true });
        process.off('exit', release);
      };
      process.on('exit', release);
      return release;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const held = readLock(file);
    if (held && isPipelineProcess(held.pid)) {
      const state = runningLocalPipeline(root);
      throw new Error(
        `a local pipeline is already running from this clone (pid ${held.pid}, started ${held.startedAt}${state ? `, AWS endpoint ${state.endpoint}` : ''}). ` +
          'Stop it first (Ctrl-C in its terminal), or use that one: every vendor-ingest command in this clone talks to it.',
      );
    }
    // Stale: move it aside, and make sure what was moved is the stale lock just read (another start
    // may have broken it and taken the lock in between; then put that one back).
    const aside = `${file}.stale-${process.pid}`;
    try {
      renameSync(file, aside);
    } catch {
      continue;
    }
    const moved = readLock(aside);
    if (moved && held && moved.pid !== held.pid) renameSync(aside, file);
    else rmSync(aside, { force: true });
  }
  throw new Error(`could not take ${path.relative(root, file)}: another start is taking it; try again`);
}

export function writeLocalState(root: string, state: LocalStateFile): void {
  mkdirSync(path.dirname(localStatePath(root)), { recursive: true });
  writeFileSync(localStatePath(root), `${JSON.stringify(state, null, 2)}\n`);
}

export function removeLocalState(root: string): void {
  rmSync(localStatePath(root), { force: true });
}

/** The local pipeline started by `npm start` (its stack on the embedded AWS). */
export async function localTarget(root: string): Promise<Target> {
  const state = runningLocalPipeline(root);
  if (!state) {
    throw new Error(
      'no local pipeline is running: start it with `npm start` (or pass --stack <name> for a deployed one)',
    );
  }
  return stackTarget(awsClients(state.endpoint, state.region), state.stackName);
}
