/**
 * Physical names of the stack's queues, table and functions. They derive from the stage and an
 * optional instance name (`-c instance=alice`), so two stages, or two people's copies of one stage,
 * coexist in one account; operators recognise them in the console. The dead-letter queue of a queue
 * is always its name plus {@link DEAD_LETTER_SUFFIX}: dispatch finds a record's DLQ from its source
 * queue that way.
 */
import { DEAD_LETTER_SUFFIX } from '../functions/shared/deployment';

export { DEAD_LETTER_SUFFIX };

/** Instance names become part of stack and resource names. */
export const INSTANCE_NAME = /^[a-z][a-z0-9]{0,11}$/;

/** SQS rejects longer queue names. */
export const SQS_QUEUE_NAME_MAX = 80;

/** Value of `POWERTOOLS_SERVICE_NAME`; also the `service` dimension Powertools adds to every metric. */
export const SERVICE_NAME = 'vendor-ingest';

/** CloudWatch namespace of the pipeline's own metrics (`POWERTOOLS_METRICS_NAMESPACE`). */
export const METRICS_NAMESPACE = 'VendorIngest';

/** CloudFormation stack name of a stage (and instance). */
export function stackNameFor(stage: string, instance?: string): string {
  return instance ? `VendorIngest-${stage}-${instance}` : `VendorIngest-${stage}`;
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

export function resourceNames(stage: string, instance?: string): ResourceNames {
  const prefix = instance ? `${SERVICE_NAME}-${stage}-${instance}` : `${SERVICE_NAME}-${stage}`;
  return {
    prefix,
    intakeQueue: (routeId) => `${prefix}-${routeId}-intake`,
    intakeDeadLetterQueue: (routeId) => `${prefix}-${routeId}-intake${DEAD_LETTER_SUFFIX}`,
    completionQueue: `${prefix}-completion`,
    completionDeadLetterQueue: `${prefix}-completion${DEAD_LETTER_SUFFIX}`,
    stateTable: `${prefix}-state`,
    dispatchFunction: `${prefix}-dispatch`,
    completionFunction: `${prefix}-completion`,
    dashboard: prefix,
    alarmPrefix: prefix,
  };
}
