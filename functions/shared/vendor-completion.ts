import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { CompletionResult, FileDescriptor, VendorRefs } from '../vendors/types';
import type { CoreDeps } from './aws-runtime';
import { fileDescriptorOf } from './file-descriptor';
import type { CompletionMessageV1, StatusCheckMessageV1 } from './messages';
import { type CoreLogger, MetricName } from './observability';
import type { OutcomeExtras } from './outcome';
import type { RecordContext } from './queue/sqs-batch';
import type { ResolvedRoute } from './routes/schema';
import { type DeliveryKey, type DeliveryRecord, DeliveryState, type TransitionResult } from './state/ledger';
import { type PreparedVendor, prepareVendor } from './vendor-context';

/**
 * The vendor's completion call with the COMPLETING lease held, and what follows an accepted one. Both
 * functions run it: dispatch right after its upload (the happy path's one write for "uploaded and
 * completing"), the completion function for everything dispatch hands over (a failed or unanswered
 * call, a vendor down, a dispatch that died) and for routes that complete through the queue.
 */

/** What the completion step needs: the core both functions share. */
export type CompletionCallDeps = CoreDeps;

/** A completion this caller holds the COMPLETING lease for. */
export interface HeldCompletion {
  readonly message: CompletionMessageV1;
  readonly route: ResolvedRoute;
  readonly key: DeliveryKey;
  readonly owner: string;
  /** Refs known so far: the message's, merged with the ledger's (a checkpoint of an earlier attempt). */
  readonly refs: VendorRefs;
  /** The queue message whose work decides the outcome. */
  readonly decidedBy: string;
  readonly deadline: () => number;
  readonly log: CoreLogger;
  /** The vendor as the caller already prepared it (dispatch, for its upload). */
  readonly prepared?: PreparedVendor;
}

/** What the vendor answered to an accepted completion call. */
export interface AcceptedCompletion {
  readonly result: CompletionResult;
  /** The vendor publishes a job status. */
  readonly hasStatus: boolean;
}

/** The file the completion message describes, as dispatch described it to the adapter. */
export function fileOfMessage(message: CompletionMessageV1): FileDescriptor {
  return fileDescriptorOf(message.object, {
    contentType: message.contentType,
    sha256Base64: message.sha256Base64,
  });
}

/** Whether a completion of `route` may be called again after an unanswered call. */
export function retriesAmbiguous(deps: Pick<CoreDeps, 'vendors'>, route: ResolvedRoute): boolean {
  return route.retryAmbiguousCompletion ?? deps.vendors.adapters(route.vendor)?.completionIdempotent ?? false;
}

/**
 * Calls the vendor's completion (its checkpoints saved under the held lease) and records the call in
 * the vendor account's breaker. Throws what the call threw: the caller decides what a failure means.
 */
export async function callVendorCompletion(
  deps: CompletionCallDeps,
  held: HeldCompletion,
): Promise<AcceptedCompletion> {
  const { route, message, log } = held;
  const { adapter, ctx } =
    held.prepared ?? (await prepareVendor(deps.vendors, route, message.segments, log, held.deadline));
  deps.failpoint('completion:before-call', message.object.key);
  try {
    const result = await adapter.complete(
      { file: fileOfMessage(message), upload: message.upload, refs: held.refs },
      { ...ctx, checkpoint: (refs: VendorRefs) => deps.ledger.checkpoint(held.key, held.owner, refs) },
    );
    await deps.guard.record(route, undefined, log);
    return { result, hasStatus: adapter.status !== undefined };
  } catch (error) {
    await deps.guard.record(route, error, log);
    throw error;
  }
}

/**
 * Records an accepted completion: COMPLETED (its outcome decided now, or by the vendor job's verdict),
 * then the first status check or the announcement. If the check cannot be sent, the caller's message
 * comes back and finds the delivery completed, its verdict undecided: the check is sent then.
 */
export async function recordCompleted(
  deps: CompletionCallDeps,
  held: HeldCompletion,
  accepted: AcceptedCompletion,
): Promise<void> {
  const { route, log } = held;
  deps.failpoint('completion:after-call', held.message.object.key);
  const polled = route.pollStatus && accepted.hasStatus;
  const completed = await deps.ledger.markCompleted(held.key, held.owner, {
    refs: accepted.result.refs,
    vendorState: accepted.result.vendorState,
    // A vendor job status follows: the outcome waits for the vendor's verdict.
    ...(polled ? { vendorPhase: 'running' } : { outcome: 'succeeded' }),
    decidedBy: held.decidedBy,
  });
  deps.metrics.count(MetricName.FilesCompleted, route.vendor);
  log.info('completed', { refs: accepted.result.refs, vendorState: accepted.result.vendorState });
  if (polled) await scheduleFirstCheck(deps, held.message, route);
  else await deps.announcer.outcome(completed, 'succeeded', log, noteFor(deps, route));
}

/**
 * A completed, polled delivery whose verdict is undecided, seen again by a message received before: the
 * worker that completed it may have died before its first status check left, so it is sent again.
 */
export function mayHaveLostFirstCheck(
  deps: Pick<CoreDeps, 'vendors'>,
  record: DeliveryRecord,
  ctx: Pick<RecordContext, 'receiveCount'>,
  route: ResolvedRoute,
): boolean {
  return (
    record.state === DeliveryState.COMPLETED &&
    record.outcome === undefined &&
    ctx.receiveCount > 1 &&
    willPoll(deps, route)
  );
}

/** Vendors with a job status are followed until their verdict, unless the route turns polling off. */
export function willPoll(deps: Pick<CoreDeps, 'vendors'>, route: ResolvedRoute): boolean {
  return route.pollStatus && deps.vendors.adapters(route.vendor)?.status !== undefined;
}

/** Why a delivery's outcome is decided at the completion answer, for the result document. */
export function noteFor(deps: Pick<CoreDeps, 'vendors'>, route: ResolvedRoute): { note?: string } {
  if (deps.vendors.adapters(route.vendor)?.status === undefined)
    return { note: `${route.vendor} publishes no job status: the delivery ends at its completion answer` };
  if (!route.pollStatus)
    return {
      note: `status polling is off for route ${route.id}: the delivery ends at its completion answer`,
    };
  return {};
}

export async function scheduleFirstCheck(
  deps: CompletionCallDeps,
  message: CompletionMessageV1,
  route: ResolvedRoute,
): Promise<void> {
  const check: StatusCheckMessageV1 = {
    v: 1,
    type: 'status',
    deliveryId: message.deliveryId,
    routeId: route.id,
    check: 0,
    deadline: new Date(Date.now() + deps.statusMaxSeconds * 1000).toISOString(),
    completion: message,
  };
  await sendStatusCheck(deps, check, deps.statusFirstDelaySeconds);
}

/** Sends a vendor status check to the completion queue, after `delaySeconds` (SQS caps it at 900). */
export async function sendStatusCheck(
  deps: Pick<CoreDeps, 'sqs' | 'completionQueueUrl'>,
  check: StatusCheckMessageV1,
  delaySeconds: number,
): Promise<void> {
  await deps.sqs.send(
    new SendMessageCommand({
      QueueUrl: deps.completionQueueUrl,
      MessageBody: JSON.stringify(check),
      DelaySeconds: Math.min(900, Math.max(0, Math.round(delaySeconds))),
    }),
  );
}

/** Announces the outcome a ledger write decided, if it decided one. */
export async function announceDecided(
  deps: Pick<CoreDeps, 'announcer'>,
  result: TransitionResult,
  log: CoreLogger,
  extras?: OutcomeExtras,
): Promise<void> {
  if (result.written && result.decided)
    await deps.announcer.outcome(result.record, result.decided, log, extras);
}
