import { EventEmitter } from 'node:events';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Env } from '../functions/shared/env';
import { resolveRouteFile, routesFromDocument } from '../functions/shared/routes/load';
import type { ResolvedRoute, ResolvedRoutesDocument } from '../functions/shared/routes/schema';
import { DeliveryLedger } from '../functions/shared/state/ledger';
import { adapterFor } from '../functions/vendors/registry';
import { intakeMaxConcurrency, routesJson, visibilityTimeoutSeconds } from '../lib/config/deployment-config';
import { loadStageConfig, type StageConfig } from '../lib/config/stage-config';
import { resourceNames } from '../lib/naming';
import { completionEnvironment, dispatchEnvironment } from '../lib/pipeline-environment';
import { type Sandbox, type SandboxOptions, startSandbox } from '../sandbox';
import { type AwsClients, awsClients, LOCAL_REGION } from './aws';
import { bundleFunction } from './bundle';
import { SqsEventSource } from './event-source';
import { FunctionPool, type InvokeOutcome } from './function-pool';
import { type MotoServer, startMoto } from './moto';
import {
  createIngestBucket,
  createQueueWithDlq,
  createStateTable,
  type IntakeQueueRef,
  type PipelineResources,
  putSecrets,
} from './provision';

export const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Settings a test or the CLI may change on top of `config/stages/local.json`. */
export interface LocalOverrides {
  readonly dispatch?: Partial<StageConfig['dispatch']>;
  readonly completion?: Partial<StageConfig['completion']>;
  readonly retryBaseSeconds?: number;
  readonly retryMaxSeconds?: number;
  readonly vendorTimeoutMs?: number;
  /** First vendor status check after completion, s. */
  readonly statusPollFirstSeconds?: number;
  /** Route options merged per route id (e.g. a smaller multipart threshold). */
  readonly routeOptions?: Readonly<Record<string, Record<string, unknown>>>;
  /** Extra route fields per route id (e.g. retryAmbiguousCompletion). */
  readonly routeFields?: Readonly<Record<string, Record<string, unknown>>>;
}

export interface LocalPipelineOptions {
  readonly stage?: string;
  /** Use this AWS endpoint instead of starting moto (LocalStack, another moto). `'aws'` = the real account. */
  readonly awsEndpoint?: string;
  readonly sandbox?: SandboxOptions;
  readonly overrides?: LocalOverrides;
  /** Secrets by id; defaults to config/local-secrets.json. */
  readonly secrets?: Readonly<Record<string, unknown>>;
  /** Where function logs go (one JSON line each); default a temp dir. */
  readonly logDir?: string;
  /** Failpoint rules file (see functions/shared/failpoints.ts); tests write it at run time. */
  readonly failpointsFile?: string;
  /** Upload progress log interval in bytes (0 = off). */
  readonly progressEveryBytes?: number;
  /** Long-poll wait, seconds. */
  readonly pollWaitSeconds?: number;
}

export interface FunctionLogLine {
  readonly fn: 'dispatch' | 'completion';
  readonly entry: Record<string, unknown>;
}

export interface LocalPipeline {
  readonly stage: string;
  readonly endpoint: string;
  readonly clients: AwsClients;
  readonly resources: PipelineResources;
  readonly routes: readonly ResolvedRoute[];
  readonly sandbox: Sandbox;
  readonly ledger: DeliveryLedger;
  readonly pools: { readonly dispatch: FunctionPool; readonly completion: FunctionPool };
  readonly events: EventEmitter<{
    log: [FunctionLogLine];
    invoke: [{ fn: string; records: number; outcome: InvokeOutcome; failed: number }];
  }>;
  readonly logFile: string;
  readonly config: StageConfig;
  stop(): Promise<void>;
}

function localStageConfig(stage: string, overrides: LocalOverrides): StageConfig {
  const base = loadStageConfig(stage);
  return {
    ...base,
    dispatch: { ...base.dispatch, ...overrides.dispatch },
    completion: { ...base.completion, ...overrides.completion },
    retryBaseSeconds: overrides.retryBaseSeconds ?? base.retryBaseSeconds,
    retryMaxSeconds: overrides.retryMaxSeconds ?? base.retryMaxSeconds,
    vendorTimeoutMs: overrides.vendorTimeoutMs ?? base.vendorTimeoutMs,
  };
}

/**
 * Every route pointed at the vendor sandbox: its base URL, its upload host as the only allowed
 * upload host, loopback http allowed. Everything else (prefixes, options, secrets) is the route file's.
 */
function localRoutes(stage: string, sandboxUrl: string, overrides: LocalOverrides): ResolvedRoutesDocument {
  const raw = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'config/routes.json'), 'utf8')) as {
    routes: Array<{ id: string } & Record<string, unknown>>;
    stages?: Record<string, unknown>;
  };
  const host = new URL(sandboxUrl).host;
  raw.routes = raw.routes.map((route) => ({ ...route, ...overrides.routeFields?.[route.id] }));
  raw.stages = {
    ...raw.stages,
    [stage]: {
      allowLoopbackHttp: true,
      routes: Object.fromEntries(
        raw.routes.map((route) => [
          route.id,
          {
            baseUrl: sandboxUrl,
            uploadHostAllowList: [host],
            options: overrides.routeOptions?.[route.id] ?? {},
          },
        ]),
      ),
    },
  };
  return resolveRouteFile(raw, stage, adapterFor);
}

/**
 * Starts the whole pipeline on this machine: the embedded AWS (moto, unless an endpoint is given),
 * the vendor sandbox, the resources as the stack creates them, and both functions — the deployed
 * bundles — behind emulated SQS event source mappings.
 */
export async function startLocalPipeline(options: LocalPipelineOptions = {}): Promise<LocalPipeline> {
  const stage = options.stage ?? 'local';
  const overrides = options.overrides ?? {};
  const config = localStageConfig(stage, overrides);
  const names = resourceNames(stage);
  const cleanups: Array<() => Promise<void> | void> = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };

  try {
    let moto: MotoServer | undefined;
    let endpoint = options.awsEndpoint;
    if (!endpoint) {
      moto = await startMoto();
      cleanups.push(() => moto?.stop());
      endpoint = moto.endpoint;
    }
    const sdkEndpoint = endpoint === 'aws' ? undefined : endpoint;
    const clients = awsClients(
      sdkEndpoint,
      endpoint === 'aws' ? (config.region ?? LOCAL_REGION) : LOCAL_REGION,
    );

    const sandbox = await startSandbox(options.sandbox);
    cleanups.push(() => sandbox.close());

    const routesDocument = localRoutes(stage, sandbox.url, overrides);
    const routes = routesFromDocument(routesDocument);
    const buildDir = mkdtempSync(path.join(os.tmpdir(), 'vendor-ingest-build-'));
    cleanups.push(() => rmSync(buildDir, { recursive: true, force: true }));
    const [dispatchBundle, completionBundle] = await Promise.all([
      bundleFunction(PROJECT_ROOT, 'dispatch', buildDir, { minify: false }),
      bundleFunction(PROJECT_ROOT, 'completion', buildDir, { minify: false }),
    ]);

    const intake: IntakeQueueRef[] = [];
    for (const route of routes) {
      const q = await createQueueWithDlq(clients, {
        name: names.intakeQueue(route.id),
        dlqName: names.intakeDeadLetterQueue(route.id),
        visibilityTimeoutSeconds: visibilityTimeoutSeconds(config.dispatch),
        maxReceiveCount: config.dispatch.maxReceiveCount,
      });
      intake.push({ ...q, routeId: route.id });
    }
    const completion = await createQueueWithDlq(clients, {
      name: names.completionQueue,
      dlqName: names.completionDeadLetterQueue,
      visibilityTimeoutSeconds: visibilityTimeoutSeconds(config.completion),
      maxReceiveCount: config.completion.maxReceiveCount,
    });
    const bucket = `${names.prefix}-ingest`;
    await createIngestBucket(clients, bucket, routes, intake);
    await createStateTable(clients.ddb, names.stateTable);
    const secrets =
      options.secrets ??
      (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'config/local-secrets.json'), 'utf8')) as Record<
        string,
        unknown
      >);
    await putSecrets(
      clients,
      Object.fromEntries(Object.entries(secrets).filter(([name]) => !name.startsWith('$'))),
    );
    const resources: PipelineResources = { bucket, stateTable: names.stateTable, intake, completion };

    const common = {
      stage,
      routesJson: routesJson(routesDocument),
      completionQueueUrl: completion.url,
      stateTableName: names.stateTable,
      secretCacheSeconds: config.secretCacheSeconds,
      vendorTimeoutMs: config.vendorTimeoutMs,
      retryBaseSeconds: config.retryBaseSeconds,
      retryMaxSeconds: config.retryMaxSeconds,
      logLevel: config.logLevel,
    };
    // Only endpoints (and local-only knobs) differ from what the stack sets.
    const localEnv: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      AWS_REGION: clients.region,
      AWS_DEFAULT_REGION: clients.region,
      ...(sdkEndpoint
        ? {
            AWS_ENDPOINT_URL: sdkEndpoint,
            AWS_ACCESS_KEY_ID: 'local',
            AWS_SECRET_ACCESS_KEY: 'local',
            [Env.S3_FORCE_PATH_STYLE]: 'true',
          }
        : {}),
      [Env.PROGRESS_EVERY_BYTES]: String(options.progressEveryBytes ?? 0),
      ...(options.failpointsFile ? { [Env.FAILPOINTS]: options.failpointsFile } : {}),
    };
    const dispatchEnv = {
      ...dispatchEnvironment({
        ...common,
        maxReceiveCount: config.dispatch.maxReceiveCount,
        intakeDlqUrlsJson: JSON.stringify(Object.fromEntries(intake.map((q) => [q.arn, q.dlqUrl]))),
      }),
      ...localEnv,
    };
    const completionEnv = {
      ...completionEnvironment({
        ...common,
        maxReceiveCount: config.completion.maxReceiveCount,
        completionDlqUrl: completion.dlqUrl,
      }),
      ...localEnv,
      [Env.STATUS_POLL_FIRST_SECONDS]: String(overrides.statusPollFirstSeconds ?? 1),
      [Env.STATUS_POLL_MAX_SECONDS]: '600',
    };

    const logDir = options.logDir ?? mkdtempSync(path.join(os.tmpdir(), 'vendor-ingest-logs-'));
    mkdirSync(logDir, { recursive: true });
    const logFile = path.join(logDir, 'functions.log');
    const events: LocalPipeline['events'] = new EventEmitter();
    const lineHandler = (fn: 'dispatch' | 'completion') => (line: string) => {
      appendFileSync(logFile, `${line}\n`);
      if (!line.startsWith('{')) return;
      try {
        events.emit('log', { fn, entry: JSON.parse(line) as Record<string, unknown> });
      } catch {
        // not JSON: kept in the file only
      }
    };
    const pools = {
      dispatch: new FunctionPool({
        name: names.dispatchFunction,
        bundle: dispatchBundle.file,
        env: dispatchEnv,
        timeoutMs: config.dispatch.timeoutSeconds * 1000,
        memoryMb: config.dispatch.memoryMb,
        onLine: lineHandler('dispatch'),
      }),
      completion: new FunctionPool({
        name: names.completionFunction,
        bundle: completionBundle.file,
        env: completionEnv,
        timeoutMs: config.completion.timeoutSeconds * 1000,
        memoryMb: config.completion.memoryMb,
        onLine: lineHandler('completion'),
      }),
    };
    cleanups.push(() => pools.dispatch.stop());
    cleanups.push(() => pools.completion.stop());

    const sources = [
      ...intake.map(
        (q) =>
          new SqsEventSource({
            sqs: clients.sqs,
            queueUrl: q.url,
            queueArn: q.arn,
            region: clients.region,
            pool: pools.dispatch,
            batchSize: config.dispatch.batchSize,
            batchWindowMs: config.dispatch.batchWindowSeconds * 1000,
            maxConcurrency: intakeMaxConcurrency(config, q.routeId),
            pollWaitSeconds: options.pollWaitSeconds,
            onInvoke: (info) => events.emit('invoke', { fn: 'dispatch', ...info }),
          }),
      ),
      new SqsEventSource({
        sqs: clients.sqs,
        queueUrl: completion.url,
        queueArn: completion.arn,
        region: clients.region,
        pool: pools.completion,
        batchSize: config.completion.batchSize,
        batchWindowMs: config.completion.batchWindowSeconds * 1000,
        maxConcurrency: config.completion.maxConcurrency,
        pollWaitSeconds: options.pollWaitSeconds,
        onInvoke: (info) => events.emit('invoke', { fn: 'completion', ...info }),
      }),
    ];
    // Stopped first on the way out: no new invocations while the rest shuts down.
    cleanups.push(async () => {
      await Promise.all(sources.map((s) => s.stop()));
    });
    for (const source of sources) source.start();

    let stopped = false;
    return {
      stage,
      endpoint: endpoint,
      clients,
      resources,
      routes,
      sandbox,
      ledger: new DeliveryLedger({ doc: clients.doc, tableName: names.stateTable }),
      pools,
      events,
      logFile,
      config,
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
