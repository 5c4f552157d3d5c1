import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { adapterFor } from '../vendors/registry';
import { type CommonEnv, Env } from './env';
import { ErrorCode, PermanentError, SecretNotFoundError } from './errors';
import { type FailpointHook, failpointsFrom } from './failpoints';
import type { CallLimiter } from './http/vendor-http';
import { type InvocationInfo, invocationFrom } from './invocation';
import {
  type CoreLogger,
  coreLoggerFrom,
  MetricName,
  type PipelineMetrics,
  powertoolsMetrics,
} from './observability';
import { type Announcer, createAnnouncer } from './outcome';
import { type BatchOptions, processSqsBatch, queueUrlFromArn, type RecordContext } from './queue/sqs-batch';
import { readBundledRoutes } from './routes/bundled';
import { routesFromDocument } from './routes/load';
import { RouteMatcher } from './routes/match';
import { DynamoBreakers } from './state/breaker';
import { DynamoTokenCache } from './state/dynamo-token-cache';
import { DeliveryLedger } from './state/ledger';
import { DynamoSemaphore } from './state/semaphore';
import type { SecretSource, VendorRuntime } from './vendor-context';
import { createVendorGuard, type VendorGuard } from './vendor-guard';

/**
 * Cold-start wiring shared by both handlers: SDK clients (created once per sandbox and reused by
 * warm invocations), the ledger, the shared token cache, the call limiters and the secret source.
 * Endpoints come from the SDK's standard variables (AWS_ENDPOINT_URL …), so the same code runs
 * against AWS and against the local emulator.
 */
export interface AwsRuntime {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly sqs: SQSClient;
  readonly doc: DynamoDBDocumentClient;
  readonly ledger: DeliveryLedger;
  readonly routes: RouteMatcher;
  readonly vendors: VendorRuntime;
  /** The vendor accounts' circuit breakers, shared by both functions through the state table. */
  readonly guard: VendorGuard;
  /** The pipeline's metrics (Powertools EMF). */
  readonly pipelineMetrics: PipelineMetrics;
  /** Announces decided outcomes: events, result documents, object tags. */
  readonly announcer: Announcer;
  /** S3 for the write-back (result documents, error files, tags). */
  readonly s3: S3Client;
  /** Source-queue ARN → URL, honouring a custom SQS endpoint. */
  readonly queueUrlOf: (arn: string) => string;
}

/** Secrets Manager refusals that no retry fixes: permission, and the secret's KMS key refusing to decrypt. */
const SECRET_DENIED = new Set([
  'AccessDeniedException',
  'DecryptionFailure',
  'KMSAccessDeniedException',
  'KMSDisabledException',
  'KMSInvalidStateException',
]);

export function createAwsRuntime(input: {
  readonly stateTable: string;
  readonly secretCacheSeconds: number;
  readonly vendorTimeoutMs: number;
  readonly ledgerRetentionDays: number;
  readonly breakerFailureThreshold: number;
  readonly breakerProbeSeconds: number;
  readonly eventBusName: string;
  readonly stackName: string;
  readonly resultsPrefix: string;
  readonly tagObjects: boolean;
  /** The routes document bundled with the function (validated here). */
  readonly routesDocument: unknown;
  readonly env: Record<string, string | undefined>;
}): AwsRuntime {
  const logger = new Logger();
  const metrics = new Metrics();
  const sqsEndpoint = input.env.AWS_ENDPOINT_URL_SQS ?? input.env.AWS_ENDPOINT_URL;
  // Queue URLs name AWS's host; with a custom endpoint (the local emulation) the calls must go to
  // the endpoint, not to the host in the URL (the SDK's default).
  const sqs = new SQSClient({ useQueueUrlAsEndpoint: sqsEndpoint === undefined });
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  const routes = new RouteMatcher(routesFromDocument(input.routesDocument));

  const provider = new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient({}) });
  const secrets: SecretSource = async (secretId) => {
    try {
      const value = await provider.get(secretId, { maxAge: input.secretCacheSeconds });
      if (typeof value === 'string') return value;
      if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
      throw new SecretNotFoundError(secretId);
    } catch (error) {
      const name = (error as { cause?: { name?: string } }).cause?.name ?? (error as { name?: string }).name;
      if (name === 'ResourceNotFoundException') throw new SecretNotFoundError(secretId, error);
      if (name !== undefined && SECRET_DENIED.has(name)) {
        throw new PermanentError(
          ErrorCode.SECRET_ACCESS_DENIED,
          `secret "${secretId}" could not be read: ${name} (the function's role or the secret's KMS key refused it)`,
          { cause: error },
        );
      }
      throw error;
    }
  };

  const pipelineMetrics = powertoolsMetrics(metrics);
  const s3 = new S3Client({
    // Path-style addressing for emulators (set by the local Lambda emulation only).
    forcePathStyle: ['true', '1'].includes(input.env[Env.S3_FORCE_PATH_STYLE] ?? ''),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const limiters = new Map<string, CallLimiter>();
  const vendors: VendorRuntime = {
    adapters: adapterFor,
    secrets,
    tokens: new DynamoTokenCache({
      doc,
      tableName: input.stateTable,
      // The key starts with the vendor family (cleartax:…): the mint-budget alarm reads this series.
      onMint: (key, mintsToday) =>
        pipelineMetrics.count(MetricName.TokenMintsToday, key.split(':')[0] ?? key, mintsToday),
    }),
    limiterFor: (key, slots) => {
      let limiter = limiters.get(`${key}/${slots}`);
      if (!limiter) {
        limiter = new DynamoSemaphore({
          doc,
          tableName: input.stateTable,
          key,
          slots,
          leaseMs: input.vendorTimeoutMs + 5_000,
          maxWaitMs: Math.max(10_000, input.vendorTimeoutMs * 2),
        });
        limiters.set(`${key}/${slots}`, limiter);
      }
      return limiter;
    },
    vendorTimeoutMs: input.vendorTimeoutMs,
    now: Date.now,
  };

  return {
    logger,
    metrics,
    sqs,
    doc,
    ledger: new DeliveryLedger({
      doc,
      tableName: input.stateTable,
      retentionDays: input.ledgerRetentionDays,
    }),
    routes,
    vendors,
    guard: createVendorGuard(
      new DynamoBreakers({
        doc,
        tableName: input.stateTable,
        failureThreshold: input.breakerFailureThreshold,
        probeIntervalMs: input.breakerProbeSeconds * 1000,
      }),
      pipelineMetrics,
    ),
    pipelineMetrics,
    s3,
    announcer: createAnnouncer({
      s3,
      events: new EventBridgeClient({}),
      busName: input.eventBusName,
      stackName: input.stackName,
      resultsPrefix: input.resultsPrefix,
      tagObjects: input.tagObjects,
      metrics: pipelineMetrics,
    }),
    queueUrlOf: (arn) => queueUrlFromArn(arn, sqsEndpoint),
  };
}

/** A record's work in one of the cores: `(record, receive, invocation, logger) => void`. */
export type RecordWork = (
  record: SQSRecord,
  ctx: RecordContext,
  invocation: InvocationInfo,
  log: CoreLogger,
) => Promise<void>;

/**
 * The one wiring of both handlers: the queue boundary (partial batch responses, backoff, parking in
 * the DLQ) around a core's per-record work, with the invocation's deadline, and Powertools' logger
 * context and metrics flushing as middy middleware.
 */
export function createSqsHandler(
  runtime: AwsRuntime,
  env: CommonEnv,
  options: { readonly dlqUrlFor: BatchOptions['dlqUrlFor']; readonly work: RecordWork },
) {
  const log = coreLoggerFrom(runtime.logger);
  const batch = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const invocation = invocationFrom(context);
    return processSqsBatch(event.Records, (record, ctx) => options.work(record, ctx, invocation, log), {
      sqs: runtime.sqs,
      log,
      queueUrlOf: runtime.queueUrlOf,
      dlqUrlFor: options.dlqUrlFor,
      maxReceiveCount: env[Env.MAX_RECEIVE_COUNT],
      retryBaseSeconds: env[Env.RETRY_BASE_SECONDS],
      retryMaxSeconds: env[Env.RETRY_MAX_SECONDS],
      concurrency: env[Env.RECORD_CONCURRENCY],
      outageHorizonSeconds: env[Env.OUTAGE_HORIZON_SECONDS],
      waitSeconds: env[Env.WAIT_SECONDS],
      remainingMs: () => invocation.deadline() - Date.now(),
      // Do not start a record with less than a second left: it would only time out half-done.
      minStartMs: 1_000,
    });
  };
  return middy(batch)
    .use(injectLambdaContext(runtime.logger, { resetKeys: true }))
    .use(logMetrics(runtime.metrics));
}

/**
 * What both cores (`DispatchDeps`, `CompletionDeps`) take from the runtime and the common
 * environment; each handler adds its own fields to {@link coreDepsFrom}'s result.
 */
export interface CoreDeps {
  /**
   * Plain streaming reads: no response checksum wrapper on the hot path (a read for a vendor that wants
   * the SHA-256 asks for checksums explicitly, and S3's stored checksum is then verified as it streams).
   */
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly ledger: DeliveryLedger;
  readonly routes: RouteMatcher;
  readonly vendors: VendorRuntime;
  readonly completionQueueUrl: string;
  readonly metrics: PipelineMetrics;
  /** The vendor accounts' circuit breakers. */
  readonly guard: VendorGuard;
  /** Announces decided outcomes (events, result documents, tags). */
  readonly announcer: Announcer;
  /** A delivery waiting for its vendor longer than this is announced as needing attention, ms. */
  readonly attentionAfterMs: number;
  /** Test-only crash points (`VENDOR_INGEST_FAILPOINTS`); a no-op in a deployed stack. */
  readonly failpoint: FailpointHook;
  /** First vendor status check after completion, seconds (then doubling, capped at 900 — SQS's max delay). */
  readonly statusFirstDelaySeconds: number;
  /** Stop polling a vendor job after this many seconds. */
  readonly statusMaxSeconds: number;
}

/** The core dependencies both handlers build at cold start. */
export function coreDepsFrom(runtime: AwsRuntime, env: CommonEnv): CoreDeps {
  return {
    s3: runtime.s3,
    sqs: runtime.sqs,
    ledger: runtime.ledger,
    routes: runtime.routes,
    vendors: runtime.vendors,
    completionQueueUrl: env[Env.COMPLETION_QUEUE_URL],
    metrics: runtime.pipelineMetrics,
    guard: runtime.guard,
    announcer: runtime.announcer,
    attentionAfterMs: env[Env.ATTENTION_AFTER_SECONDS] * 1000,
    failpoint: failpointsFrom(env[Env.FAILPOINTS]),
    statusFirstDelaySeconds: env[Env.STATUS_POLL_FIRST_SECONDS],
    statusMaxSeconds: env[Env.STATUS_POLL_MAX_SECONDS],
  };
}

/** The runtime a handler builds at cold start from its validated environment. */
export function runtimeFromEnv(env: CommonEnv): AwsRuntime {
  return createAwsRuntime({
    stateTable: env[Env.STATE_TABLE],
    secretCacheSeconds: env[Env.SECRET_CACHE_SECONDS],
    vendorTimeoutMs: env[Env.VENDOR_TIMEOUT_MS],
    ledgerRetentionDays: env[Env.LEDGER_RETENTION_DAYS],
    breakerFailureThreshold: env[Env.BREAKER_FAILURE_THRESHOLD],
    breakerProbeSeconds: env[Env.BREAKER_PROBE_SECONDS],
    eventBusName: env[Env.EVENT_BUS_NAME],
    stackName: env[Env.STACK_NAME],
    resultsPrefix: env[Env.RESULTS_PREFIX],
    tagObjects: env[Env.TAG_OBJECTS],
    routesDocument: readBundledRoutes(env[Env.LAMBDA_TASK_ROOT]),
    env: process.env,
  });
}
