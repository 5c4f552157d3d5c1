import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateSecretCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { LedgerAdmin } from '../cli/ledger-admin';
import { type PipelineResources, stackTarget, type Target } from '../cli/target';
import { BUNDLED_ROUTES_FILE } from '../functions/shared/deployment';
import { Env } from '../functions/shared/env';
import { routesFromDocument } from '../functions/shared/routes/load';
import type { ResolvedRoute } from '../functions/shared/routes/schema';
import { type DeploymentConfig, loadDeploymentConfig } from '../lib/config/deployment-config';
import {
  PROJECT_ROOT,
  readJson,
  type StageConfig,
  StageConfigError,
  type StageConfigInput,
} from '../lib/config/stage-config';
import { StackOutput } from '../lib/stack-outputs';
import { type Sandbox, type SandboxOptions, startSandbox } from '../sandbox';
import { type AwsClients, awsClients, LOCAL_CREDENTIALS } from './aws';
import { type DeployedStack, deployStack, stackOutputs } from './deploy';
import { SqsEventSource } from './event-source';
import { FunctionPool, type InvokeOutcome } from './function-pool';
import { type DeployedFunction, loadDeployedFunction, loadEventSources } from './lambda-service';
import { RotatingLog } from './log-file';
import { type MotoServer, startMoto } from './moto';
import { SYNTH_CACHE_ENV, type SynthContext, synthesize } from './synth';

export { PROJECT_ROOT };

/** Without ScalingConfig Lambda scales SQS pollers up to about 1,250; the emulation runs a handful. */
const DEFAULT_POLLERS = 5;

/**
 * Test variants and local knobs on top of `config/stages/<stage>.json`. They reach the stack as CDK
 * context at synth (see lib/app.ts), never as edits to a template.
 */
export interface LocalOverrides {
  readonly dispatch?: Partial<StageConfigInput['dispatch']>;
  readonly completion?: Partial<StageConfigInput['completion']>;
  readonly retryBaseSeconds?: number;
  readonly retryMaxSeconds?: number;
  readonly vendorTimeoutMs?: number;
  /** How long a warm function keeps a secret, s. */
  readonly secretCacheSeconds?: number;
  /** Dispatch calls the vendor's completion itself (the stage default) or always queues it. */
  readonly completeInline?: boolean;
  /** First vendor status check after completion, s. */
  readonly statusPollFirstSeconds?: number;
  /** Stop following a vendor job after this long, s. */
  readonly statusPollMaxSeconds?: number;
  readonly ledgerRetentionDays?: number;
  /** Outage settings (horizon, breaker threshold and probe interval, wait delay). */
  readonly outage?: Partial<StageConfigInput['outage']>;
  readonly stallTimeoutSeconds?: number;
  /** Route options merged per route id (e.g. a smaller multipart threshold). */
  readonly routeOptions?: Readonly<Record<string, Record<string, unknown>>>;
  /** Extra route fields per route id (e.g. retryAmbiguousCompletion). */
  readonly routeFields?: Readonly<Record<string, Record<string, unknown>>>;
}

export interface LocalPipelineOptions {
  /** @default local */
  readonly stage?: string;
  readonly instance?: string;
  /** Use this AWS endpoint instead of starting moto (another moto, LocalStack). */
  readonly awsEndpoint?: string;
  readonly sandbox?: SandboxOptions;
  readonly overrides?: LocalOverrides;
  /** Route file to synthesize with instead of the stage's (absolute, or relative to the repository). */
  readonly routesFile?: string;
  /** Secrets by id; defaults to config/local-secrets.json. */
  readonly secrets?: Readonly<Record<string, unknown>>;
  /**
   * Where function logs go (one JSON line each, `functions.log`, rotated at start and by size);
   * default a temporary directory removed on exit.
   */
  readonly logDir?: string;
  /** Failpoint rules file (see functions/shared/failpoints.ts); tests write it at run time. */
  readonly failpointsFile?: string;
  /** Upload progress log interval in bytes (0 = off). */
  readonly progressEveryBytes?: number;
  /** Long-poll wait, seconds. */
  readonly pollWaitSeconds?: number;
  /** Reuse assemblies synthesized for the same context here. @default $VENDOR_INGEST_SYNTH_CACHE */
  readonly synthCacheDir?: string;
  /**
   * Run a stack already deployed on `awsEndpoint` (by `cdk deploy`, say) instead of synthesizing and
   * deploying one. The other options must describe how it was synthesized.
   */
  readonly attachTo?: string;
}

export interface FunctionLogLine {
  readonly fn: 'dispatch' | 'completion';
  readonly entry: Record<string, unknown>;
}

export interface LocalPipeline {
  readonly stage: string;
  readonly endpoint: string;
  readonly clients: AwsClients;
  /** What was deployed: stack name, resources, outputs, what the embedded AWS did not emulate. */
  readonly stack: Pick<DeployedStack, 'stackName' | 'outputs' | 'notEmulated' | 'templateTypes'> & {
    readonly resourceCount: number;
    readonly deploySeconds: number;
  };
  readonly resources: PipelineResources;
  /** The routes the deployed functions carry (their packaged routes.json). */
  readonly routes: readonly ResolvedRoute[];
  /** The operator CLI's view of the same stack. */
  readonly target: Target;
  readonly sandbox: Sandbox;
  readonly ledger: LedgerAdmin;
  readonly functions: { readonly dispatch: DeployedFunction; readonly completion: DeployedFunction };
  readonly pools: { readonly dispatch: FunctionPool; readonly completion: FunctionPool };
  readonly events: EventEmitter<{
    log: [FunctionLogLine];
    invoke: [{ fn: string; records: number; outcome: InvokeOutcome; failed: number }];
  }>;
  readonly logFile: string;
  /** The stage settings the stack was synthesized with. */
  readonly config: StageConfig;
  stop(): Promise<void>;
}

/** The synth context of a local run: the stage, the overrides as context, the sandbox's URL. */
export function synthContextFor(options: LocalPipelineOptions, sandboxUrl: string | undefined): SynthContext {
  const o = options.overrides ?? {};
  const stageOverrides: Record<string, unknown> = {
    ...(o.dispatch ? { dispatch: o.dispatch } : {}),
    ...(o.completion ? { completion: o.completion } : {}),
    ...(o.retryBaseSeconds !== undefined ? { retryBaseSeconds: o.retryBaseSeconds } : {}),
    ...(o.retryMaxSeconds !== undefined ? { retryMaxSeconds: o.retryMaxSeconds } : {}),
    ...(o.vendorTimeoutMs !== undefined ? { vendorTimeoutMs: o.vendorTimeoutMs } : {}),
    ...(o.secretCacheSeconds !== undefined ? { secretCacheSeconds: o.secretCacheSeconds } : {}),
    ...(o.completeInline !== undefined ? { completeInline: o.completeInline } : {}),
    ...(o.statusPollFirstSeconds !== undefined ? { statusPollFirstSeconds: o.statusPollFirstSeconds } : {}),
    ...(o.statusPollMaxSeconds !== undefined ? { statusPollMaxSeconds: o.statusPollMaxSeconds } : {}),
    ...(o.ledgerRetentionDays !== undefined ? { ledgerRetentionDays: o.ledgerRetentionDays } : {}),
    ...(o.outage ? { outage: o.outage } : {}),
    ...(o.stallTimeoutSeconds !== undefined ? { stallTimeoutSeconds: o.stallTimeoutSeconds } : {}),
    ...(options.routesFile ? { routesFile: path.resolve(PROJECT_ROOT, options.routesFile) } : {}),
  };
  // Test variants may shorten visibility below what AWS would accept; only the embedded AWS runs them.
  const visibility = [o.dispatch?.visibilityTimeoutSeconds, o.completion?.visibilityTimeoutSeconds];
  if (visibility.some((v) => v !== undefined)) stageOverrides.relaxedChecks = true;
  const routeIds = new Set([...Object.keys(o.routeOptions ?? {}), ...Object.keys(o.routeFields ?? {})]);
  const routeOverrides = Object.fromEntries(
    [...routeIds].map((id) => [
      id,
      { ...o.routeFields?.[id], ...(o.routeOptions?.[id] ? { options: o.routeOptions[id] } : {}) },
    ]),
  );
  return {
    stage: options.stage ?? 'local',
    ...(options.instance ? { instance: options.instance } : {}),
    ...(Object.keys(stageOverrides).length > 0 ? { stageOverrides } : {}),
    ...(routeIds.size > 0 ? { routeOverrides } : {}),
    ...(sandboxUrl ? { vendorSandboxUrl: sandboxUrl } : {}),
  };
}

/** Creates (or updates) each secret with its JSON value: the stack references them, as in AWS. */
async function putSecrets(clients: AwsClients, secrets: Readonly<Record<string, unknown>>): Promise<void> {
  for (const [name, value] of Object.entries(secrets)) {
    const SecretString = JSON.stringify(value);
    try {
      await clients.secrets.send(new CreateSecretCommand({ Name: name, SecretString }));
    } catch (error) {
      if ((error as { name?: string }).name !== 'ResourceExistsException') throw error;
      await clients.secrets.send(new PutSecretValueCommand({ SecretId: name, SecretString }));
    }
  }
}

/** What Lambda's runtime adds to a function's own environment; locally, also the endpoint. */
function runtimeEnvironment(
  fn: DeployedFunction,
  clients: AwsClients,
  local: Readonly<Record<string, string>>,
): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    AWS_REGION: clients.region,
    AWS_DEFAULT_REGION: clients.region,
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    [Env.LAMBDA_TASK_ROOT]: fn.codeDir,
    ...(clients.endpoint
      ? {
          AWS_ENDPOINT_URL: clients.endpoint,
          AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
          [Env.S3_FORCE_PATH_STYLE]: 'true',
        }
      : {}),
    ...local,
    // The function's own variables last: nothing local overrides what was deployed.
    ...fn.environment,
  };
}

/** Where the local pipeline reads its vendor credentials from. */
const LOCAL_SECRETS_FILE = 'config/local-secrets.json';

/**
 * Every configuration problem a local run would meet, found before anything starts and reported at
 * once, each naming its file: the stage file and the route file (as synth reports them), the local
 * secrets file, cdk.json, and a route whose secret the local secrets file lacks.
 */
export function checkLocalConfig(
  options: LocalPipelineOptions,
  sandboxUrl?: string,
  rootDir = PROJECT_ROOT,
): {
  deployment: DeploymentConfig;
  secrets: Readonly<Record<string, unknown>>;
} {
  const problems: string[] = [];
  const context = synthContextFor(options, sandboxUrl ?? 'http://127.0.0.1:1');
  let deployment: DeploymentConfig | undefined;
  try {
    deployment = loadDeploymentConfig(context.stage, { ...context, rootDir });
  } catch (error) {
    if (!(error instanceof StageConfigError)) throw error;
    problems.push(...error.problems);
  }
  let secrets = options.secrets;
  if (!secrets) {
    const file = readJson(path.join(rootDir, LOCAL_SECRETS_FILE), 'local secrets');
    problems.push(...file.problems);
    const value = file.value;
    if (file.problems.length === 0 && (typeof value !== 'object' || value === null || Array.isArray(value))) {
      problems.push(`local secrets: ${LOCAL_SECRETS_FILE} must be a JSON object of secret id → value`);
    } else if (value) {
      secrets = value as Record<string, unknown>;
      for (const route of deployment?.routes ?? []) {
        if (!(route.secretId in secrets))
          problems.push(
            `local secrets: ${LOCAL_SECRETS_FILE} has no secret "${route.secretId}" (route ${route.id}'s secretId)`,
          );
      }
    }
  }
  problems.push(...readJson(path.join(rootDir, 'cdk.json'), 'CDK settings').problems);
  if (problems.length > 0 || !deployment || !secrets) {
    // Files named relative to the repository, as the user knows them.
    const root = rootDir.endsWith(path.sep) ? rootDir : `${rootDir}${path.sep}`;
    throw new StageConfigError(
      context.stage,
      problems.map((p) => p.split(root).join('')),
    );
  }
  return { deployment, secrets };
}

/**
 * Starts the whole pipeline on this machine: the embedded AWS (moto, unless an endpoint is given),
 * the vendor sandbox, then the real CDK app synthesized for the stage and deployed onto the embedded
 * AWS through CloudFormation. Everything the functions run with is read back from what was deployed:
 * their code (the synthesized asset, downloaded from the function), environment, timeout and memory,
 * and their SQS event source mappings, which an emulation of Lambda's pollers then serves.
 */
export async function startLocalPipeline(options: LocalPipelineOptions = {}): Promise<LocalPipeline> {
  // Configuration first: every problem at once, before moto or the sandbox starts.
  checkLocalConfig(options);
  const cleanups: Array<() => Promise<void> | void> = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  // The temporary directory goes however the process ends (an error, Ctrl-C with output piped to a
  // pager that exited first): the exit hook removes it synchronously when stop() did not.
  let workDir: string | undefined;
  const removeWorkDir = () => {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
    workDir = undefined;
  };
  process.once('exit', removeWorkDir);
  cleanups.push(() => {
    removeWorkDir();
    process.off('exit', removeWorkDir);
  });

  try {
    let moto: MotoServer | undefined;
    let endpoint = options.awsEndpoint;
    if (!endpoint) {
      moto = await startMoto();
      cleanups.push(() => moto?.stop());
      endpoint = moto.endpoint;
    }

    const sandbox = await startSandbox(options.sandbox);
    cleanups.push(() => sandbox.close());

    const context = synthContextFor(options, sandbox.url);
    const { deployment, secrets } = checkLocalConfig(options, sandbox.url);
    const region = deployment.config.region ?? 'us-east-1';
    const clients = awsClients(endpoint, region);
    await putSecrets(
      clients,
      Object.fromEntries(Object.entries(secrets).filter(([name]) => !name.startsWith('$'))),
    );

    const runDir = mkdtempSync(path.join(os.tmpdir(), 'vendor-ingest-run-'));
    workDir = runDir;
    let deployed: DeployedStack | undefined;
    const stackName = options.attachTo ?? deployment.stackName;
    if (!options.attachTo) {
      const cacheDir = options.synthCacheDir ?? process.env[SYNTH_CACHE_ENV];
      const synth = synthesize(context, cacheDir ? { cacheDir } : { outDir: path.join(runDir, 'cdk.out') });
      deployed = await deployStack(clients, synth);
    }
    const target = await stackTarget(clients, stackName);
    const outputs = deployed?.outputs ?? (await stackOutputs(clients, stackName));
    const [dispatchFn, completionFn] = await Promise.all(
      [StackOutput.DispatchFunctionName, StackOutput.CompletionFunctionName].map((output) =>
        loadDeployedFunction(clients, outputs[output] ?? '', runDir),
      ),
    );
    if (!dispatchFn || !completionFn) throw new Error(`stack ${stackName} lacks its functions`);
    const routes = routesFromDocument(
      JSON.parse(readFileSync(path.join(dispatchFn.codeDir, BUNDLED_ROUTES_FILE), 'utf8')) as unknown,
    );

    const logDir = options.logDir ?? path.join(runDir, 'logs');
    mkdirSync(logDir, { recursive: true });
    const log = new RotatingLog(path.join(logDir, 'functions.log'));
    cleanups.push(() => log.close());
    const logFile = log.file;
    const events: LocalPipeline['events'] = new EventEmitter();
    const lineHandler = (fn: 'dispatch' | 'completion') => (line: string) => {
      log.write(`${line}\n`);
      if (!line.startsWith('{')) return;
      try {
        events.emit('log', { fn, entry: JSON.parse(line) as Record<string, unknown> });
      } catch {
        // not JSON: kept in the file only
      }
    };
    // Local-only knobs (never set by the stack): progress lines for the terminal view, test failpoints.
    const local: Record<string, string> = {
      [Env.PROGRESS_EVERY_BYTES]: String(options.progressEveryBytes ?? 0),
      ...(options.failpointsFile ? { [Env.FAILPOINTS]: options.failpointsFile } : {}),
    };
    const pool = (fn: DeployedFunction, label: 'dispatch' | 'completion') =>
      new FunctionPool({
        name: fn.name,
        handlerFile: fn.handlerFile,
        handlerExport: fn.handlerExport,
        env: runtimeEnvironment(fn, clients, local),
        timeoutMs: fn.timeoutSeconds * 1000,
        memoryMb: fn.memoryMb,
        onLine: lineHandler(label),
      });
    const pools = { dispatch: pool(dispatchFn, 'dispatch'), completion: pool(completionFn, 'completion') };
    cleanups.push(() => pools.dispatch.stop());
    cleanups.push(() => pools.completion.stop());

    const mappings = [
      ...(await loadEventSources(clients, dispatchFn.name)).map((m) => ['dispatch', m] as const),
      ...(await loadEventSources(clients, completionFn.name)).map((m) => ['completion', m] as const),
    ].filter(([, m]) => m.enabled);
    const pollers = mappings.reduce((n, [, m]) => n + (m.maxConcurrency ?? DEFAULT_POLLERS), 0);
    // Every poller holds a long poll open: one socket each, or they queue behind the SDK's 50.
    const pollerSqs = new SQSClient({
      ...(clients.endpoint ? { endpoint: clients.endpoint, credentials: LOCAL_CREDENTIALS } : {}),
      region: clients.region,
      useQueueUrlAsEndpoint: clients.endpoint === undefined,
      requestHandler: { httpAgent: { keepAlive: true, maxSockets: pollers + 10 } },
    });
    cleanups.push(() => pollerSqs.destroy());
    const sources: SqsEventSource[] = [];
    for (const [label, mapping] of mappings) {
      sources.push(
        new SqsEventSource({
          sqs: pollerSqs,
          queueUrl: mapping.queueUrl,
          queueArn: mapping.queueArn,
          region: clients.region,
          pool: pools[label],
          batchSize: mapping.batchSize,
          batchWindowMs: mapping.batchWindowSeconds * 1000,
          maxConcurrency: mapping.maxConcurrency ?? DEFAULT_POLLERS,
          reportBatchItemFailures: mapping.reportBatchItemFailures,
          pollWaitSeconds: options.pollWaitSeconds,
          onInvoke: (info) => events.emit('invoke', { fn: label, ...info }),
        }),
      );
    }
    // Stopped first on the way out: no new invocations while the rest shuts down.
    cleanups.push(async () => {
      await Promise.all(sources.map((s) => s.stop()));
    });
    for (const source of sources) source.start();

    let stopped = false;
    return {
      stage: deployment.stage,
      endpoint,
      clients,
      stack: {
        stackName,
        outputs,
        notEmulated: deployed?.notEmulated ?? {},
        templateTypes: deployed?.templateTypes ?? {},
        resourceCount: deployed?.resources.length ?? 0,
        deploySeconds: deployed?.seconds ?? 0,
      },
      resources: target.resources,
      routes,
      target,
      sandbox,
      ledger: target.ledger,
      functions: { dispatch: dispatchFn, completion: completionFn },
      pools,
      events,
      logFile,
      config: deployment.config,
      async stop() {
        if (stopped) return;
        stopped = true;
        await stopAll();
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
