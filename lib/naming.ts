/**
 * Physical names of the stack's queues and table. They are fixed (not CloudFormation-generated) so
 * that the functions' environment, which carries queue URLs and ARNs, has a size known at synth
 * (Lambda caps it at 4 KB) and so operators recognise them in the console.
 */

/** SQS rejects longer queue names. */
export const SQS_QUEUE_NAME_MAX = 80;

/** Value of `POWERTOOLS_SERVICE_NAME`; also the `service` dimension Powertools adds to every metric. */
export const SERVICE_NAME = 'vendor-ingest';

/** CloudWatch namespace of the pipeline's own metrics (`POWERTOOLS_METRICS_NAMESPACE`). */
export const METRICS_NAMESPACE = 'VendorIngest';

/** CloudFormation stack name of a stage. */
export function stackNameFor(stage: string): string {
  return `VendorIngest-${stage}`;
}

/** `cleartax-sales` → `CleartaxSales`: construct ids and output names. */
export function pascalCase(id: string): string {
  return id
    .split(/[^A-Za-z0-9]+/)
    .filter((part) => part.length > 0)
    .map((part) => (part[0] ?? '').toUpperCase() + part.slice(1))
    .join('');
}

export interface ResourceNames {
  /** Prefix shared by every name: `vendor-ingest-<stage>`. */
  readonly prefix: string;
  intakeQueue(routeId: string): string;
  intakeDeadLetterQueue(routeId: string): string;
  readonly completionQueue: string;
  readonly completionDeadLetterQueue: string;
  readonly stateTable: string;
  readonly dispatchFunction: string;
  readonly completionFunction: string;
  readonly dashboard: string;
  readonly alarmPrefix: string;
}

export function resourceNames(stage: string): ResourceNames {
  const prefix = `${SERVICE_NAME}-${stage}`;
  return {
    prefix,
    intakeQueue: (routeId) => `${prefix}-${routeId}-intake`,
    intakeDeadLetterQueue: (routeId) => `${prefix}-${routeId}-intake-dlq`,
    completionQueue: `${prefix}-completion`,
    completionDeadLetterQueue: `${prefix}-completion-dlq`,
    stateTable: `${prefix}-state`,
    dispatchFunction: `${prefix}-dispatch`,
    completionFunction: `${prefix}-completion`,
    dashboard: prefix,
    alarmPrefix: prefix,
  };
}
