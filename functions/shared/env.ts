import * as z from 'zod';

/**
 * Environment variable names shared by the functions, the CDK stack and the local pipeline. Declared
 * once here; infrastructure imports these constants so the two sides cannot drift.
 */
export const Env = {
  /** Deployment stage name (dev, prod, local). */
  STAGE: 'STAGE',
  /** Resolved routes JSON (see `ResolvedRoutesSchema`); the bundle may carry them as a constant instead. */
  ROUTES_JSON: 'ROUTES_JSON',
  /** Completion queue URL (dispatch sends to it; completion re-sends status checks to it). */
  COMPLETION_QUEUE_URL: 'COMPLETION_QUEUE_URL',
  /** Completion DLQ URL: where the completion function parks permanent failures. */
  COMPLETION_DLQ_URL: 'COMPLETION_DLQ_URL',
  /** JSON map of intake queue ARN → its DLQ URL: where dispatch parks permanent failures. */
  INTAKE_DLQ_URLS: 'INTAKE_DLQ_URLS',
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
  /** Use path-style S3 addressing (local emulators). */
  S3_FORCE_PATH_STYLE: 'S3_FORCE_PATH_STYLE',
  /** Records of one batch worked on at once. */
  RECORD_CONCURRENCY: 'RECORD_CONCURRENCY',
  /** Log upload progress every this many bytes (0: never). The local pipeline uses it for its progress bars. */
  PROGRESS_EVERY_BYTES: 'PROGRESS_EVERY_BYTES',
  /** First vendor status check after completion, seconds; then doubling up to 900. */
  STATUS_POLL_FIRST_SECONDS: 'STATUS_POLL_FIRST_SECONDS',
  /** Stop polling a vendor job after this many seconds. */
  STATUS_POLL_MAX_SECONDS: 'STATUS_POLL_MAX_SECONDS',
  /** Test-only crash points (comma-separated names); never set in a deployed stack. */
  FAILPOINTS: 'VENDOR_INGEST_FAILPOINTS',
  // Powertools' own variables, set by the stack.
  POWERTOOLS_SERVICE_NAME: 'POWERTOOLS_SERVICE_NAME',
  POWERTOOLS_METRICS_NAMESPACE: 'POWERTOOLS_METRICS_NAMESPACE',
  POWERTOOLS_LOG_LEVEL: 'POWERTOOLS_LOG_LEVEL',
} as const;

/** The resolved-routes document, parsed; its shape is checked by `routesFromDocument`. */
const routesJson = z
  .string()
  .min(1)
  .transform((s, ctx) => {
    try {
      return JSON.parse(s) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON (the resolved routes document)' });
      return z.NEVER;
    }
  });

const boolish = z
  .enum(['true', 'false', '1', '0'])
  .optional()
  .transform((v) => v === 'true' || v === '1');

/** Environment of the dispatch function, validated at cold start. */
export const DispatchEnvSchema = z.object({
  [Env.STAGE]: z.string().min(1),
  [Env.ROUTES_JSON]: routesJson,
  [Env.COMPLETION_QUEUE_URL]: z.url(),
  [Env.INTAKE_DLQ_URLS]: z.string().transform((s, ctx) => {
    try {
      return z.record(z.string(), z.url()).parse(JSON.parse(s));
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object of queue ARN → DLQ URL' });
      return z.NEVER;
    }
  }),
  [Env.MAX_RECEIVE_COUNT]: z.coerce.number().int().min(1),
  [Env.STATE_TABLE]: z.string().min(1),
  [Env.SECRET_CACHE_SECONDS]: z.coerce.number().int().min(0).default(300),
  [Env.VENDOR_TIMEOUT_MS]: z.coerce.number().int().min(100).default(10_000),
  [Env.RETRY_BASE_SECONDS]: z.coerce.number().min(0).default(10),
  [Env.RETRY_MAX_SECONDS]: z.coerce.number().min(0).max(43_200).default(900),
  [Env.S3_FORCE_PATH_STYLE]: boolish,
  [Env.RECORD_CONCURRENCY]: z.coerce.number().int().min(1).max(10).default(4),
  [Env.PROGRESS_EVERY_BYTES]: z.coerce.number().int().min(0).default(0),
  [Env.FAILPOINTS]: z.string().optional(),
});
export type DispatchEnv = z.infer<typeof DispatchEnvSchema>;

/** Environment of the completion function, validated at cold start. */
export const CompletionEnvSchema = z.object({
  [Env.STAGE]: z.string().min(1),
  [Env.ROUTES_JSON]: routesJson,
  [Env.COMPLETION_QUEUE_URL]: z.url(),
  [Env.COMPLETION_DLQ_URL]: z.url(),
  [Env.MAX_RECEIVE_COUNT]: z.coerce.number().int().min(1),
  [Env.STATE_TABLE]: z.string().min(1),
  [Env.SECRET_CACHE_SECONDS]: z.coerce.number().int().min(0).default(300),
  [Env.VENDOR_TIMEOUT_MS]: z.coerce.number().int().min(100).default(10_000),
  [Env.RETRY_BASE_SECONDS]: z.coerce.number().min(0).default(10),
  [Env.RETRY_MAX_SECONDS]: z.coerce.number().min(0).max(43_200).default(900),
  [Env.RECORD_CONCURRENCY]: z.coerce.number().int().min(1).max(10).default(8),
  [Env.STATUS_POLL_FIRST_SECONDS]: z.coerce.number().min(0).max(900).default(60),
  [Env.STATUS_POLL_MAX_SECONDS]: z.coerce
    .number()
    .min(0)
    .default(6 * 3600),
  [Env.FAILPOINTS]: z.string().optional(),
});
export type CompletionEnv = z.infer<typeof CompletionEnvSchema>;

/** Parses the environment, listing every problem at once. */
export function parseEnv<T extends z.ZodType>(
  schema: T,
  env: Record<string, string | undefined>,
): z.infer<T> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new Error(`invalid environment:\n- ${lines.join('\n- ')}`);
  }
  return result.data;
}
