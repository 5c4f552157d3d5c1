import { createSqsHandler, runtimeFromEnv } from '../shared/aws-runtime';
import { deadLetterQueueArnOf } from '../shared/deployment';
import { DispatchEnvSchema, Env, parseEnv } from '../shared/env';
import { failpointsFrom } from '../shared/failpoints';
import { type DispatchDeps, dispatchMessage } from './dispatch';

// Cold start: validate the environment once, build clients once.
const env = parseEnv(DispatchEnvSchema, process.env);
const runtime = runtimeFromEnv(env);
const deps: DispatchDeps = {
  // Plain streaming reads: no response checksum wrapper on the hot path (HeadObject asks for checksums explicitly).
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
  progressEveryBytes: env[Env.PROGRESS_EVERY_BYTES],
  stallMs: env[Env.STALL_TIMEOUT_SECONDS] * 1000,
};

/** Intake queue → vendor upload → completion message. Partial batch responses. */
export const handler = createSqsHandler(runtime, env, {
  // A record's DLQ is its source queue's, by name (see functions/shared/deployment.ts).
  dlqUrlFor: (record) => runtime.queueUrlOf(deadLetterQueueArnOf(record.eventSourceARN)),
  work: (record, ctx, invocation, log) => dispatchMessage(deps, record, ctx, invocation, log),
});
