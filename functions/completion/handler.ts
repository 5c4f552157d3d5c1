import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { batchOptions, createAwsRuntime } from '../shared/aws-runtime';
import { CompletionEnvSchema, Env, parseEnv } from '../shared/env';
import { failpointsFrom } from '../shared/failpoints';
import { invocationFrom } from '../shared/invocation';
import { coreLoggerFrom, powertoolsMetrics } from '../shared/observability';
import { processSqsBatch } from '../shared/queue/sqs-batch';
import { readBundledRoutes } from '../shared/routes/bundled';
import { type CompletionDeps, completionMessage } from './completion';

const env = parseEnv(CompletionEnvSchema, process.env);
const runtime = createAwsRuntime({
  stateTable: env[Env.STATE_TABLE],
  secretCacheSeconds: env[Env.SECRET_CACHE_SECONDS],
  vendorTimeoutMs: env[Env.VENDOR_TIMEOUT_MS],
  ledgerRetentionDays: env[Env.LEDGER_RETENTION_DAYS],
  routesDocument: readBundledRoutes(env[Env.LAMBDA_TASK_ROOT]),
  env: process.env,
});
const log = coreLoggerFrom(runtime.logger);
const deps: CompletionDeps = {
  sqs: runtime.sqs,
  ledger: runtime.ledger,
  routes: runtime.routes,
  vendors: runtime.vendors,
  completionQueueUrl: env[Env.COMPLETION_QUEUE_URL],
  metrics: powertoolsMetrics(runtime.metrics),
  failpoint: failpointsFrom(env[Env.FAILPOINTS]),
  statusFirstDelaySeconds: env[Env.STATUS_POLL_FIRST_SECONDS],
  statusMaxSeconds: env[Env.STATUS_POLL_MAX_SECONDS],
};

/** Completion queue → the vendor's complete / trigger-ingestion call (and later status checks). */
export async function completionBatch(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  const invocation = invocationFrom(context);
  return processSqsBatch(
    event.Records,
    (record, ctx) => completionMessage(deps, record, ctx, invocation, log),
    batchOptions(runtime, log, invocation, {
      dlqUrlFor: () => env[Env.COMPLETION_DLQ_URL],
      maxReceiveCount: env[Env.MAX_RECEIVE_COUNT],
      retryBaseSeconds: env[Env.RETRY_BASE_SECONDS],
      retryMaxSeconds: env[Env.RETRY_MAX_SECONDS],
      concurrency: env[Env.RECORD_CONCURRENCY],
    }),
  );
}

export const handler = middy(completionBatch)
  .use(injectLambdaContext(runtime.logger, { resetKeys: true }))
  .use(logMetrics(runtime.metrics));
