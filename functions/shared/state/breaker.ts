import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ErrorCode, type PipelineError } from '../errors';
import { isConditionFailure, type TableRef } from './dynamo';

/**
 * A circuit breaker per vendor account, shared by both functions through the state table. After
 * `failureThreshold` consecutive vendor-side failures it opens; while open, no delivery calls the
 * vendor (files wait, re-enqueued with a delay) except one probe per `probeIntervalMs`, granted by a
 * conditional write; a success closes it. A spent token-mint budget opens it until a set time.
 *
 * Item: `pk = breaker#<key>`, `sk = breaker`, listed by `gsi1pk = breakers` (the operator's view).
 * On the happy path it costs no write: each warm function reads it at most once per `cacheMs`, and
 * a success writes only when failures were recorded.
 */

/** Failure codes that count toward opening: the vendor is down or unreachable (not throttling, not our own faults). */
const OUTAGE_CODES: ReadonlySet<string> = new Set([
  ErrorCode.VENDOR_UNAVAILABLE,
  ErrorCode.VENDOR_UNREACHABLE,
]);

/** True for a failure that says the vendor itself is down or unreachable. */
export function isOutage(error: unknown): boolean {
  return OUTAGE_CODES.has((error as PipelineError | undefined)?.code ?? '');
}

export interface BreakerSettings {
  /** Consecutive outage failures that open the breaker. */
  readonly failureThreshold: number;
  /** At most one probe per this interval while open, ms. */
  readonly probeIntervalMs: number;
  /** How long a function trusts its last read of a breaker, ms. */
  readonly cacheMs?: number;
}

export interface BreakerItem {
  readonly key: string;
  readonly vendor?: string;
  readonly state: 'closed' | 'open';
  readonly failures: number;
  readonly openedAt?: string;
  /** Opened for a known time (the mint budget): no probe before this, epoch ms. */
  readonly openUntil?: number;
  readonly probeUntil?: number;
  readonly lastError?: string;
  readonly reason?: string;
  readonly updatedAt?: string;
}

/** What a caller may do now. */
export type BreakerVerdict =
  | { readonly kind: 'pass' }
  /** The breaker is open and this caller is its one probe for the interval. */
  | { readonly kind: 'probe'; readonly item: BreakerItem }
  /** The breaker is open: wait (at least until `retryAt`, epoch ms). */
  | { readonly kind: 'wait'; readonly item: BreakerItem; readonly retryAt: number };

/** Transitions a caller reports, for metrics and logs. */
export type BreakerChange = 'opened' | 'closed' | undefined;

interface Cached {
  item: BreakerItem;
  readAt: number;
}

export class DynamoBreakers {
  private readonly cache = new Map<string, Cached>();
  private readonly now: () => number;

  constructor(private readonly options: TableRef & BreakerSettings & { readonly now?: () => number }) {
    this.now = options.now ?? Date.now;
  }

  private pk(key: string): { pk: string; sk: string } {
    return { pk: `breaker#${key}`, sk: 'breaker' };
  }

  private remember(key: string, raw: Record<string, unknown> | undefined): BreakerItem {
    const item: BreakerItem = raw
      ? ({ ...(raw as unknown as BreakerItem), key, failures: Number(raw.failures ?? 0) } as BreakerItem)
      : { key, state: 'closed', failures: 0 };
    this.cache.set(key, { item, readAt: this.now() });
    return item;
  }

  private async read(key: string): Promise<BreakerItem> {
    const cached = this.cache.get(key);
    if (cached && this.now() - cached.readAt < (this.options.cacheMs ?? 5_000)) return cached.item;
    const out = await this.options.doc.send(
      new GetCommand({ TableName: this.options.tableName, Key: this.pk(key), ConsistentRead: true }),
    );
    return this.remember(key, out.Item);
  }

  /** The breaker as this function last saw it (for logs), or a read now. */
  current(key: string): Promise<BreakerItem> {
    return this.read(key);
  }

  /** May a delivery call the vendor of `key` now? */
  async check(key: string): Promise<BreakerVerdict> {
    const item = await this.read(key);
    if (item.state !== 'open') return { kind: 'pass' };
    const now = this.now();
    const notBefore = Math.max(item.openUntil ?? 0, item.probeUntil ?? 0);
    if (notBefore > now) return { kind: 'wait', item, retryAt: notBefore };
    // One probe per interval, across every function: a conditional write decides who.
    const probeUntil = now + this.options.probeIntervalMs;
    try {
      const out = await this.options.doc.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: this.pk(key),
          UpdateExpression: 'SET probeUntil = :until, updatedAt = :at',
          ConditionExpression:
            '#s = :open AND (attribute_not_exists(probeUntil) OR probeUntil < :now) AND (attribute_not_exists(openUntil) OR openUntil < :now)',
          ExpressionAttributeNames: { '#s': 'state' },
          ExpressionAttributeValues: {
            ':until': probeUntil,
            ':at': new Date(now).toISOString(),
            ':open': 'open',
            ':now': now,
          },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { kind: 'probe', item: this.remember(key, out.Attributes) };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // Someone else probes (or it closed meanwhile): read it fresh.
      this.cache.delete(key);
      const fresh = await this.read(key);
      if (fresh.state !== 'open') return { kind: 'pass' };
      return {
        kind: 'wait',
        item: fresh,
        retryAt: Math.max(fresh.openUntil ?? 0, fresh.probeUntil ?? now + this.options.probeIntervalMs),
      };
    }
  }

  /** A vendor call succeeded: close an open breaker, reset the failure count (no write when there was none). */
  async success(key: string): Promise<BreakerChange> {
    const item = await this.read(key);
    if (item.state !== 'open' && item.failures === 0) return undefined;
    const out = await this.options.doc.send(
      new UpdateCommand({
        TableName: this.options.tableName,
        Key: this.pk(key),
        UpdateExpression:
          'SET #s = :closed, failures = :zero, updatedAt = :at REMOVE openedAt, openUntil, probeUntil, reason',
        ExpressionAttributeNames: { '#s': 'state' },
        ExpressionAttributeValues: {
          ':closed': 'closed',
          ':zero': 0,
          ':at': new Date(this.now()).toISOString(),
        },
        ReturnValues: 'ALL_OLD',
      }),
    );
    this.remember(key, { ...(out.Attributes ?? {}), state: 'closed', failures: 0 });
    return out.Attributes?.state === 'open' ? 'closed' : undefined;
  }

  /** A vendor call failed with an outage: count it, and open the breaker at the threshold. */
  async failure(key: string, vendor: string, message: string): Promise<BreakerChange> {
    const now = this.now();
    const at = new Date(now).toISOString();
    const out = await this.options.doc.send(
      new UpdateCommand({
        TableName: this.options.tableName,
        Key: this.pk(key),
        UpdateExpression:
          'SET failures = if_not_exists(failures, :zero) + :one, lastError = :e, vendor = :v, updatedAt = :at, #s = if_not_exists(#s, :closed), gsi1pk = :g, gsi1sk = :k',
        ExpressionAttributeNames: { '#s': 'state' },
        ExpressionAttributeValues: {
          ':zero': 0,
          ':one': 1,
          ':e': message.slice(0, 500),
          ':v': vendor,
          ':at': at,
          ':closed': 'closed',
          ':g': 'breakers',
          ':k': key,
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    const item = this.remember(key, out.Attributes);
    if (item.state === 'open' || item.failures < this.options.failureThreshold) return undefined;
    return this.open(key, {
      reason: 'consecutive vendor failures',
      probeUntil: now + this.options.probeIntervalMs,
    });
  }

  /** Opens the breaker until `until` (epoch ms) for a known cause, such as a spent mint budget. */
  async openUntil(key: string, vendor: string, until: number, reason: string): Promise<BreakerChange> {
    return this.open(key, { reason, openUntil: until, vendor });
  }

  private async open(
    key: string,
    how: { reason: string; probeUntil?: number; openUntil?: number; vendor?: string },
  ): Promise<BreakerChange> {
    const now = this.now();
    try {
      const out = await this.options.doc.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: this.pk(key),
          UpdateExpression: `SET #s = :open, openedAt = :at, updatedAt = :at, reason = :r, gsi1pk = :g, gsi1sk = :k${
            how.probeUntil !== undefined ? ', probeUntil = :p' : ''
          }${how.openUntil !== undefined ? ', openUntil = :u' : ''}${how.vendor ? ', vendor = :v' : ''}`,
          // A known-time opening (the mint budget) always applies; a failure opening only once.
          ...(how.openUntil === undefined
            ? { ConditionExpression: 'attribute_not_exists(#s) OR #s <> :open' }
            : {}),
          ExpressionAttributeNames: { '#s': 'state' },
          ExpressionAttributeValues: {
            ':open': 'open',
            ':at': new Date(now).toISOString(),
            ':r': how.reason,
            ':g': 'breakers',
            ':k': key,
            ...(how.probeUntil !== undefined ? { ':p': how.probeUntil } : {}),
            ...(how.openUntil !== undefined ? { ':u': how.openUntil } : {}),
            ...(how.vendor ? { ':v': how.vendor } : {}),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      this.remember(key, out.Attributes);
      return 'opened';
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      this.cache.delete(key);
      return undefined;
    }
  }
}
