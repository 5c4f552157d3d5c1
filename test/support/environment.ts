import { vi } from 'vitest';
import { Env } from '../../functions/shared/env';

/** Every variable either handler reads, unset: the baseline of a cold-start test. */
export const HANDLER_VARIABLES = [
  Env.STAGE,
  Env.COMPLETION_QUEUE_URL,
  Env.COMPLETION_DLQ_URL,
  Env.MAX_RECEIVE_COUNT,
  Env.LEDGER_RETENTION_DAYS,
  Env.LAMBDA_TASK_ROOT,
  Env.STATE_TABLE,
  Env.SECRET_CACHE_SECONDS,
  Env.VENDOR_TIMEOUT_MS,
  Env.RETRY_BASE_SECONDS,
  Env.RETRY_MAX_SECONDS,
  Env.S3_FORCE_PATH_STYLE,
  Env.RECORD_CONCURRENCY,
  Env.PROGRESS_EVERY_BYTES,
  Env.STATUS_POLL_FIRST_SECONDS,
  Env.STATUS_POLL_MAX_SECONDS,
  Env.FAILPOINTS,
  Env.OUTAGE_HORIZON_SECONDS,
  Env.BREAKER_FAILURE_THRESHOLD,
  Env.BREAKER_PROBE_SECONDS,
  Env.WAIT_SECONDS,
  Env.ATTENTION_AFTER_SECONDS,
  Env.STALL_TIMEOUT_SECONDS,
  Env.EVENT_BUS_NAME,
  Env.STACK_NAME,
  Env.RESULTS_PREFIX,
  Env.ERROR_FILE_MAX_BYTES,
  Env.TAG_OBJECTS,
  Env.COMPLETE_INLINE,
] as const;

/** Stubs `vars` on top of an environment where every handler variable is unset. */
export function stubEnvironment(vars: Readonly<Record<string, string>>): void {
  for (const name of HANDLER_VARIABLES) vi.stubEnv(name, undefined);
  for (const [name, value] of Object.entries(vars)) vi.stubEnv(name, value);
}
