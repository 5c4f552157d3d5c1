import { Env } from '../functions/shared/env';
import type { OutageSettings, ResultSettings } from './config/stage-config';
import { METRICS_NAMESPACE, SERVICE_NAME } from './naming';

/**
 * The environment of the two functions, built in one place from plain values (the stack passes
 * CloudFormation tokens for the queue URLs). Every variable the functions read is set here: the
 * functions' schemas have no defaults of their own, so a value lives in the stage config only.
 */

/** Node's own variable; the bundles ship source maps. */
const NODE_OPTIONS = 'NODE_OPTIONS';

export interface CommonEnvironmentValues {
  readonly stage: string;
  readonly completionQueueUrl: string;
  readonly stateTableName: string;
  /** `maxReceiveCount` of the queue the function consumes. */
  readonly maxReceiveCount: number;
  /** Records of one batch worked on at once. */
  readonly recordConcurrency: number;
  readonly secretCacheSeconds: number;
  readonly vendorTimeoutMs: number;
  readonly retryBaseSeconds: number;
  readonly retryMaxSeconds: number;
  readonly ledgerRetentionDays: number;
  readonly logLevel: string;
  readonly outage: OutageSettings;
  readonly stallTimeoutSeconds: number;
  readonly eventBusName: string;
  readonly stackName: string;
  readonly results: ResultSettings;
  /** Both functions complete (dispatch right after its upload) and schedule the first status check. */
  readonly statusPollFirstSeconds: number;
  readonly statusPollMaxSeconds: number;
  /** Both park a completion that failed for good (dispatch when it completes at once). */
  readonly completionDlqUrl: string;
}

export interface DispatchEnvironmentValues extends CommonEnvironmentValues {
  readonly completeInline: boolean;
}

export type CompletionEnvironmentValues = CommonEnvironmentValues;

function common(v: CommonEnvironmentValues): Record<string, string> {
  return {
    [Env.STAGE]: v.stage,
    [Env.COMPLETION_QUEUE_URL]: v.completionQueueUrl,
    [Env.COMPLETION_DLQ_URL]: v.completionDlqUrl,
    [Env.MAX_RECEIVE_COUNT]: String(v.maxReceiveCount),
    [Env.RECORD_CONCURRENCY]: String(v.recordConcurrency),
    [Env.STATE_TABLE]: v.stateTableName,
    [Env.SECRET_CACHE_SECONDS]: String(v.secretCacheSeconds),
    [Env.VENDOR_TIMEOUT_MS]: String(v.vendorTimeoutMs),
    [Env.RETRY_BASE_SECONDS]: String(v.retryBaseSeconds),
    [Env.RETRY_MAX_SECONDS]: String(v.retryMaxSeconds),
    [Env.LEDGER_RETENTION_DAYS]: String(v.ledgerRetentionDays),
    [Env.OUTAGE_HORIZON_SECONDS]: String(Math.round(v.outage.horizonHours * 3600)),
    [Env.BREAKER_FAILURE_THRESHOLD]: String(v.outage.failureThreshold),
    [Env.BREAKER_PROBE_SECONDS]: String(v.outage.probeIntervalSeconds),
    [Env.WAIT_SECONDS]: String(v.outage.waitSeconds),
    [Env.ATTENTION_AFTER_SECONDS]: String(v.outage.attentionAfterMinutes * 60),
    [Env.STALL_TIMEOUT_SECONDS]: String(v.stallTimeoutSeconds),
    [Env.EVENT_BUS_NAME]: v.eventBusName,
    [Env.STACK_NAME]: v.stackName,
    [Env.RESULTS_PREFIX]: v.results.prefix,
    [Env.ERROR_FILE_MAX_BYTES]: String(v.results.maxErrorFileBytes),
    [Env.TAG_OBJECTS]: String(v.results.tagObjects),
    [Env.STATUS_POLL_FIRST_SECONDS]: String(v.statusPollFirstSeconds),
    [Env.STATUS_POLL_MAX_SECONDS]: String(v.statusPollMaxSeconds),
    [Env.POWERTOOLS_SERVICE_NAME]: SERVICE_NAME,
    [Env.POWERTOOLS_METRICS_NAMESPACE]: METRICS_NAMESPACE,
    [Env.POWERTOOLS_LOG_LEVEL]: v.logLevel,
    [NODE_OPTIONS]: '--enable-source-maps',
  };
}

/** Environment of the dispatch function (see `DispatchEnvSchema`). */
export function dispatchEnvironment(v: DispatchEnvironmentValues): Record<string, string> {
  return { ...common(v), [Env.COMPLETE_INLINE]: String(v.completeInline) };
}

/** Environment of the completion function (see `CompletionEnvSchema`). */
export function completionEnvironment(v: CompletionEnvironmentValues): Record<string, string> {
  return common(v);
}
