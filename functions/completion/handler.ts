import { coreDepsFrom, createSqsHandler, runtimeFromEnv } from '../shared/aws-runtime';
import { CompletionEnvSchema, Env, parseEnv } from '../shared/env';
import { type CompletionDeps, completionMessage } from './completion';

// Cold start: validate the environment once, build clients once.
const env = parseEnv(CompletionEnvSchema, process.env);
const runtime = runtimeFromEnv(env);
const deps: CompletionDeps = {
  ...coreDepsFrom(runtime, env),
  errorFileMaxBytes: env[Env.ERROR_FILE_MAX_BYTES],
};

/** Completion queue → the vendor's complete / trigger-ingestion call (and later status checks). */
export const handler = createSqsHandler(runtime, env, {
  dlqUrlFor: () => env[Env.COMPLETION_DLQ_URL],
  work: (record, ctx, invocation, log) => completionMessage(deps, record, ctx, invocation, log),
});
