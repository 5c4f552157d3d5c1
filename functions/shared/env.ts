import * as z from 'zod';

/**
 * Environment variable names shared by the functions, the CDK stack and the local pipeline. Declared
 * once here; infrastructure imports these constants so the two sides cannot drift.
 */
export const Env = {
  /** Deployment stage name (dev, prod, local). */
  STAGE: 'STAGE',
  /** Completion queue URL (dispatch sends to it; completion re-sends status checks to it). */
  COMPLETION_QUEUE_URL: 'COMPLETION_QUEUE_URL',
  /** Completion DLQ URL: where the completion function parks permanent failures. */
  COMPLETION_DLQ_URL: 'COMPLETION_DLQ_URL',
  /** `maxReceiveCount` of the queue the function consumes; the last receive parks instead of retrying. */
  MAX_RECEIVE_COUNT: 'MAX_RECEIVE_COUNT',
  /** DynamoDB table: delivery ledger, shared tokens, concurrency slots. */
  STATE_TABLE: 'STATE_TABLE',
  /** Seconds a secret is cached before it is fetched again. */
  SECRET_CACHE_SECONDS: 'SECRET_CACHE_SECONDS',
  /** Vendor API call timeout, ms. */
  VENDOR_TIMEOUT_MS: 'VENDOR_TIMEOUT_MS',
  /** Backoff base and cap for retries through the queue, seconds. */
  RETRY_BASE_SECONDS: 'RETRY_BASE_SECONDS',
  RETRY_MAX_SECONDS: 'RETRY_MAX_SECONDS',
  /** Days a terminal ledger entry is kept (its `expiresAt`, the table's TTL attribute). */
  LEDGER_RETENTION_DAYS: 'LEDGER_RETENTION_DAYS',
  /** Use path-style S3 addressing (local emulators; set by the local Lambda emulation, never by the stack). */
  S3_FORCE_PATH_STYLE: 'S3_FORCE_PATH_STYLE',
  /** Records of one batch worked on at once. */
  RECORD_CONCURRENCY: 'RECORD_CONCURRENCY',
  /** Log upload progress every this many bytes (0: never). The local pipeline uses it for its progress bars. */
  PROGRESS_EVERY_BYTES: 'PROGRESS_EVERY_BYTES',
  /** Dispatch calls the vendor's completion right after its upload (see the stage's `completeInline`). */
  COMPLETE_INLINE: 'COMPLETE_INLINE',
  /** First vendor status check after completion, seconds; then doubling up to 900. */
  STATUS_POLL_FIRST_SECONDS: 'STATUS_POLL_FIRST_SECONDS',
  /** Stop polling a vendor job after this many seconds. */
  STATUS_POLL_MAX_SECONDS: 'STATUS_POLL_MAX_SECONDS',
  /** Files wait out vendor-side failures this long before they are parked, seconds. */
  OUTAGE_HORIZON_SECONDS: 'OUTAGE_HORIZON_SECONDS',
  /** Consecutive outage failures that open a vendor account's circuit breaker. */
  BREAKER_FAILURE_THRESHOLD: 'BREAKER_FAILURE_THRESHOLD',
  /** At most one probe per this many seconds while a breaker is open. */
  BREAKER_PROBE_SECONDS: 'BREAKER_PROBE_SECONDS',
  /** Re-enqueue delay of a waiting message, seconds (at most 900). */
  WAIT_SECONDS: 'WAIT_SECONDS',
  /** A waiting delivery is announced as needing attention after this many seconds. */
  ATTENTION_AFTER_SECONDS: 'ATTENTION_AFTER_SECONDS',
  /** An upload whose bytes stop flowing this long is aborted, seconds. */
  STALL_TIMEOUT_SECONDS: 'STALL_TIMEOUT_SECONDS',
  /** EventBridge bus of the delivery outcome events. */
  EVENT_BUS_NAME: 'EVENT_BUS_NAME',
  /** The stack's name, carried in every event so one bus can serve several stacks. */
  STACK_NAME: 'STACK_NAME',
  /** Key prefix of result documents and vendor error files in the ingest bucket. */
  RESULTS_PREFIX: 'RESULTS_PREFIX',
  /** Largest vendor error file fetched into the results prefix, bytes. */
  ERROR_FILE_MAX_BYTES: 'ERROR_FILE_MAX_BYTES',
  /** Tag source object versions with their outcome ('true'/'false'). */
  TAG_OBJECTS: 'TAG_OBJECTS',
  /** Directory of the deployment package (set by Lambda); `routes.json` is read from there. */
  LAMBDA_TASK_ROOT: 'LAMBDA_TASK_ROOT',
  /** Test-only crash points (comma-separated names); never set in a deployed stack. */
  FAILPOINTS: 'VENDOR_INGEST_FAILPOINTS',
  // Powertools' own variables, set by the stack.
  POWERTOOLS_SERVICE_NAME: 'POWERTOOLS_SERVICE_NAME',
  POWERTOOLS_METRICS_NAMESPACE: 'POWERTOOLS_METRICS_NAMESPACE',
  POWERTOOLS_LOG_LEVEL: 'POWERTOOLS_LOG_LEVEL',
} as const;

const boolish = z
  .enum(['true', 'false', '1', '0'])
  .optional()
  .transform((v) => v === 'true' || v === '1');

/**
 * What both functions read. Nothing the stack sets has a default here: the stage config is the one
 * place a value is decided (lib/pipeline-environment.ts sets every variable). Only the local
 * emulation's knobs are optional.
 */
const CommonEnvSchema = z.object({
  [Env.STAGE]: z.string().min(1),
  [Env.COMPLETION_QUEUE_URL]: z.url(),
  /** Where a completion that failed for good is parked (by completion, and by dispatch completing at once). */
  [Env.COMPLETION_DLQ_URL]: z.url(),
  [Env.MAX_RECEIVE_COUNT]: z.coerce.number().int().min(1),
  [Env.RECORD_CONCURRENCY]: z.coerce.number().int().min(1).max(10),
  [Env.STATE_TABLE]: z.string().min(1),
  [Env.SECRET_CACHE_SECONDS]: z.coerce.number().int().min(0),
  [Env.VENDOR_TIMEOUT_MS]: z.coerce.number().int().min(100),
  [Env.RETRY_BASE_SECONDS]: z.coerce.number().min(0),
  [Env.RETRY_MAX_SECONDS]: z.coerce.number().min(0).max(43_200),
  [Env.LEDGER_RETENTION_DAYS]: z.coerce.number().int().min(1),
  [Env.OUTAGE_HORIZON_SECONDS]: z.coerce.number().int().min(1),
  [Env.BREAKER_FAILURE_THRESHOLD]: z.coerce.number().int().min(1),
  [Env.BREAKER_PROBE_SECONDS]: z.coerce.number().int().min(1),
  [Env.WAIT_SECONDS]: z.coerce.number().int().min(1).max(900),
  [Env.ATTENTION_AFTER_SECONDS]: z.coerce.number().int().min(1),
  [Env.STALL_TIMEOUT_SECONDS]: z.coerce.number().int().min(1),
  [Env.EVENT_BUS_NAME]: z.string().min(1),
  [Env.STACK_NAME]: z.string().min(1),
  [Env.RESULTS_PREFIX]: z.string().min(1),
  [Env.ERROR_FILE_MAX_BYTES]: z.coerce.number().int().min(1),
  [Env.TAG_OBJECTS]: z.enum(['true', 'false']).transform((v) => v === 'true'),
  [Env.STATUS_POLL_FIRST_SECONDS]: z.coerce.number().min(0).max(900),
  [Env.STATUS_POLL_MAX_SECONDS]: z.coerce.number().min(0),
  [Env.LAMBDA_TASK_ROOT]: z.string().min(1).optional(),
  [Env.S3_FORCE_PATH_STYLE]: boolish,
  [Env.FAILPOINTS]: z.string().optional(),
});

/** What both handlers read (see {@link CommonEnvSchema}). */
export type CommonEnv = z.infer<typeof CommonEnvSchema>;

/** Environment of the dispatch function, validated at cold start. */
export const DispatchEnvSchema = CommonEnvSchema.extend({
  [Env.PROGRESS_EVERY_BYTES]: z.coerce.number().int().min(0).default(0),
  [Env.COMPLETE_INLINE]: z.enum(['true', 'false']).transform((v) => v === 'true'),
});

/** Environment of the completion function, validated at cold start. */
export const CompletionEnvSchema = CommonEnvSchema;

/**
 * Parse options for a document parsed once per cold start (the environment, the routes, the vendor
 * specs). zod compiles a fast path for an object schema on its first parse, which pays off over
 * many parses and costs more than it saves on one: about 10 ms of module initialisation here.
 */
export const PARSE_ONCE = { jitless: true } as const;

/** Parses the environment, listing every problem at once. */
export function parseEnv<T extends z.ZodType>(
  schema: T,
  env: Record<string, string | undefined>,
): z.infer<T> {
  const result = schema.safeParse(env, PARSE_ONCE);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new Error(`invalid environment:\n- ${lines.join('\n- ')}`);
  }
  return result.data;
}
