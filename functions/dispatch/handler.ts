import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { S3Client } from '@aws-sdk/client-s3';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { batchOptions, createAwsRuntime } from '../shared/aws-runtime';
import { deadLetterQueueArnOf } from '../shared/deployment';
import { DispatchEnvSchema, Env, parseEnv } from '../shared/env';
import { failpointsFrom } from '../shared/failpoints';
import { invocationFrom } from '../shared/invocation';
import { coreLoggerFrom, powertoolsMetrics } from '../shared/observability';
import { processSqsBatch } from '../shared/queue/sqs-batch';
import { readBundledRoutes } from '../shared/routes/bundled';
import { type DispatchDeps, dispatchMessage } from './dispatch';

// Cold start: validate the environment once, build clients once.
const env = parseEnv(DispatchEnvSchema, process.env);
const runtime = createAwsRuntime({
  stateTable: env[Env.STATE_TABLE],
  secretCacheSeconds: env[Env.SECRET_CACHE_SECONDS],
  vendorTimeoutMs: env[Env.VENDOR_TIMEOUT_MS],
  ledgerRetentionDays: env[Env.LEDGER_RETENTION_DAYS],
  routesDocument: readBundledRoutes(env[Env.LAMBDA_TASK_ROOT]),
  env: process.env,
});
const s3 = new S3Client({
  forcePathStyle: env[Env.S3_FORCE_PATH_STYLE],
  // Plain streaming reads: no response checksum wrapper on the hot path (HeadObject asks for checksums explicitly).
  responseChecksumValidation: 'WHEN_REQUIRED',
  requestChecksumCalculation: 'WHEN_REQUIRED',
});
const log = coreLoggerFrom(runtime.logger);
const deps: DispatchDeps = {
  s3,
  sqs: runtime.sqs,
  ledger: runtime.ledger,
  routes: runtime.routes,
  vendors: runtime.vendors,
  completionQueueUrl: env[Env.COMPLETION_QUEUE_URL],
  metrics: powertoolsMetrics(runtime.metrics),
  failpoint: failpointsFrom(env[Env.FAILPOINTS]),
  progressEveryBytes: env[Env.PROGRESS_EVERY_BYTES],
};

/** Intake queue → vendor upload → completion message. Partial batch responses. */
export async function dispatchBatch(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  const invocation = invocationFrom(context);
  return processSqsBatch(
    event.Records,
    (record, ctx) => dispatchMessage(deps, record, ctx, invocation, log),
    batchOptions(runtime, log, invocation, {
      dlqUrlFor: (record) => runtime.queueUrlOf(deadLetterQueueArnOf(record.eventSourceARN)),
      maxReceiveCount: env[Env.MAX_RECEIVE_COUNT],
      retryBaseSeconds: env[Env.RETRY_BASE_SECONDS],
      retryMaxSeconds: env[Env.RETRY_MAX_SECONDS],
      concurrency: env[Env.RECORD_CONCURRENCY],
    }),
  );
}

export const handler = middy(dispatchBatch)
  .use(injectLambdaContext(runtime.logger, { resetKeys: true }))
  .use(logMetrics(runtime.metrics));
