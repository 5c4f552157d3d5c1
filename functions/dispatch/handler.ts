import { coreDepsFrom, createSqsHandler, runtimeFromEnv } from '../shared/aws-runtime';
import { deadLetterQueueArnOf } from '../shared/deployment';
import { DispatchEnvSchema, Env, parseEnv } from '../shared/env';
import { type DispatchDeps, dispatchMessage } from './dispatch';

// Cold start: validate the environment once, build clients once.
const env = parseEnv(DispatchEnvSchema, process.env);
const runtime = runtimeFromEnv(env);
const deps: DispatchDeps = {
  ...coreDepsFrom(runtime, env),
  progressEveryBytes: env[Env.PROGRESS_EVERY_BYTES],
  stallMs: env[Env.STALL_TIMEOUT_SECONDS] * 1000,
  completeInline: env[Env.COMPLETE_INLINE],
  completeInlineMinMs: 2 * env[Env.VENDOR_TIMEOUT_MS] + 1_000,
  completionDlqUrl: env[Env.COMPLETION_DLQ_URL],
};

/** Intake queue → vendor upload → completion message. Partial batch responses. */
export const handler = createSqsHandler(runtime, env, {
  // A record's DLQ is its source queue's, by name (see functions/shared/deployment.ts).
  dlqUrlFor: (record) => runtime.queueUrlOf(deadLetterQueueArnOf(record.eventSourceARN)),
  work: (record, ctx, invocation, log) => dispatchMessage(deps, record, ctx, invocation, log),
});
