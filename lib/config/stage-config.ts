import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { DEFAULT_LEDGER_RETENTION_DAYS } from '../../functions/shared/deployment';

/**
 * Per-stage deployment settings (`config/stages/<stage>.json`), read by the CDK app and by the local
 * pipeline. Everything here is validated at once; see {@link loadStageConfig}.
 */

/** Repository root: `lib/config/` is two levels below it. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Stage names become part of stack, queue and table names. */
export const STAGE_NAME = /^[a-z][a-z0-9-]{0,15}$/;

/** The retention periods CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;
export type LogRetentionDays = (typeof LOG_RETENTION_DAYS)[number];

/** An IAM principal ARN (role, user, account root) or a bare account id. */
const PRINCIPAL = /^(\d{12}|arn:aws[a-z-]*:iam::\d{12}:(root|(role|user)\/[\w+=,.@/-]+))$/;

/** SQS event sources take at most 10 messages per batch unless a batching window is set. */
const MAX_BATCH_WITHOUT_WINDOW = 10;

interface FunctionDefaults {
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly batchSize: number;
  readonly maxConcurrency: number;
  readonly maxReceiveCount: number;
  readonly recordConcurrency: number;
}

/** Settings of one function and the queue(s) it consumes. */
function functionSettingsSchema(defaults: FunctionDefaults) {
  return z
    .object({
      /** Lambda memory, MB. CPU and network bandwidth scale with it. */
      memoryMb: z.int().min(128).max(10_240).default(defaults.memoryMb),
      /** Lambda timeout, seconds. */
      timeoutSeconds: z.int().min(1).max(900).default(defaults.timeoutSeconds),
      /** Messages per invocation. */
      batchSize: z.int().min(1).max(10_000).default(defaults.batchSize),
      /** Seconds the event source waits to fill a batch; 0 = invoke as soon as a message arrives. */
      batchWindowSeconds: z.int().min(0).max(300).default(0),
      /**
       * Cap on concurrent invocations per event source mapping (`ScalingConfig.MaximumConcurrency`).
       * For dispatch this is the default for every route's intake queue.
       */
      maxConcurrency: z
        .int()
        .min(2, 'must be at least 2 (the lowest MaximumConcurrency AWS accepts)')
        .max(1000)
        .default(defaults.maxConcurrency),
      /** Receives before SQS moves a message to the dead-letter queue. */
      maxReceiveCount: z.int().min(1).max(1000).default(defaults.maxReceiveCount),
      /** Visibility timeout of the consumed queue(s), seconds. @default 6 × timeoutSeconds */
      visibilityTimeoutSeconds: z.int().min(0).max(43_200).optional(),
      /** Records of one batch the function works on at once. */
      recordConcurrency: z.int().min(1).max(10).default(defaults.recordConcurrency),
    })
    .strict()
    .superRefine((s, ctx) => {
      if (s.batchSize > MAX_BATCH_WITHOUT_WINDOW && s.batchWindowSeconds === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['batchWindowSeconds'],
          message: `must be at least 1 when batchSize exceeds ${MAX_BATCH_WITHOUT_WINDOW} (an SQS event source rule)`,
        });
      }
    });
}

export const DispatchSettingsSchema = functionSettingsSchema({
  memoryMb: 1024,
  timeoutSeconds: 300,
  batchSize: 1,
  maxConcurrency: 5,
  maxReceiveCount: 8,
  recordConcurrency: 4,
});
export type DispatchSettings = z.infer<typeof DispatchSettingsSchema>;

export const CompletionSettingsSchema = functionSettingsSchema({
  memoryMb: 256,
  timeoutSeconds: 60,
  batchSize: 5,
  maxConcurrency: 2,
  maxReceiveCount: 10,
  recordConcurrency: 8,
});
export type CompletionSettings = z.infer<typeof CompletionSettingsSchema>;
export type FunctionSettings = DispatchSettings | CompletionSettings;

export const RouteSettingsSchema = z
  .object({
    /** Overrides `dispatch.maxConcurrency` for this route's intake queue. */
    maxConcurrency: z
      .int()
      .min(2, 'must be at least 2 (the lowest MaximumConcurrency AWS accepts)')
      .max(1000)
      .optional(),
  })
  .strict();

export const AlarmSettingsSchema = z
  .object({
    /** Alarm when the oldest message on a queue is older than this, seconds. */
    maxQueueAgeSeconds: z.int().min(60).default(3600),
    /** Alarm when a vendor's share of failed deliveries (failed / (completed + failed)) exceeds this, %. */
    maxFailureRatePercent: z.number().min(0).max(100).default(5),
    /** Alarm when a vendor's jobs rejected more than this share of the files it processed, %. */
    maxVendorRejectionPercent: z.number().min(0).max(100).default(10),
  })
  .strict();

export const OutageSettingsSchema = z
  .object({
    /**
     * How long files wait out a vendor-side failure (down, unreachable, throttling) before they are
     * parked in the DLQ, hours. Waiting does not spend the queue's receive budget.
     */
    horizonHours: z
      .number()
      .min(0.001)
      .max(14 * 24)
      .default(24),
    /** Consecutive outage failures of one vendor account that open its circuit breaker. */
    failureThreshold: z.int().min(1).max(1000).default(5),
    /** While a breaker is open, at most one delivery probes the vendor per this many seconds. */
    probeIntervalSeconds: z.int().min(1).max(3600).default(60),
    /**
     * Re-enqueue delay of a waiting file, seconds (±20 %; SQS allows 900 at most), once its first waits,
     * doubling from `retryBaseSeconds`, reach it (at once while the breaker is open). Every wait is at
     * least 0.8 × min(waitSeconds, retryBaseSeconds × 2^(attempt−1)), so a waiting file wakes at most
     * ⌈log2(waitSeconds / retryBaseSeconds)⌉ + 3600 / (0.8 × waitSeconds) times in any hour, about 4 SQS
     * and Lambda calls each (defaults: 20 wake-ups in its first hour, 15 after). A throttled file, or one
     * waiting before the breaker opens, calls the vendor on each wake-up. Also how soon files flow after
     * a recovery.
     */
    waitSeconds: z.int().min(1).max(900).default(300),
    /** A delivery still waiting for its vendor after this long is announced as needing attention, minutes. */
    attentionAfterMinutes: z.int().min(1).default(60),
  })
  .strict();
export type OutageSettings = z.infer<typeof OutageSettingsSchema>;

export const EventSettingsSchema = z
  .object({
    /**
     * EventBridge bus the delivery outcome events go to (name, or ARN for another account's bus).
     * @default the account's default bus
     */
    busName: z.string().min(1).optional(),
    /** Also deliver every event of this stack to an SQS queue the stack creates (`EventsQueueUrl`). */
    queue: z.boolean().default(false),
    /** Per route id: deliver that route's events to an SQS queue and/or an SNS topic the stack creates. */
    routes: z
      .record(
        z.string(),
        z.object({ sqs: z.boolean().default(false), sns: z.boolean().default(false) }).strict(),
      )
      .default({}),
  })
  .strict();

export const ResultSettingsSchema = z
  .object({
    /**
     * Key prefix of the result documents and vendor error files in the ingest bucket. Outside every
     * route's prefix (synth refuses an overlap), so a result never triggers a delivery.
     */
    prefix: z
      .string()
      .regex(/^[^/{}][^{}]*\/$/, 'a key prefix ending in "/", without "{" or "}", not starting with "/"')
      .default('_results/'),
    /** Largest vendor error file fetched into the results prefix, bytes; a bigger one is only linked. */
    maxErrorFileBytes: z
      .int()
      .min(1024)
      .max(5 * 1024 ** 3)
      .default(50 * 1024 * 1024),
    /** Tag each source object version with its outcome and vendor id. */
    tagObjects: z.boolean().default(true),
  })
  .strict();
export type ResultSettings = z.infer<typeof ResultSettingsSchema>;

export const StageConfigSchema = z
  .object({
    $schema: z.string().optional(),
    /** AWS account to deploy to. @default the CLI's account (`CDK_DEFAULT_ACCOUNT`) */
    account: z
      .string()
      .regex(/^\d{12}$/, '12 digits')
      .optional(),
    /** AWS region to deploy to. @default the CLI's region (`CDK_DEFAULT_REGION`) */
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'a region name such as ap-south-1')
      .optional(),
    /** Route file, relative to the repository root. */
    routesFile: z.string().min(1).default('config/routes.json'),
    dispatch: DispatchSettingsSchema.prefault({}),
    completion: CompletionSettingsSchema.prefault({}),
    /** Per-route settings, keyed by route id. */
    routes: z.record(z.string(), RouteSettingsSchema).default({}),
    /** Backoff base for retries through the queue, seconds. */
    retryBaseSeconds: z.number().min(0).default(10),
    /** Backoff cap, seconds (SQS visibility can be extended by at most 12 hours). */
    retryMaxSeconds: z.number().min(0).max(43_200).default(900),
    /** Seconds a vendor secret is cached in a warm function. */
    secretCacheSeconds: z.int().min(0).default(300),
    /** Timeout of one vendor API call, ms. */
    vendorTimeoutMs: z.int().min(100).default(10_000),
    /** Vendor outages: circuit breakers per vendor account, and how long files wait. */
    outage: OutageSettingsSchema.prefault({}),
    /** Where delivery outcomes go: EventBridge, optional queues and topics. */
    events: EventSettingsSchema.prefault({}),
    /** The write-back: result documents, vendor error files and object tags. */
    results: ResultSettingsSchema.prefault({}),
    /** An upload (or its S3 source) whose bytes stop flowing this long is aborted and retried, seconds. */
    stallTimeoutSeconds: z.int().min(1).max(900).default(60),
    /**
     * Dispatch calls the vendor's completion itself right after the upload (one ledger write for
     * "uploaded, completing", no completion message); anything but an accepted call hands the delivery
     * to the completion queue as before. `false`: every completion goes through the completion queue.
     */
    completeInline: z.boolean().default(true),
    /** First check of a vendor job's status after completion, seconds; the delay then doubles up to 900. */
    statusPollFirstSeconds: z.number().min(0).max(900).default(60),
    /** Stop following a vendor job after this many seconds. */
    statusPollMaxSeconds: z
      .int()
      .min(0)
      .default(6 * 3600),
    /** Days a delivery stays in the ledger once it has reached a terminal state (DynamoDB TTL). */
    ledgerRetentionDays: z.int().min(1).max(3650).default(DEFAULT_LEDGER_RETENTION_DAYS),
    /**
     * Principals (IAM role or user ARNs, or account ids) allowed to drop files, per route id: each may
     * write only under its route's prefix (plus the data key, when `kms` is on).
     */
    producers: z
      .record(
        z.string(),
        z.array(z.string().regex(PRINCIPAL, 'an IAM role/user ARN or a 12-digit account id')).min(1),
      )
      .default({}),
    /** Powertools log level. */
    logLevel: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
    /** CloudWatch Logs retention for both functions (and expiry of S3 access logs), days. */
    logRetentionDays: z
      .number()
      .refine((d): d is LogRetentionDays => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
        message: `one of ${LOG_RETENTION_DAYS.join(', ')}`,
      })
      .default(30),
    /** E-mail address subscribed to the alarm topic. @default no subscription */
    alarmEmail: z.email().optional(),
    alarms: AlarmSettingsSchema.prefault({}),
    /** Days a noncurrent object version stays in the ingest bucket. */
    noncurrentVersionExpiryDays: z.int().min(1).default(30),
    /** Keep the ingest bucket, its log bucket, the state table and log groups when the stack is deleted. */
    retain: z.boolean().default(false),
    /** Encrypt bucket, queues, table and alarm topic with one customer-managed KMS key. */
    kms: z.boolean().default(false),
    /**
     * Test variants only: accept a visibility timeout below 6 × the function timeout (so redeliveries
     * happen while a worker still runs) and a vendor call timeout above a function's timeout. AWS's
     * event source mapping refuses a queue whose visibility is below the function timeout, so such a
     * stack deploys only onto the embedded AWS.
     */
    relaxedChecks: z.boolean().default(false),
  })
  .strict();
export type StageConfig = z.infer<typeof StageConfigSchema>;
export type StageConfigInput = z.input<typeof StageConfigSchema>;

/** Every problem found in a stage's configuration (stage file, route file, cross-checks), at once. */
export class StageConfigError extends Error {
  constructor(
    readonly stage: string,
    readonly problems: readonly string[],
  ) {
    super(
      `configuration for stage "${stage}" is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n- ${problems.join('\n- ')}`,
    );
    this.name = 'StageConfigError';
  }
}

/** Formats zod issues as `where: field.path: message`. */
export function formatIssues(where: string, issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return `${where}: ${path ? `${path}: ` : ''}${issue.message}`;
  });
}

export interface LoadOptions {
  /** Directory holding `config/`. @default the repository root */
  readonly rootDir?: string;
}

/** Path of a stage's config file. */
export function stageConfigPath(stage: string, options: LoadOptions = {}): string {
  return join(options.rootDir ?? PROJECT_ROOT, 'config', 'stages', `${stage}.json`);
}

/** Reads and parses a JSON file, returning problems instead of throwing. */
export function readJson(path: string, label: string): { value?: unknown; problems: string[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return {
      problems: [`${label}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`],
    };
  }
  try {
    return { value: JSON.parse(text) as unknown, problems: [] };
  } catch (error) {
    return { problems: [`${label}: ${path} is not valid JSON (${(error as Error).message})`] };
  }
}

/** Validates a parsed stage file; returns the config or the list of problems. */
export function parseStageConfig(
  stage: string,
  raw: unknown,
): { config: StageConfig; problems: [] } | { config?: undefined; problems: string[] } {
  const problems: string[] = [];
  if (!STAGE_NAME.test(stage)) {
    problems.push(
      `stage name "${stage}": lower-case letters, digits and dashes, starting with a letter, at most 16`,
    );
  }
  const parsed = StageConfigSchema.safeParse(raw);
  if (!parsed.success) problems.push(...formatIssues(`config/stages/${stage}.json`, parsed.error.issues));
  if (problems.length > 0 || !parsed.success) return { problems };
  return { config: parsed.data, problems: [] };
}

/**
 * Loads `config/stages/<stage>.json` and validates it, throwing {@link StageConfigError} with every
 * problem. Cross-checks against the route file live in `loadDeploymentConfig` (deployment-config.ts).
 */
export function loadStageConfig(stage: string, options: LoadOptions = {}): StageConfig {
  const file = readJson(stageConfigPath(stage, options), `stage "${stage}"`);
  if (file.problems.length > 0) throw new StageConfigError(stage, file.problems);
  const result = parseStageConfig(stage, file.value);
  if (!result.config) throw new StageConfigError(stage, result.problems);
  return result.config;
}
