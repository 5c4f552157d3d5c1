/**
 * The few facts the CDK app and the functions must agree on beyond environment variable names
 * (those are in env.ts). Infrastructure imports them from here; this module imports nothing.
 */

/**
 * The resolved-routes document travels inside each function's deployment package, next to the
 * handler module, under this name (the stack copies it there when it bundles). Not in the
 * environment: Lambda caps that at 4 KB, which a handful of routes fill.
 */
export const BUNDLED_ROUTES_FILE = 'routes.json';

/** The state table's index of deliveries by state (`gsi1pk` = `state#<state>`, `gsi1sk` = last change). */
export const STATE_INDEX = 'gsi1';

/** The state table's index of deliveries by route (`gsi2pk` = `route#<id>`, `gsi2sk` = `<created>#<key>`). */
export const ROUTE_INDEX = 'gsi2';

/** A queue's dead-letter queue is named after it with this suffix. */
export const DEAD_LETTER_SUFFIX = '-dlq';

/** ARN of the dead-letter queue of the queue with this ARN (see {@link DEAD_LETTER_SUFFIX}). */
export function deadLetterQueueArnOf(queueArn: string): string {
  return `${queueArn}${DEAD_LETTER_SUFFIX}`;
}

/**
 * Days a terminal delivery stays in the ledger (DynamoDB TTL) unless the stage says otherwise
 * (`ledgerRetentionDays`): the stage schema's default and the ledger's own.
 */
export const DEFAULT_LEDGER_RETENTION_DAYS = 90;

/** `source` of every event the pipeline publishes. */
export const EVENT_SOURCE = 'vendor-ingest';
