import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ROUTE_INDEX, STATE_INDEX } from '../functions/shared/deployment';
import type { BreakerItem } from '../functions/shared/state/breaker';
import type { TableRef } from '../functions/shared/state/dynamo';
import {
  type DeliveryKey,
  DeliveryLedger,
  type DeliveryRecord,
  type DeliveryState,
  deliveryPartitionOf,
  type LedgerOptions,
} from '../functions/shared/state/ledger';

/**
 * The operator's side of the delivery ledger: listings from the table's indexes (never a scan) and
 * the operator transitions of the state machine (replay, resolve). The functions never call these,
 * so they are not in the functions' bundles; the CLI and the console share them.
 */
export class LedgerAdmin {
  private readonly ledger: DeliveryLedger;

  constructor(private readonly options: LedgerOptions & TableRef) {
    this.ledger = new DeliveryLedger(options);
  }

  get(key: DeliveryKey): Promise<DeliveryRecord | undefined> {
    return this.ledger.get(key);
  }

  /** Every recorded version of one object key, newest first. */
  async listByKey(bucket: string, key: string): Promise<DeliveryRecord[]> {
    const items: DeliveryRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.options.doc.send(
        new QueryCommand({
          TableName: this.options.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': deliveryPartitionOf(bucket, key) },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...((out.Items ?? []) as DeliveryRecord[]));
      start = out.LastEvaluatedKey;
    } while (start);
    return items.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /** Deliveries currently in `state`, most recently changed first (the state index, eventually consistent). */
  async listByState(
    state: DeliveryState,
    options: { limit?: number; before?: string; after?: string } = {},
  ): Promise<DeliveryRecord[]> {
    const range = rangeCondition('gsi1sk', options);
    const out = await this.options.doc.send(
      new QueryCommand({
        TableName: this.options.tableName,
        IndexName: STATE_INDEX,
        KeyConditionExpression: `gsi1pk = :p${range.expression}`,
        ExpressionAttributeValues: { ':p': `state#${state}`, ...range.values },
        ScanIndexForward: false,
        Limit: options.limit ?? 50,
      }),
    );
    return (out.Items ?? []) as DeliveryRecord[];
  }

  /**
   * Deliveries of one route by creation time, newest first (the route index): `before`/`after` bound
   * the creation time (ISO-8601, exclusive / inclusive), `keyPrefix` narrows to keys starting with it.
   */
  async listByRoute(
    routeId: string,
    options: { limit?: number; before?: string; after?: string; keyPrefix?: string } = {},
  ): Promise<DeliveryRecord[]> {
    const range = rangeCondition('gsi2sk', options);
    const limit = options.limit ?? 50;
    const items: DeliveryRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.options.doc.send(
        new QueryCommand({
          TableName: this.options.tableName,
          IndexName: ROUTE_INDEX,
          KeyConditionExpression: `gsi2pk = :p${range.expression}`,
          ...(options.keyPrefix
            ? { FilterExpression: 'begins_with(#k, :kp)', ExpressionAttributeNames: { '#k': 'key' } }
            : {}),
          ExpressionAttributeValues: {
            ':p': `route#${routeId}`,
            ...range.values,
            ...(options.keyPrefix ? { ':kp': options.keyPrefix } : {}),
          },
          ScanIndexForward: false,
          Limit: limit,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...((out.Items ?? []) as DeliveryRecord[]));
      start = out.LastEvaluatedKey;
      // A key-prefix filter may leave a page short: read on until the page is full or the index ends.
    } while (start && items.length < limit && options.keyPrefix);
    return items.slice(0, limit);
  }

  /** Every vendor account's circuit breaker that has recorded anything (the state index, `breakers`). */
  async listBreakers(): Promise<BreakerItem[]> {
    const out = await this.options.doc.send(
      new QueryCommand({
        TableName: this.options.tableName,
        IndexName: STATE_INDEX,
        KeyConditionExpression: 'gsi1pk = :p',
        ExpressionAttributeValues: { ':p': 'breakers' },
      }),
    );
    return ((out.Items ?? []) as Array<BreakerItem & { gsi1sk: string }>).map((item) => ({
      ...item,
      key: item.gsi1sk,
      failures: Number(item.failures ?? 0),
    }));
  }

  /**
   * Operator action: deliver this version again. Resets the item to RECEIVED (keeping its history and a
   * replay count); the caller then re-sends the notification. Undefined when a worker holds it now.
   */
  async replay(key: DeliveryKey, operator: string): Promise<DeliveryRecord | undefined> {
    const out = await this.ledger.transition('operator.replay', key, {
      values: { refs: {} },
      note: `replay requested by ${operator}`,
    });
    return out.written ? out.record : undefined;
  }

  /**
   * Operator action for COMPLETION_UNCERTAIN: `completed` after checking the vendor shows the job,
   * `retry` to call the vendor again (back to UPLOADED; the caller re-sends the completion message).
   */
  async resolve(
    key: DeliveryKey,
    as: 'completed' | 'retry',
    operator: string,
  ): Promise<DeliveryRecord | undefined> {
    const out =
      as === 'completed'
        ? await this.ledger.transition('operator.resolveCompleted', key, {
            values: { completedAt: new Date(this.ledger.now()).toISOString() },
            note: `resolved as completed by ${operator}`,
          })
        : await this.ledger.transition('operator.resolveRetry', key, {
            note: `resolved as retry by ${operator}`,
          });
    return out.written ? out.record : undefined;
  }
}

/** `AND <sk> < :before` / `>= :after` for a sort key that starts with an ISO-8601 time. */
function rangeCondition(
  sortKey: string,
  options: { before?: string; after?: string },
): { expression: string; values: Record<string, string> } {
  if (options.before && options.after) {
    return {
      expression: ` AND ${sortKey} BETWEEN :after AND :before`,
      values: { ':after': options.after, ':before': options.before },
    };
  }
  if (options.before)
    return { expression: ` AND ${sortKey} < :before`, values: { ':before': options.before } };
  if (options.after) return { expression: ` AND ${sortKey} >= :after`, values: { ':after': options.after } };
  return { expression: '', values: {} };
}
