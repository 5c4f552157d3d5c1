import { Env } from '../functions/shared/env';
import { METRICS_NAMESPACE, SERVICE_NAME } from './naming';

/**
 * The environment of the two functions, built in one place from plain values. The stack calls these
 * with CloudFormation tokens; the synth-time size check calls them with the longest values those
 * tokens can resolve to, so both see exactly the same variables.
 */

/** Powertools' log level variable (declared with the others in functions/shared/env.ts). */
export const POWERTOOLS_LOG_LEVEL = Env.POWERTOOLS_LOG_LEVEL;
/** Node's own variable; the bundles ship source maps. */
export const NODE_OPTIONS = 'NODE_OPTIONS';

/**
 * Lambda's limit on a function's environment. Lambda measures the variables serialised as one JSON
 * object (its error message quotes the "String measured"), so quotes inside values count twice.
 */
export const LAMBDA_ENVIRONMENT_MAX_BYTES = 4096;

export interface CommonEnvironmentValues {
  readonly stage: string;
  /** The resolved-routes document as JSON. */
  readonly routesJson: string;
  readonly completionQueueUrl: string;
  readonly stateTableName: string;
  /** `maxReceiveCount` of the queue the function consumes. */
  readonly maxReceiveCount: number;
  readonly secretCacheSeconds: number;
  readonly vendorTimeoutMs: number;
  readonly retryBaseSeconds: number;
  readonly retryMaxSeconds: number;
  readonly logLevel: string;
}

export interface DispatchEnvironmentValues extends CommonEnvironmentValues {
  /** JSON object: intake queue ARN → URL of its dead-letter queue. */
  readonly intakeDlqUrlsJson: string;
}

export interface CompletionEnvironmentValues extends CommonEnvironmentValues {
  readonly completionDlqUrl: string;
}

function common(v: CommonEnvironmentValues): Record<string, string> {
  return {
    [Env.STAGE]: v.stage,
    [Env.ROUTES_JSON]: v.routesJson,
    [Env.COMPLETION_QUEUE_URL]: v.completionQueueUrl,
    [Env.MAX_RECEIVE_COUNT]: String(v.maxReceiveCount),
    [Env.STATE_TABLE]: v.stateTableName,
    [Env.SECRET_CACHE_SECONDS]: String(v.secretCacheSeconds),
    [Env.VENDOR_TIMEOUT_MS]: String(v.vendorTimeoutMs),
    [Env.RETRY_BASE_SECONDS]: String(v.retryBaseSeconds),
    [Env.RETRY_MAX_SECONDS]: String(v.retryMaxSeconds),
    [Env.POWERTOOLS_SERVICE_NAME]: SERVICE_NAME,
    [Env.POWERTOOLS_METRICS_NAMESPACE]: METRICS_NAMESPACE,
    [POWERTOOLS_LOG_LEVEL]: v.logLevel,
    [NODE_OPTIONS]: '--enable-source-maps',
  };
}

/** Environment of the dispatch function (see `DispatchEnvSchema`). */
export function dispatchEnvironment(v: DispatchEnvironmentValues): Record<string, string> {
  return { ...common(v), [Env.INTAKE_DLQ_URLS]: v.intakeDlqUrlsJson };
}

/** Environment of the completion function (see `CompletionEnvSchema`). */
export function completionEnvironment(v: CompletionEnvironmentValues): Record<string, string> {
  return { ...common(v), [Env.COMPLETION_DLQ_URL]: v.completionDlqUrl };
}

/** Size of an environment as Lambda measures it. */
export function environmentBytes(env: Readonly<Record<string, string>>): number {
  return Buffer.byteLength(JSON.stringify(env), 'utf8');
}
