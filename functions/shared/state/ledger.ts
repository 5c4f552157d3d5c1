import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { VendorRefs } from '../../vendors/types';
import { STATE_INDEX } from '../deployment';
import { LeaseLostError } from '../errors';
import type { ObjectRef } from '../messages';
import { isConditionFailure, type TableRef, UpdateBuilder } from './dynamo';

/**
 * The delivery ledger: one item per object version, moved through an explicit state machine by
 * conditional writes with leases. It is what makes at-least-once notifications and retries deliver
 * and complete each version exactly once.
 *
 * ```
 * RECEIVED → UPLOADING → UPLOADED → COMPLETING → COMPLETED
 *      ↘ FAILED (reason)      ↘ DUPLICATE (vendor already had the bytes)
 *                                  COMPLETING ⇢ COMPLETION_UNCERTAIN (sent, no answer, vendor not idempotent)
 * ```
 */
export const DeliveryState = {
  RECEIVED: 'RECEIVED',
  UPLOADING: 'UPLOADING',
  UPLOADED: 'UPLOADED',
  COMPLETING: 'COMPLETING',
  COMPLETED: 'COMPLETED',
  FAILED: 'FAILED',
  DUPLICATE: 'DUPLICATE',
  COMPLETION_UNCERTAIN: 'COMPLETION_UNCERTAIN',
} as const;
export type DeliveryState = (typeof DeliveryState)[keyof typeof DeliveryState];

/** States in which nothing more happens without an operator. */
export const TERMINAL_STATES: ReadonlySet<DeliveryState> = new Set([
  DeliveryState.COMPLETED,
  DeliveryState.DUPLICATE,
  DeliveryState.FAILED,
  DeliveryState.COMPLETION_UNCERTAIN,
]);

export interface DeliveryKey {
  readonly pk: string;
  readonly sk: string;
}

export interface HistoryEntry {
  readonly at: string;
  readonly state: DeliveryState | 'REPLAY' | 'RESOLVED';
  readonly note?: string;
}

export interface DeliveryRecord {
  readonly pk: string;
  readonly sk: string;
  readonly deliveryId: string;
  readonly bucket: string;
  readonly key: string;
  readonly versionId?: string;
  readonly eTag?: string;
  readonly sequencer?: string;
  readonly size?: number;
  readonly state: DeliveryState;
  readonly routeId?: string;
  readonly vendor?: string;
  readonly attempts?: number;
  readonly completionAttempts?: number;
  readonly leaseOwner?: string;
  readonly leaseUntil?: number;
  readonly refs?: VendorRefs;
  readonly completionMessage?: string;
  readonly completionEnqueuedAt?: string;
  readonly vendorState?: string;
  readonly vendorPhase?: string;
  readonly vendorDetail?: Record<string, unknown>;
  readonly reason?: string;
  readonly lastError?: string;
  readonly failedStep?: 'dispatch' | 'complete';
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly uploadedAt?: string;
  readonly completedAt?: string;
  readonly replays?: number;
  readonly history?: readonly HistoryEntry[];
  /** Oldest history entries dropped to keep the item small (see {@link HISTORY_MAX}). */
  readonly historyDropped?: number;
  /** Epoch seconds after which DynamoDB may delete the item (set on reaching a terminal state). */
  readonly expiresAt?: number;
}

/** Ledger key for an object version: the key's versions share a partition, so `status <key>` is one query. */
export function deliveryKeyOf(
  object: Pick<ObjectRef, 'bucket' | 'key' | 'versionId' | 'eTag' | 'sequencer'>,
): DeliveryKey {
  return {
    pk: `d#${object.bucket}/${object.key}`,
    sk: object.versionId ? `v#${object.versionId}` : `e#${object.eTag ?? ''}#${object.sequencer ?? ''}`,
  };
}

/** Human-readable id used in logs and DLQ attributes. */
export function deliveryIdOf(
  object: Pick<ObjectRef, 'bucket' | 'key' | 'versionId' | 'eTag' | 'sequencer'>,
): string {
  const version = object.versionId
    ? `versionId=${object.versionId}`
    : `etag=${object.eTag ?? ''}&sequencer=${object.sequencer ?? ''}`;
  return `s3://${object.bucket}/${object.key}?${version}`;
}

export type BeginDispatchOutcome =
  /** This caller holds the lease and should upload. */
  | { readonly outcome: 'acquired'; readonly record: DeliveryRecord }
  /** Another worker holds a live lease: come back later. */
  | { readonly outcome: 'busy'; readonly record: DeliveryRecord }
  /** Delivered (or deliberately finished): a duplicate notification, nothing to do. */
  | { readonly outcome: 'done'; readonly record: DeliveryRecord }
  /** Uploaded but the completion message may never have been sent (the uploader died): send it again. */
  | { readonly outcome: 'resend-completion'; readonly record: DeliveryRecord };

export type BeginCompletionOutcome =
  | { readonly outcome: 'acquired'; readonly record: DeliveryRecord }
  | { readonly outcome: 'busy'; readonly record: DeliveryRecord }
  | { readonly outcome: 'done'; readonly record: DeliveryRecord }
  /** A previous completion call was sent and its outcome is unknown; the vendor is not idempotent. */
  | { readonly outcome: 'uncertain'; readonly record: DeliveryRecord }
  | { readonly outcome: 'missing' };

/** Days a terminal delivery is kept unless the stage says otherwise. */
export const DEFAULT_LEDGER_RETENTION_DAYS = 90;

/** History entries kept per delivery; older ones are dropped (and counted in `historyDropped`). */
export const HISTORY_MAX = 50;
/** When the cap is passed, history is trimmed down to this, so trims are rare. */
const HISTORY_TRIM_TO = 40;

export interface LedgerOptions extends TableRef {
  readonly now?: () => number;
  /**
   * Days a delivery stays once it reaches a terminal state: its `expiresAt` (epoch seconds), the
   * table's TTL attribute. @default {@link DEFAULT_LEDGER_RETENTION_DAYS}
   */
  readonly retentionDays?: number;
}

export class DeliveryLedger {
  private readonly now: () => number;
  private readonly retentionSeconds: number;

  constructor(private readonly options: LedgerOptions) {
    this.now = options.now ?? Date.now;
    this.retentionSeconds = (options.retentionDays ?? DEFAULT_LEDGER_RETENTION_DAYS) * 86_400;
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  async get(key: DeliveryKey): Promise<DeliveryRecord | undefined> {
    const out = await this.options.doc.send(
      new GetCommand({
        TableName: this.options.tableName,
        Key: { pk: key.pk, sk: key.sk },
        ConsistentRead: true,
      }),
    );
    return out.Item as DeliveryRecord | undefined;
  }

  /** Every recorded version of one object key, newest first. */
  async listByKey(bucket: string, key: string): Promise<DeliveryRecord[]> {
    const out = await this.options.doc.send(
      new QueryCommand({
        TableName: this.options.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `d#${bucket}/${key}` },
        ConsistentRead: true,
      }),
    );
    return ((out.Items ?? []) as DeliveryRecord[]).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /** Deliveries currently in `state`, most recently changed first (GSI, eventually consistent). */
  async listByState(state: DeliveryState, limit = 50): Promise<DeliveryRecord[]> {
    const out = await this.options.doc.send(
      new QueryCommand({
        TableName: this.options.tableName,
        IndexName: STATE_INDEX,
        KeyConditionExpression: 'gsi1pk = :s',
        ExpressionAttributeValues: { ':s': `state#${state}` },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (out.Items ?? []) as DeliveryRecord[];
  }

  private async update(
    key: DeliveryKey,
    build: (u: UpdateBuilder) => string | undefined,
    state?: DeliveryState,
    note?: string,
  ): Promise<DeliveryRecord | undefined> {
    const outcome = await this.write(key, build, state, note);
    return outcome.written ? outcome.record : undefined;
  }

  /**
   * One conditional write. When the condition refuses it, DynamoDB hands back the item as it stands
   * (`ReturnValuesOnConditionCheckFailure: ALL_OLD`), so deciding what a refusal means (busy, done,
   * uncertain) needs no second read.
   */
  private async write(
    key: DeliveryKey,
    build: (u: UpdateBuilder) => string | undefined,
    state?: DeliveryState,
    note?: string,
  ): Promise<
    { written: true; record: DeliveryRecord } | { written: false; current: DeliveryRecord | undefined }
  > {
    const u = new UpdateBuilder();
    const at = this.iso();
    u.set('updatedAt', at);
    if (state) {
      u.set('state', state);
      u.set('gsi1pk', `state#${state}`);
      u.set('gsi1sk', at);
      u.append('history', note ? { at, state, note } : { at, state });
      // Terminal items expire (the table's TTL); an item leaving a terminal state (replay, redrive,
      // resolve --as retry) must not be deleted under the worker that now owns it.
      if (TERMINAL_STATES.has(state))
        u.set('expiresAt', Math.floor(this.now() / 1000) + this.retentionSeconds);
      else u.remove('expiresAt');
    }
    const condition = build(u);
    try {
      const out = await this.options.doc.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { pk: key.pk, sk: key.sk },
          UpdateExpression: u.expression(),
          ConditionExpression: condition,
          ExpressionAttributeNames: u.names,
          ExpressionAttributeValues: u.values,
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      const record = out.Attributes as DeliveryRecord;
      return { written: true, record: state ? await this.trimHistory(key, record) : record };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // The document client does not unmarshall an error's item.
      const item = (error as { Item?: Record<string, AttributeValue> }).Item;
      if (item) return { written: false, current: unmarshall(item) as DeliveryRecord };
      // No item came back: there is none, or the endpoint ignores the parameter; a read tells which.
      return { written: false, current: await this.get(key) };
    }
  }

  /**
   * Keeps the history under {@link HISTORY_MAX}: DynamoDB cannot append to and remove from one list
   * in one write, so an item past the cap gets one more write that drops its oldest entries, guarded
   * by the length just seen (a concurrent append makes it a no-op; the next transition trims). Only
   * deliveries with dozens of transitions (long outages, many replays) ever pay it.
   */
  private async trimHistory(key: DeliveryKey, record: DeliveryRecord): Promise<DeliveryRecord> {
    const length = record.history?.length ?? 0;
    if (length <= HISTORY_MAX) return record;
    const drop = length - HISTORY_TRIM_TO;
    const u = new UpdateBuilder();
    const history = u.name('history');
    const removes = Array.from({ length: drop }, (_, i) => `${history}[${i}]`).join(', ');
    const dropped = u.name('historyDropped');
    try {
      const out = await this.options.doc.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { pk: key.pk, sk: key.sk },
          UpdateExpression: `SET ${dropped} = if_not_exists(${dropped}, ${u.value(0)}) + ${u.value(drop)} REMOVE ${removes}`,
          ConditionExpression: `size(${history}) = ${u.value(length)}`,
          ExpressionAttributeNames: u.names,
          ExpressionAttributeValues: u.values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return out.Attributes as DeliveryRecord;
    } catch (error) {
      if (isConditionFailure(error)) return record;
      throw error;
    }
  }

  /**
   * Takes the dispatch lease for an object version, creating its item on first sight. A version in
   * RECEIVED or UPLOADING without a live lease can be taken over (its last holder finished badly or
   * died). A FAILED version is retried only when `redrive` says the message came back from a DLQ.
   */
  async beginDispatch(input: {
    readonly object: ObjectRef;
    readonly routeId: string | undefined;
    readonly vendor: string | undefined;
    readonly owner: string;
    readonly leaseMs: number;
    readonly redrive: boolean;
  }): Promise<BeginDispatchOutcome> {
    const key = deliveryKeyOf(input.object);
    const now = this.now();
    const attempt = await this.write(
      key,
      (u) => {
        u.setIfAbsent('deliveryId', deliveryIdOf(input.object));
        u.setIfAbsent('bucket', input.object.bucket);
        u.setIfAbsent('key', input.object.key);
        if (input.object.versionId) u.setIfAbsent('versionId', input.object.versionId);
        u.setIfAbsent('eTag', input.object.eTag);
        if (input.object.sequencer) u.setIfAbsent('sequencer', input.object.sequencer);
        u.set('size', input.object.size);
        u.set('routeId', input.routeId);
        u.set('vendor', input.vendor);
        u.setIfAbsent('createdAt', this.iso());
        u.set('leaseOwner', input.owner);
        u.set('leaseUntil', now + input.leaseMs);
        u.increment('attempts');
        u.remove('reason', 'failedStep');
        const state = u.name('state');
        const lease = u.name('leaseUntil');
        const nowV = u.value(now);
        const open = `(${state} IN (${u.value(DeliveryState.RECEIVED)}, ${u.value(DeliveryState.UPLOADING)}) AND (attribute_not_exists(${lease}) OR ${lease} < ${nowV}))`;
        const retryFailed = input.redrive
          ? ` OR (${state} = ${u.value(DeliveryState.FAILED)} AND ${u.name('failedStep')} = ${u.value('dispatch')})`
          : '';
        return `attribute_not_exists(pk) OR ${open}${retryFailed}`;
      },
      DeliveryState.UPLOADING,
      input.redrive ? 'redriven' : undefined,
    );
    if (attempt.written) return { outcome: 'acquired', record: attempt.record };

    const record = attempt.current;
    // Refused yet absent: the item was deleted in between (TTL); start again.
    if (!record) return this.beginDispatch(input);
    const leaseLive = (record.leaseUntil ?? 0) >= now;
    switch (record.state) {
      case DeliveryState.RECEIVED:
      case DeliveryState.UPLOADING:
        return { outcome: 'busy', record };
      case DeliveryState.UPLOADED:
        if (record.completionEnqueuedAt) return { outcome: 'done', record };
        return leaseLive ? { outcome: 'busy', record } : { outcome: 'resend-completion', record };
      default:
        return { outcome: 'done', record };
    }
  }

  /** Bytes are at the vendor. Keeps the lease until the completion message is on its way. */
  async markUploaded(
    key: DeliveryKey,
    owner: string,
    data: { refs: VendorRefs; completionMessage: string; leaseMs: number },
  ): Promise<DeliveryRecord> {
    const out = await this.update(
      key,
      (u) => {
        u.set('refs', data.refs);
        u.set('completionMessage', data.completionMessage);
        u.set('uploadedAt', this.iso());
        u.set('leaseUntil', this.now() + data.leaseMs);
        u.remove('lastError');
        return `${u.name('state')} = ${u.value(DeliveryState.UPLOADING)} AND ${u.name('leaseOwner')} = ${u.value(owner)}`;
      },
      DeliveryState.UPLOADED,
    );
    if (!out) throw new LeaseLostError('recording the upload');
    return out;
  }

  /**
   * A dispatch that recorded the upload then failed (sending the completion message): let the next
   * receive recover at once instead of waiting out the lease. No-op unless `owner` still holds it.
   */
  async releaseUploadLease(key: DeliveryKey, owner: string): Promise<void> {
    await this.update(key, (u) => {
      u.set('leaseUntil', 0);
      return `${u.name('state')} = ${u.value(DeliveryState.UPLOADED)} AND ${u.name('leaseOwner')} = ${u.value(owner)}`;
    });
  }

  /** The completion message was sent; the dispatch lease is released. */
  async markCompletionEnqueued(key: DeliveryKey): Promise<void> {
    await this.update(key, (u) => {
      u.set('completionEnqueuedAt', this.iso());
      u.remove('leaseOwner', 'leaseUntil');
      return `${u.name('state')} = ${u.value(DeliveryState.UPLOADED)}`;
    });
  }

  /** The vendor already holds these bytes (e.g. inspect's 200): nothing to upload or complete. */
  async markDuplicate(key: DeliveryKey, owner: string, refs: VendorRefs): Promise<void> {
    const out = await this.update(
      key,
      (u) => {
        u.set('refs', refs);
        u.set('completedAt', this.iso());
        u.remove('leaseOwner', 'leaseUntil', 'lastError');
        return `${u.name('state')} = ${u.value(DeliveryState.UPLOADING)} AND ${u.name('leaseOwner')} = ${u.value(owner)}`;
      },
      DeliveryState.DUPLICATE,
      'vendor already had these bytes',
    );
    if (!out) throw new LeaseLostError('recording a vendor-side duplicate');
  }

  /**
   * Records a dispatch failure. `final` (permanent, or the last receive) moves the version to FAILED
   * with the reason; otherwise the lease is released so the next receive retries at once.
   * Without an owner (failures before a lease: no route, bad file) the item is created as FAILED.
   */
  async recordDispatchFailure(
    object: ObjectRef,
    failure: {
      owner?: string | undefined;
      code: string;
      message: string;
      final: boolean;
      routeId?: string | undefined;
      vendor?: string | undefined;
    },
  ): Promise<void> {
    const key = deliveryKeyOf(object);
    await this.update(
      key,
      (u) => {
        u.setIfAbsent('deliveryId', deliveryIdOf(object));
        u.setIfAbsent('bucket', object.bucket);
        u.setIfAbsent('key', object.key);
        if (object.versionId) u.setIfAbsent('versionId', object.versionId);
        u.setIfAbsent('eTag', object.eTag);
        u.setIfAbsent('createdAt', this.iso());
        u.set('size', object.size);
        u.set('routeId', failure.routeId);
        u.set('vendor', failure.vendor);
        u.set('lastError', failure.message);
        u.set('reason', failure.code);
        if (failure.final) {
          u.set('failedStep', 'dispatch');
          u.remove('leaseOwner', 'leaseUntil');
        } else {
          u.set('leaseUntil', 0);
        }
        const state = u.name('state');
        if (failure.owner) {
          return `${state} = ${u.value(DeliveryState.UPLOADING)} AND ${u.name('leaseOwner')} = ${u.value(failure.owner)}`;
        }
        // Never overwrite a version that got further than this failure.
        return `attribute_not_exists(pk) OR ${state} IN (${u.value(DeliveryState.RECEIVED)}, ${u.value(DeliveryState.FAILED)})`;
      },
      failure.final ? DeliveryState.FAILED : undefined,
      failure.final ? failure.code : undefined,
    );
  }

  /**
   * Takes the completion lease. An UPLOADED version is taken; a COMPLETING one whose lease expired
   * means a previous attempt died after (maybe) calling the vendor: taken over only when
   * `retryAmbiguous`, else reported `uncertain`. A FAILED completion is retried only on `redrive`.
   */
  async beginCompletion(
    key: DeliveryKey,
    input: { owner: string; leaseMs: number; retryAmbiguous: boolean; redrive: boolean },
  ): Promise<BeginCompletionOutcome> {
    const now = this.now();
    const attempt = await this.write(
      key,
      (u) => {
        u.set('leaseOwner', input.owner);
        u.set('leaseUntil', now + input.leaseMs);
        u.increment('completionAttempts');
        u.remove('reason', 'failedStep');
        const state = u.name('state');
        const lease = u.name('leaseUntil');
        let condition = `${state} = ${u.value(DeliveryState.UPLOADED)}`;
        if (input.retryAmbiguous) {
          condition += ` OR (${state} = ${u.value(DeliveryState.COMPLETING)} AND ${lease} < ${u.value(now)})`;
        }
        if (input.redrive) {
          condition += ` OR (${state} = ${u.value(DeliveryState.FAILED)} AND ${u.name('failedStep')} = ${u.value('complete')})`;
        }
        return `attribute_exists(pk) AND (${condition})`;
      },
      DeliveryState.COMPLETING,
    );
    if (attempt.written) return { outcome: 'acquired', record: attempt.record };
    const record = attempt.current;
    if (!record) return { outcome: 'missing' };
    switch (record.state) {
      case DeliveryState.COMPLETING:
        return (record.leaseUntil ?? 0) >= now
          ? { outcome: 'busy', record }
          : { outcome: 'uncertain', record };
      case DeliveryState.COMPLETION_UNCERTAIN:
        return { outcome: 'uncertain', record };
      case DeliveryState.RECEIVED:
      case DeliveryState.UPLOADING:
        // A replayed version is being uploaded again; its own completion message will follow.
        return { outcome: 'busy', record };
      default:
        return { outcome: 'done', record };
    }
  }

  /** Saves progress inside a multi-call completion (refs are merged). */
  async checkpoint(key: DeliveryKey, owner: string, refs: VendorRefs): Promise<void> {
    const out = await this.update(key, (u) => {
      u.setFields('refs', refs);
      return `${u.name('state')} = ${u.value(DeliveryState.COMPLETING)} AND ${u.name('leaseOwner')} = ${u.value(owner)}`;
    });
    if (!out) throw new LeaseLostError('saving completion progress');
  }

  async markCompleted(
    key: DeliveryKey,
    owner: string,
    refs: VendorRefs,
    vendorState: string | undefined,
  ): Promise<DeliveryRecord> {
    const out = await this.update(
      key,
      (u) => {
        u.setFields('refs', refs);
        u.set('vendorState', vendorState);
        u.set('completedAt', this.iso());
        u.remove('leaseOwner', 'leaseUntil', 'lastError');
        return `${u.name('state')} = ${u.value(DeliveryState.COMPLETING)} AND ${u.name('leaseOwner')} = ${u.value(owner)}`;
      },
      DeliveryState.COMPLETED,
    );
    if (!out) throw new LeaseLostError('recording the completion');
    return out;
  }

  /** The vendor answered with a failure (so it did not act): back to UPLOADED for a later retry, or FAILED. */
  async recordCompletionFailure(
    key: DeliveryKey,
    owner: string,
    failure: { code: string; message: string; final: boolean },
  ): Promise<void> {
    await this.update(
      key,
      (u) => {
        u.set('lastError', failure.message);
        u.set('reason', failure.code);
        u.remove('leaseOwner', 'leaseUntil');
        if (failure.final) u.set('failedStep', 'complete');
        return `${u.name('state')} = ${u.value(DeliveryState.COMPLETING)} AND ${u.name('leaseOwner')} = ${u.value(owner)}`;
      },
      failure.final ? DeliveryState.FAILED : DeliveryState.UPLOADED,
      failure.final ? failure.code : `retry: ${failure.code}`,
    );
  }

  /** Parks a completion whose outcome is unknown. Only an operator moves it on (see `resolveUncertain`). */
  async markUncertain(key: DeliveryKey, message: string): Promise<void> {
    await this.update(
      key,
      (u) => {
        u.set('lastError', message);
        u.set('reason', 'COMPLETION_UNCERTAIN');
        u.remove('leaseOwner', 'leaseUntil');
        return `${u.name('state')} IN (${u.value(DeliveryState.COMPLETING)}, ${u.value(DeliveryState.COMPLETION_UNCERTAIN)})`;
      },
      DeliveryState.COMPLETION_UNCERTAIN,
      message,
    );
  }

  /** Latest vendor job status (from the status poller). */
  async updateVendorStatus(
    key: DeliveryKey,
    status: { phase: string; vendorState: string; detail?: Record<string, unknown> | undefined },
  ): Promise<void> {
    await this.update(key, (u) => {
      u.set('vendorPhase', status.phase);
      u.set('vendorState', status.vendorState);
      u.set('vendorDetail', status.detail);
      return `${u.name('state')} = ${u.value(DeliveryState.COMPLETED)}`;
    });
  }

  /**
   * Operator action: deliver this version again. Resets the item to RECEIVED (keeping its history
   * and a replay count); the caller then re-sends the notification to the route's intake queue.
   */
  async prepareReplay(key: DeliveryKey, operator: string): Promise<DeliveryRecord | undefined> {
    return this.update(
      key,
      (u) => {
        u.increment('replays');
        u.remove(
          'leaseOwner',
          'leaseUntil',
          'completionEnqueuedAt',
          'completionMessage',
          'reason',
          'failedStep',
          'vendorState',
          'vendorPhase',
          'vendorDetail',
          'completedAt',
        );
        u.set('refs', {});
        return `attribute_exists(pk) AND NOT ${u.name('state')} IN (${u.value(DeliveryState.UPLOADING)}, ${u.value(DeliveryState.COMPLETING)})`;
      },
      DeliveryState.RECEIVED,
      `replay requested by ${operator}`,
    );
  }

  /**
   * Operator action for COMPLETION_UNCERTAIN: `completed` after checking the vendor shows the job,
   * `retry` to call the vendor again (back to UPLOADED; the caller re-sends the completion message).
   */
  async resolveUncertain(
    key: DeliveryKey,
    as: 'completed' | 'retry',
    operator: string,
  ): Promise<DeliveryRecord | undefined> {
    return this.update(
      key,
      (u) => {
        u.remove('reason', 'lastError');
        if (as === 'completed') u.set('completedAt', this.iso());
        return `${u.name('state')} = ${u.value(DeliveryState.COMPLETION_UNCERTAIN)}`;
      },
      as === 'completed' ? DeliveryState.COMPLETED : DeliveryState.UPLOADED,
      `resolved as ${as} by ${operator}`,
    );
  }
}
