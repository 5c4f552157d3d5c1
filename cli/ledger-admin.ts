import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ROUTE_INDEX, STATE_INDEX } from '../functions/shared/deployment';
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

  /**
   * Deliveries of several routes, newest first by creation time: one query per route on the route
   * index (`gsi2pk = route#<id>`, `gsi2sk = <createdAt>#<key>`), merged — never a table scan. State
   * and key prefix are filters on those queries; `from`/`to` bound the creation time. Pages continue
   * from `cursor` (the previous page's `next`). Each route reads one match more than a page, or at
   * most {@link MAX_EVALUATED} index items when a filter is rare; a page holds only what the merge
   * can prove is in order (nothing below the highest point a route stopped at), and `next` goes on
   * from there.
   */
  async listDeliveries(query: DeliveryQuery): Promise<DeliveryPage> {
    const limit = Math.max(1, Math.min(query.limit ?? 50, 500));
    const after = query.cursor ? decodeCursor(query.cursor) : undefined;
    let upper: { value: string; inclusive: boolean } | undefined = query.to
      ? { value: query.to, inclusive: false }
      : undefined;
    if (after && (!upper || after.t < upper.value)) upper = { value: after.t, inclusive: true };
    const lower = query.from;
    if (upper && lower && lower > upper.value) return { items: [] };

    const reads = await mapLimited(query.routeIds, 8, (routeId) =>
      this.readRoute(routeId, { lower, upper, state: query.state, keyPrefix: query.keyPrefix, limit }),
    );
    // A route that stopped before the end of its partition may hold more matches below the point it
    // stopped at; only items at or above the highest such point are known to be in order.
    const floor = reads.reduce<string | undefined>(
      (f, r) => (r.floor !== undefined && (f === undefined || r.floor > f) ? r.floor : f),
      undefined,
    );
    const candidates = reads
      .flatMap((r) => r.items)
      .filter((item) => !after || comparePosition(positionOf(item), after) > 0)
      .filter((item) => floor === undefined || positionOf(item).t >= floor)
      .sort((a, b) => comparePosition(positionOf(a), positionOf(b)));
    const items = candidates.slice(0, limit);
    const last = items.at(-1);
    const more = candidates.length > limit || floor !== undefined;
    if (!more) return { items };
    const next: Position = last ? positionOf(last) : { t: floor ?? '', pk: '', sk: '' };
    return { items, next: encodeCursor(next) };
  }

  /**
   * One route's part of a page for {@link listDeliveries}: up to one more match than a page (or
   * {@link MAX_EVALUATED} index items), and where it stopped when the partition goes on.
   */
  private async readRoute(
    routeId: string,
    q: {
      lower?: string;
      upper?: { value: string; inclusive: boolean };
      state?: DeliveryState;
      keyPrefix?: string;
      limit: number;
    },
  ): Promise<{ items: DeliveryRecord[]; floor?: string }> {
    const values: Record<string, unknown> = { ':p': `route#${routeId}` };
    let range = '';
    if (q.lower && q.upper) {
      range = ' AND gsi2sk BETWEEN :lo AND :hi';
      values[':lo'] = q.lower;
      values[':hi'] = q.upper.value;
    } else if (q.upper) {
      range = ` AND gsi2sk ${q.upper.inclusive ? '<=' : '<'} :hi`;
      values[':hi'] = q.upper.value;
    } else if (q.lower) {
      range = ' AND gsi2sk >= :lo';
      values[':lo'] = q.lower;
    }
    const filters: string[] = [];
    const names: Record<string, string> = {};
    if (q.state) {
      filters.push('#s = :s');
      names['#s'] = 'state';
      values[':s'] = q.state;
    }
    if (q.keyPrefix) {
      filters.push('begins_with(#k, :kp)');
      names['#k'] = 'key';
      values[':kp'] = q.keyPrefix;
    }
    const items: DeliveryRecord[] = [];
    let evaluated = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.options.doc.send(
        new QueryCommand({
          TableName: this.options.tableName,
          IndexName: ROUTE_INDEX,
          KeyConditionExpression: `gsi2pk = :p${range}`,
          ...(filters.length > 0
            ? { FilterExpression: filters.join(' AND '), ExpressionAttributeNames: names }
            : {}),
          ExpressionAttributeValues: values,
          ScanIndexForward: false,
          // One more than a page, so the merge knows whether this route has more.
          Limit: filters.length > 0 ? Math.min(MAX_EVALUATED, Math.max(q.limit + 1, 100)) : q.limit + 1,
          ExclusiveStartKey: start,
        }),
      );
      evaluated += out.ScannedCount ?? out.Count ?? 0;
      items.push(...((out.Items ?? []) as DeliveryRecord[]));
      start = out.LastEvaluatedKey;
    } while (start && items.length <= q.limit && evaluated < MAX_EVALUATED);
    // Stopped before the end of the partition: more may lie below where it stopped.
    return start ? { items, floor: String((start as { gsi2sk?: string }).gsi2sk ?? '') } : { items };
  }

  /**
   * The vendor accounts' circuit breakers: state-table items `pk = breaker#<accountKey>`, listed by
   * one query on the state index (`gsi1pk = breakers`). Empty when no breaker was ever opened.
   */
  async listBreakers(): Promise<Breaker[]> {
    const items: Breaker[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.options.doc.send(
        new QueryCommand({
          TableName: this.options.tableName,
          IndexName: STATE_INDEX,
          KeyConditionExpression: 'gsi1pk = :p',
          ExpressionAttributeValues: { ':p': 'breakers' },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of out.Items ?? []) {
        items.push({
          accountKey: String(item.gsi1sk ?? String(item.pk ?? '').replace(/^breaker#/, '')),
          vendor: typeof item.vendor === 'string' ? item.vendor : undefined,
          state: item.state === 'open' ? 'open' : 'closed',
          openedAt: typeof item.openedAt === 'string' ? item.openedAt : undefined,
          failures: typeof item.failures === 'number' ? item.failures : undefined,
          lastError: typeof item.lastError === 'string' ? item.lastError : undefined,
          updatedAt: typeof item.updatedAt === 'string' ? item.updatedAt : undefined,
          reason: typeof item.reason === 'string' ? item.reason : undefined,
          openUntil: typeof item.openUntil === 'number' ? item.openUntil : undefined,
        });
      }
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
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

/** Index items one page of {@link LedgerAdmin.listDeliveries} reads per route at most. */
const MAX_EVALUATED = 2000;

export interface DeliveryQuery {
  /** Routes to list (their partitions of the route index). */
  readonly routeIds: readonly string[];
  readonly state?: DeliveryState;
  /** Created at or after (ISO-8601). */
  readonly from?: string;
  /** Created before (ISO-8601). */
  readonly to?: string;
  readonly keyPrefix?: string;
  /** Page size. @default 50 */
  readonly limit?: number;
  /** Continue after the page that returned this `next`. */
  readonly cursor?: string;
}

export interface DeliveryPage {
  readonly items: DeliveryRecord[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  readonly next?: string;
}

/** A vendor account's circuit breaker, as the state table holds it. */
export interface Breaker {
  readonly accountKey: string;
  readonly vendor?: string;
  readonly state: 'closed' | 'open';
  readonly openedAt?: string;
  /** Consecutive retryable failures. */
  readonly failures?: number;
  readonly lastError?: string;
  readonly updatedAt?: string;
  /** Why it opened (consecutive failures, a spent mint budget). */
  readonly reason?: string;
  /** Opened for a known time: no probe before this (epoch ms). */
  readonly openUntil?: number;
}

/** Where an item sits in the listing order: creation time and key (`gsi2sk`) descending, then pk, sk. */
interface Position {
  readonly t: string;
  readonly pk: string;
  readonly sk: string;
}

function positionOf(item: DeliveryRecord): Position {
  const t = (item as { gsi2sk?: string }).gsi2sk ?? `${item.createdAt}#${item.key}`;
  return { t, pk: item.pk, sk: item.sk };
}

/** Negative when `a` comes first (newer), positive when it comes after `b`. */
function comparePosition(a: Position, b: Position): number {
  if (a.t !== b.t) return a.t > b.t ? -1 : 1;
  if (a.pk !== b.pk) return a.pk > b.pk ? -1 : 1;
  if (a.sk !== b.sk) return a.sk > b.sk ? -1 : 1;
  return 0;
}

function encodeCursor(p: Position): string {
  return Buffer.from(JSON.stringify([p.t, p.pk, p.sk])).toString('base64url');
}

function decodeCursor(cursor: string): Position {
  try {
    const [t, pk, sk] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof t === 'string' && typeof pk === 'string' && typeof sk === 'string') return { t, pk, sk };
  } catch {
    // fall through
  }
  throw new Error('not a cursor of this listing');
}

/** `fn` over `items`, at most `limit` at a time, results in order. */
async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
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
