import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { VendorRefs } from '../../vendors/types';
import { DEFAULT_LEDGER_RETENTION_DAYS } from '../deployment';
import { LeaseLostError } from '../errors';
import type { ObjectRef } from '../messages';
import { isConditionFailure, type TableRef, UpdateBuilder } from './dynamo';
import {
  applyTransition,
  conditionOf,
  type DeliveryOutcome,
  DeliveryState,
  type FailedStep,
  type LedgerField,
  TERMINAL_STATES,
  TRANSITIONS,
  type Transition,
  type TransitionInput,
  type TransitionName,
} from './transitions';

export type { DeliveryOutcome };
export { DeliveryState, TERMINAL_STATES };

/**
 * The delivery ledger: one item per object version, moved through the state machine of
 * transitions.ts by conditional writes with leases. It is what makes at-least-once notifications and
 * retries deliver and complete each version exactly once. This module is the functions' side; the
 * operator's queries and actions (replay, resolve, listings) live with the operator CLI.
 */

export interface DeliveryKey {
  readonly pk: string;
  readonly sk: string;
}

export interface HistoryEntry {
  readonly at: string;
  readonly state: DeliveryState | 'REPLAY' | 'RESOLVED';
  readonly note?: string;
}

/** What the write-back stored beyond the result document (whose key follows from the version). */
export interface ResultLocations {
  /** Key of the vendor's error file copied into the results prefix. */
  readonly errorFile?: string;
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
  readonly vendorState?: string;
  readonly vendorPhase?: string;
  readonly vendorDetail?: Record<string, unknown>;
  readonly reason?: string;
  readonly lastError?: string;
  readonly failedStep?: FailedStep;
  /** How the current end state came out, once decided (see transitions.ts). */
  readonly outcome?: DeliveryOutcome;
  readonly outcomeAt?: string;
  /** The queue message whose work decided the outcome. */
  readonly decidedBy?: string;
  /** The vendor account this version waits for while the vendor is unavailable. */
  readonly waitingFor?: string;
  readonly waitingSince?: string;
  readonly results?: ResultLocations;
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

/** What names an object version (the size counts only without a version id). */
export type ObjectIdentity = Pick<ObjectRef, 'bucket' | 'key' | 'versionId' | 'eTag' | 'sequencer'> & {
  readonly size?: number;
};

/** Ledger key for an object version: the key's versions share a partition, so `status <key>` is one query. */
export function deliveryKeyOf(object: ObjectIdentity): DeliveryKey {
  return { pk: deliveryPartitionOf(object.bucket, object.key), sk: versionSortKeyOf(object) };
}

/** The partition holding every version of one object key. */
export function deliveryPartitionOf(bucket: string, key: string): string {
  return `d#${bucket}/${key}`;
}

/**
 * The version part of the identity: the S3 version id, or on an unversioned bucket what names the
 * bytes and the write (ETag, size, the event's sequencer) — never a timestamp.
 */
function versionSortKeyOf(object: ObjectIdentity): string {
  return object.versionId
    ? `v#${object.versionId}`
    : `e#${object.eTag ?? ''}#${object.size ?? ''}#${object.sequencer ?? ''}`;
}

/** Human-readable id used in logs and DLQ attributes. */
export function deliveryIdOf(object: ObjectIdentity): string {
  const version = object.versionId
    ? `versionId=${object.versionId}`
    : `etag=${object.eTag ?? ''}&size=${object.size ?? ''}${object.sequencer ? `&sequencer=${object.sequencer}` : ''}`;
  return `s3://${object.bucket}/${object.key}?${version}`;
}

/** The outcome of one transition: written (and the outcome it decided, if any), or refused with the item as it stands. */
export type TransitionResult =
  | { readonly written: true; readonly record: DeliveryRecord; readonly decided: DeliveryOutcome | undefined }
  | { readonly written: false; readonly current: DeliveryRecord | undefined };

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

/** History entries kept per delivery; older ones are dropped (and counted in `historyDropped`). */
export const HISTORY_MAX = 50;
/** When the cap is passed, history is trimmed down to this, so trims are rare. */
const HISTORY_TRIM_TO = 40;

/** Index attributes: `gsi1` lists deliveries by state, `gsi2` by route and creation time. */
function indexKeys(
  u: UpdateBuilder,
  values: TransitionInput['values'],
  state: DeliveryState | undefined,
  at: string,
) {
  if (state) {
    u.set('gsi1pk', `state#${state}`);
    u.set('gsi1sk', at);
  }
  const createdAt = values?.createdAt;
  if (typeof createdAt === 'string') {
    const routeId = typeof values?.routeId === 'string' ? values.routeId : '-';
    u.setIfAbsent('gsi2pk', `route#${routeId}`);
    u.setIfAbsent('gsi2sk', `${createdAt}#${String(values?.key ?? '')}`);
  }
}

export interface LedgerOptions extends TableRef {
  readonly now?: () => number;
  /**
   * Days a delivery stays once it reaches a terminal state: its `expiresAt` (epoch seconds), the
   * table's TTL attribute. @default {@link DEFAULT_LEDGER_RETENTION_DAYS}
   */
  readonly retentionDays?: number;
}

/** Input of {@link DeliveryLedger.transition} beyond what the ledger supplies itself (the clock). */
export type TransitionRequest = Omit<TransitionInput, 'now'>;

export class DeliveryLedger {
  readonly now: () => number;
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

  /**
   * One transition of the table, as one conditional write. When the condition refuses it, DynamoDB
   * hands back the item as it stands (`ReturnValuesOnConditionCheckFailure: ALL_OLD`), so deciding
   * what a refusal means (busy, done, uncertain) needs no second read.
   */
  async transition(
    name: TransitionName,
    key: DeliveryKey,
    request: TransitionRequest,
  ): Promise<TransitionResult> {
    const now = this.now();
    const input: TransitionInput = { ...request, now };
    const transition: Transition = TRANSITIONS[name];
    const u = new UpdateBuilder();
    const at = new Date(now).toISOString();
    const { outcome } = applyTransition(name, input, u);
    u.set('updatedAt', at);
    const state = transition.to;
    indexKeys(u, input.values, state, at);
    if (state) {
      u.set('state', state);
      const note = request.note ?? transition.note;
      u.append('history', note ? { at, state, note } : { at, state });
      // Terminal items expire (the table's TTL); an item leaving a terminal state (replay, redrive,
      // resolve --as retry) must not be deleted under the worker that now owns it.
      if (TERMINAL_STATES.has(state)) u.set('expiresAt', Math.floor(now / 1000) + this.retentionSeconds);
      else u.remove('expiresAt');
    }
    const condition = conditionOf(name, input, u);
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
      return {
        written: true,
        record: state ? await this.trimHistory(key, record) : record,
        decided: outcome,
      };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // The document client does not unmarshall an error's item.
      const item = (error as { Item?: Record<string, AttributeValue> }).Item;
      if (item) return { written: false, current: unmarshall(item) as DeliveryRecord };
      // No item came back: there is none, or the endpoint ignores the parameter; a read tells which.
      return { written: false, current: await this.get(key) };
    }
  }

  /** A transition the caller must hold the lease for: the new record, or {@link LeaseLostError}. */
  private async held(
    name: TransitionName,
    key: DeliveryKey,
    request: TransitionRequest,
    what: string,
  ): Promise<{ record: DeliveryRecord; decided: DeliveryOutcome | undefined }> {
    const out = await this.transition(name, key, request);
    if (!out.written) throw new LeaseLostError(what);
    return out;
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

  /** Identity and creation facts of a version, written on its item's first transition. */
  private identity(object: ObjectRef): Partial<Record<LedgerField, unknown>> {
    return {
      deliveryId: deliveryIdOf(object),
      bucket: object.bucket,
      key: object.key,
      versionId: object.versionId,
      eTag: object.eTag,
      sequencer: object.sequencer,
      createdAt: this.iso(),
      size: object.size,
    };
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
    const attempt = await this.transition('dispatch.begin', key, {
      owner: input.owner,
      leaseMs: input.leaseMs,
      redrive: input.redrive,
      values: { ...this.identity(input.object), routeId: input.routeId, vendor: input.vendor },
      note: input.redrive ? 'redriven' : undefined,
    });
    if (attempt.written) return { outcome: 'acquired', record: attempt.record };

    const record = attempt.current;
    // Refused yet absent: the item was deleted in between (TTL); start again.
    if (!record) return this.beginDispatch(input);
    switch (record.state) {
      case DeliveryState.RECEIVED:
      case DeliveryState.UPLOADING:
        return { outcome: 'busy', record };
      case DeliveryState.UPLOADED:
        // Its completion message is on its way, or its sender died before sending it: send it again
        // (a duplicate message is harmless, the completion lease admits one).
        return { outcome: 'resend-completion', record };
      case DeliveryState.COMPLETING:
        // A live holder finishes it. Without one (the dispatch that completed at once died, or a
        // completion worker did), the completion queue's rules for a COMPLETING item decide: its
        // stored message goes there.
        return (record.leaseUntil ?? 0) >= this.now()
          ? { outcome: 'busy', record }
          : { outcome: 'resend-completion', record };
      default:
        return { outcome: 'done', record };
    }
  }

  /**
   * A version that cannot take its lease yet: its vendor is unavailable (`waitingFor`), or a retryable
   * failure came before the lease. Creates the item (RECEIVED) so `status` shows it; a version that
   * got further is left alone.
   */
  async deferDispatch(
    object: ObjectRef,
    detail: {
      routeId?: string | undefined;
      vendor?: string | undefined;
      code?: string;
      message?: string;
      waitingFor?: string;
    },
  ): Promise<void> {
    await this.transition('dispatch.defer', deliveryKeyOf(object), {
      values: {
        ...this.identity(object),
        routeId: detail.routeId,
        vendor: detail.vendor,
        reason: detail.code,
        lastError: detail.message,
        waitingFor: detail.waitingFor,
        waitingSince: detail.waitingFor ? this.iso() : undefined,
      },
    });
  }

  /**
   * An uploaded version whose completion waits for its vendor (the breaker is open): records what it
   * waits for and since when, so `status` shows it. A version that got further is left alone.
   */
  async deferCompletion(
    key: DeliveryKey,
    detail: { code: string; message: string; waitingFor: string },
  ): Promise<void> {
    await this.transition('completion.defer', key, {
      values: {
        reason: detail.code,
        lastError: detail.message,
        waitingFor: detail.waitingFor,
        waitingSince: this.iso(),
      },
    });
  }

  /** Bytes are at the vendor: the completion message is stored, the dispatch lease ends. */
  async markUploaded(
    key: DeliveryKey,
    owner: string,
    data: { refs: VendorRefs; completionMessage: string },
  ): Promise<DeliveryRecord> {
    return this.recordUpload('dispatch.uploaded', key, owner, data);
  }

  /**
   * Bytes are at the vendor and this dispatch completes at once: COMPLETING with the completion
   * message stored, the lease kept (renewed for `leaseMs`). One write for `dispatch.uploaded` and
   * `completion.begin`.
   */
  async markCompleting(
    key: DeliveryKey,
    owner: string,
    data: { refs: VendorRefs; completionMessage: string; leaseMs: number },
  ): Promise<DeliveryRecord> {
    return this.recordUpload('dispatch.completing', key, owner, data);
  }

  /** The upload's refs and completion message, under the held dispatch lease (renewed with `leaseMs`). */
  private async recordUpload(
    name: 'dispatch.uploaded' | 'dispatch.completing',
    key: DeliveryKey,
    owner: string,
    data: { refs: VendorRefs; completionMessage: string; leaseMs?: number },
  ): Promise<DeliveryRecord> {
    const out = await this.held(
      name,
      key,
      {
        owner,
        ...(data.leaseMs === undefined ? {} : { leaseMs: data.leaseMs }),
        values: { refs: data.refs, completionMessage: data.completionMessage, uploadedAt: this.iso() },
      },
      'recording the upload',
    );
    return out.record;
  }

  /**
   * A completion call sent and not answered, by a holder that hands the delivery to the completion
   * queue: the lease lapses, so the next completion attempt decides at once (retry or uncertain).
   */
  async handOverCompletion(
    key: DeliveryKey,
    owner: string,
    failure: { code: string; message: string },
  ): Promise<TransitionResult> {
    return this.transition('completion.handover', key, {
      owner,
      values: { reason: failure.code, lastError: failure.message },
    });
  }

  /** The vendor already holds these bytes (e.g. inspect's 200): nothing to upload or complete. */
  async markDuplicate(
    key: DeliveryKey,
    owner: string,
    refs: VendorRefs,
    decidedBy?: string,
  ): Promise<DeliveryRecord> {
    const out = await this.held(
      'dispatch.duplicate',
      key,
      { owner, decidedBy, values: { refs, completedAt: this.iso() } },
      'recording a vendor-side duplicate',
    );
    return out.record;
  }

  /**
   * Records a dispatch failure of the lease holder. `final` (permanent, or the last receive) moves the
   * version to FAILED with the reason and decides its outcome; otherwise the lease lapses so the next
   * receive retries at once.
   */
  async failDispatch(
    key: DeliveryKey,
    owner: string,
    failure: {
      code: string;
      message: string;
      final: boolean;
      outcome?: DeliveryOutcome;
      decidedBy?: string;
    },
  ): Promise<TransitionResult> {
    if (!failure.final) {
      return this.transition('dispatch.retry', key, {
        owner,
        values: { reason: failure.code, lastError: failure.message },
      });
    }
    return this.transition('dispatch.fail', key, {
      owner,
      outcome: failure.outcome ?? 'failed',
      decidedBy: failure.decidedBy,
      note: failure.code,
      values: { reason: failure.code, lastError: failure.message, failedStep: 'dispatch' },
    });
  }

  /** A version refused before any lease (no route, a refused file, a missing object): FAILED with the reason. */
  async refuseDispatch(
    object: ObjectRef,
    failure: {
      code: string;
      message: string;
      routeId?: string | undefined;
      vendor?: string | undefined;
      redrive: boolean;
      outcome?: DeliveryOutcome;
      decidedBy?: string;
    },
  ): Promise<TransitionResult> {
    return this.transition('dispatch.refuse', deliveryKeyOf(object), {
      redrive: failure.redrive,
      outcome: failure.outcome ?? 'failed',
      decidedBy: failure.decidedBy,
      note: failure.code,
      values: {
        ...this.identity(object),
        routeId: failure.routeId,
        vendor: failure.vendor,
        reason: failure.code,
        lastError: failure.message,
        failedStep: 'dispatch',
      },
    });
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
    const attempt = await this.transition('completion.begin', key, input);
    if (attempt.written) return { outcome: 'acquired', record: attempt.record };
    const record = attempt.current;
    if (!record) return { outcome: 'missing' };
    switch (record.state) {
      case DeliveryState.COMPLETING:
        return (record.leaseUntil ?? 0) >= this.now()
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
    await this.held('completion.checkpoint', key, { owner, values: { refs } }, 'saving completion progress');
  }

  /**
   * The vendor accepted the completion. `outcome` decides the delivery's outcome now; without one
   * (a vendor job status follows) the outcome waits for the vendor's verdict.
   */
  async markCompleted(
    key: DeliveryKey,
    owner: string,
    result: {
      refs: VendorRefs;
      vendorState: string | undefined;
      vendorPhase?: string;
      outcome?: DeliveryOutcome;
      decidedBy?: string;
    },
  ): Promise<DeliveryRecord> {
    const out = await this.held(
      'completion.done',
      key,
      {
        owner,
        outcome: result.outcome,
        decidedBy: result.decidedBy,
        values: {
          refs: result.refs,
          vendorState: result.vendorState,
          vendorPhase: result.vendorPhase,
          completedAt: this.iso(),
        },
      },
      'recording the completion',
    );
    return out.record;
  }

  /** The vendor answered with a failure (so it did not act): back to UPLOADED for a later retry, or FAILED. */
  async failCompletion(
    key: DeliveryKey,
    owner: string,
    failure: { code: string; message: string; final: boolean; outcome?: DeliveryOutcome; decidedBy?: string },
  ): Promise<TransitionResult> {
    if (!failure.final) {
      return this.transition('completion.retry', key, {
        owner,
        note: `retry: ${failure.code}`,
        values: { reason: failure.code, lastError: failure.message },
      });
    }
    return this.transition('completion.fail', key, {
      owner,
      outcome: failure.outcome ?? 'failed',
      decidedBy: failure.decidedBy,
      note: failure.code,
      values: { reason: failure.code, lastError: failure.message, failedStep: 'complete' },
    });
  }

  /** Parks a completion whose outcome is unknown. Only an operator moves it on. */
  async markUncertain(key: DeliveryKey, message: string, decidedBy?: string): Promise<TransitionResult> {
    return this.transition('completion.uncertain', key, {
      decidedBy,
      note: message,
      values: { reason: 'COMPLETION_UNCERTAIN', lastError: message },
    });
  }

  /** The vendor's verdict on its job, or the polling deadline: decides the outcome once. */
  async recordVendorVerdict(
    key: DeliveryKey,
    verdict: {
      phase: string;
      vendorState: string;
      detail?: Record<string, unknown> | undefined;
      outcome: DeliveryOutcome;
      reason?: string;
      message?: string;
      decidedBy?: string;
      errorFile?: string;
    },
  ): Promise<TransitionResult> {
    return this.transition('vendor.verdict', key, {
      outcome: verdict.outcome,
      decidedBy: verdict.decidedBy,
      values: {
        vendorPhase: verdict.phase,
        vendorState: verdict.vendorState,
        vendorDetail: verdict.detail,
        reason: verdict.reason,
        lastError: verdict.message,
        results: verdict.errorFile ? { errorFile: verdict.errorFile } : undefined,
      },
    });
  }
}
