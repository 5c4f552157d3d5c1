import type { SQSRecord } from 'aws-lambda';
import {
  AmbiguousOutcomeError,
  ErrorCode,
  errorCodeOf,
  errorMessageOf,
  outcomeOfCode,
  PermanentError,
  PipelineError,
  pipelineError,
  RetryableError,
} from '../shared/errors';
import type { InvocationInfo } from '../shared/invocation';
import {
  type CompletionMessageV1,
  CompletionQueueMessageSchema,
  type StatusCheckMessageV1,
} from '../shared/messages';
import { type CoreLogger, MetricName } from '../shared/observability';
import { announceLongWait, errorFileKeyOf, type RowStats } from '../shared/outcome';
import { isFinal, type RecordContext } from '../shared/queue/sqs-batch';
import { redactor } from '../shared/redact';
import type { ResolvedRoute } from '../shared/routes/schema';
import { type DeliveryKey, DeliveryState, deliveryKeyOf } from '../shared/state/ledger';
import { type CopiedFile, copyToS3 } from '../shared/upload/copy-to-s3';
import {
  type AcceptedCompletion,
  announceDecided,
  type CompletionCallDeps,
  callVendorCompletion,
  fileOfMessage,
  type HeldCompletion,
  mayHaveLostFirstCheck,
  noteFor,
  recordCompleted,
  retriesAmbiguous,
  scheduleFirstCheck,
  sendStatusCheck,
} from '../shared/vendor-completion';
import { prepareVendor } from '../shared/vendor-context';

/** What completion needs: the core both functions share (its completion queue URL is its own queue: delayed status checks are sent back to it), the completion settings, and its own. */
export interface CompletionDeps extends CompletionCallDeps {
  /** Largest vendor error file copied, bytes. */
  readonly errorFileMaxBytes: number;
}

function routeFor(deps: CompletionDeps, routeId: string): ResolvedRoute {
  const route = deps.routes.byId(routeId);
  if (!route) {
    throw new PermanentError(
      ErrorCode.ROUTE_CONFIG_INVALID,
      `route "${routeId}" is not configured (removed since the upload?)`,
    );
  }
  return route;
}

/** Handles one message of the completion queue: a completion, or a later vendor status check. */
export async function completionMessage(
  deps: CompletionDeps,
  record: SQSRecord,
  ctx: RecordContext,
  invocation: InvocationInfo,
  log: CoreLogger,
): Promise<void> {
  let json: unknown;
  try {
    json = JSON.parse(record.body);
  } catch {
    throw new PermanentError(ErrorCode.MALFORMED_MESSAGE, 'completion message is not JSON');
  }
  const parsed = CompletionQueueMessageSchema.safeParse(json);
  if (!parsed.success) {
    const v = (json as { v?: unknown } | null)?.v;
    throw new PermanentError(
      ErrorCode.MALFORMED_MESSAGE,
      v !== undefined && v !== 1
        ? `completion message version ${String(v)} is not supported by this function (v1)`
        : `completion message does not match schema v1: ${parsed.error.issues
            .slice(0, 5)
            .map((i) => `${i.path.join('.')}: ${i.message}`)
            .join('; ')}`,
    );
  }
  if (parsed.data.type === 'status') return checkStatus(deps, parsed.data, ctx, invocation, log);
  return complete(deps, parsed.data, ctx, invocation, log);
}

async function complete(
  deps: CompletionDeps,
  message: CompletionMessageV1,
  ctx: RecordContext,
  invocation: InvocationInfo,
  parentLog: CoreLogger,
): Promise<void> {
  const route = routeFor(deps, message.routeId);
  const log = parentLog.with({
    bucket: message.object.bucket,
    key: message.object.key,
    versionId: message.object.versionId,
    route: route.id,
    vendor: route.vendor,
    attempt: ctx.attempt,
  });
  const key = deliveryKeyOf(message.object);
  // A vendor that is down is not called: the message waits (re-enqueued) before any lease is taken.
  try {
    await deps.guard.check(route, log);
  } catch (error) {
    await recordWait(deps, ctx, key, error, log);
    await announceLongWait(deps, ctx, key, error, log);
    throw error;
  }
  // The lease comes first: a failure before the vendor call (a secret gone, options broken) is then
  // recorded in the ledger like any other, and a duplicate message never even reads the secret.
  const retryAmbiguous = retriesAmbiguous(deps, route);
  const owner = invocation.requestId;

  const begin = await deps.ledger.beginCompletion(key, {
    owner,
    leaseMs: invocation.leaseMs(),
    retryAmbiguous,
    redrive: ctx.redrive,
  });
  switch (begin.outcome) {
    case 'missing':
      throw new PermanentError(ErrorCode.STATE_INCONSISTENT, `no ledger entry for ${message.deliveryId}`);
    case 'done': {
      const record = begin.record;
      if (record.outcome && record.decidedBy === ctx.messageId) {
        // This very message decided the outcome and did not finish (a crash): announce it again.
        await deps.announcer.outcome(record, record.outcome, log, noteFor(deps, route));
        if (record.state === DeliveryState.FAILED)
          throw pipelineError(
            (record.reason ?? ErrorCode.INTERNAL) as ErrorCode,
            record.lastError ?? 'failed',
          );
        return;
      }
      if (mayHaveLostFirstCheck(deps, record, ctx, route)) {
        // Received before and completed, but its first status check may never have been sent.
        await scheduleFirstCheck(deps, message, route);
        log.info('completed earlier; the first vendor status check is scheduled again');
        return;
      }
      deps.metrics.count(MetricName.DuplicateNotifications, route.vendor);
      log.info('completion already handled for this version', { state: record.state });
      return;
    }
    case 'busy':
      throw new RetryableError(
        ErrorCode.LEASE_HELD,
        `${message.deliveryId} is being completed by another worker`,
        {
          retryAfterMs: Math.max(0, (begin.record.leaseUntil ?? 0) - Date.now()),
        },
      );
    case 'uncertain': {
      const text =
        'a previous completion call was sent and never answered (the worker died or timed out); ' +
        `${route.vendor} has no idempotency key, so calling again could ingest the file twice — check the vendor, then resolve`;
      // Counted once, when it is found; a redelivered message of a parked delivery is parked again quietly.
      if (begin.record.state === DeliveryState.COMPLETING) {
        const parked = await deps.ledger.markUncertain(key, text, ctx.messageId);
        deps.metrics.count(MetricName.CompletionUncertain, route.vendor);
        log.error('completion outcome unknown; parked', { state: begin.record.state });
        await announceDecided(deps, parked, log);
      } else if (begin.record.outcome && begin.record.decidedBy === ctx.messageId) {
        await deps.announcer.outcome(begin.record, begin.record.outcome, log);
      }
      throw new PermanentError(ErrorCode.COMPLETION_UNCERTAIN, text);
    }
    case 'acquired':
      break;
  }

  const held: HeldCompletion = {
    message,
    route,
    key,
    owner,
    refs: { ...message.refs, ...(begin.record.refs ?? {}) },
    decidedBy: ctx.messageId,
    deadline: invocation.deadline,
    log,
  };
  let accepted: AcceptedCompletion;
  try {
    try {
      accepted = await callVendorCompletion(deps, held);
    } catch (error) {
      if (error instanceof AmbiguousOutcomeError && !retryAmbiguous) {
        const text = `completion call sent, no answer (${redactor.text(error.message)}); ${route.vendor} has no idempotency key, so it is not retried automatically`;
        const parked = await deps.ledger.markUncertain(key, text, ctx.messageId);
        deps.metrics.count(MetricName.CompletionUncertain, route.vendor);
        log.error('completion outcome unknown; parked', { error: text });
        await announceDecided(deps, parked, log);
        throw new PermanentError(ErrorCode.COMPLETION_UNCERTAIN, text, { cause: error });
      }
      throw error;
    }
  } catch (error) {
    if (error instanceof PermanentError && error.code === ErrorCode.COMPLETION_UNCERTAIN) throw error;
    const final = isFinal(ctx, error);
    const failed = await deps.ledger.failCompletion(key, owner, {
      code: errorCodeOf(error),
      message: errorMessageOf(error),
      final,
      outcome: outcomeOfCode(errorCodeOf(error)),
      decidedBy: ctx.messageId,
    });
    await announceDecided(deps, failed, log);
    if (!final) await announceLongWait(deps, ctx, key, error, log);
    if (final) deps.metrics.count(MetricName.FilesFailed, route.vendor, 1, errorCodeOf(error));
    else deps.metrics.count(MetricName.Retries, route.vendor);
    log.warn(final ? 'completion failed' : 'completion attempt failed; will retry', {
      errorCode: errorCodeOf(error),
      error: errorMessageOf(error),
    });
    throw error;
  }
  await recordCompleted(deps, held, accepted);
}

/**
 * The first wait of a completion for an open breaker is recorded on the ledger, so `status` shows
 * "waiting for <vendor> (down since T)"; the re-enqueued message carries that it was (`waitingFor`):
 * one write per delivery and outage, as in dispatch. The note is advisory: a failed write does not
 * turn the wait into a retry.
 */
async function recordWait(
  deps: Pick<CompletionDeps, 'ledger'>,
  ctx: RecordContext,
  key: DeliveryKey,
  error: unknown,
  log: CoreLogger,
): Promise<void> {
  const waitingFor = error instanceof PipelineError ? error.waitingFor : undefined;
  if (!waitingFor || ctx.waitingFor === waitingFor) return;
  try {
    await deps.ledger.deferCompletion(key, {
      code: errorCodeOf(error),
      message: errorMessageOf(error),
      waitingFor,
    });
  } catch (ledgerError) {
    log.warn('could not record the wait in the ledger', { error: errorMessageOf(ledgerError) });
  }
}

async function checkStatus(
  deps: CompletionDeps,
  check: StatusCheckMessageV1,
  ctx: RecordContext,
  invocation: InvocationInfo,
  parentLog: CoreLogger,
): Promise<void> {
  const { completion } = check;
  const route = routeFor(deps, check.routeId);
  const log = parentLog.with({
    key: completion.object.key,
    route: route.id,
    vendor: route.vendor,
    statusCheck: check.check,
  });
  const key = deliveryKeyOf(completion.object);
  const record = await deps.ledger.get(key);
  if (record?.outcome && record.decidedBy === ctx.messageId) {
    // This very check decided the verdict and did not finish (a crash): announce it again.
    await deps.announcer.outcome(record, record.outcome, log, {
      stats: record.vendorDetail?.rowStats as RowStats | undefined,
    });
    return;
  }
  if (!record || record.state !== DeliveryState.COMPLETED || record.outcome !== undefined) {
    log.info('status check skipped: the delivery is not awaiting a vendor verdict', {
      state: record?.state,
      outcome: record?.outcome,
    });
    return;
  }
  const { adapter, ctx: vendorCtx } = await prepareVendor(
    deps.vendors,
    route,
    completion.segments,
    log,
    invocation.deadline,
  );
  if (!adapter.status) return;
  await deps.guard.check(route, log).catch(async (error: unknown) => {
    await announceLongWait(deps, ctx, key, error, log);
    throw error;
  });
  let status: Awaited<ReturnType<NonNullable<typeof adapter.status>>>;
  try {
    status = await adapter.status(
      {
        file: fileOfMessage(completion),
        upload: completion.upload,
        refs: { ...completion.refs, ...(record.refs ?? {}) },
        result: record.refs ?? {},
      },
      vendorCtx,
    );
    await deps.guard.record(route, undefined, log);
  } catch (error) {
    await deps.guard.record(route, error, log);
    throw error;
  }
  if (status.phase === 'running') {
    if (Date.now() >= Date.parse(check.deadline)) {
      const unknown = await deps.ledger.recordVendorVerdict(key, {
        phase: status.phase,
        vendorState: status.vendorState,
        detail: status.detail,
        decidedBy: ctx.messageId,
        outcome: 'attention',
        reason: ErrorCode.VENDOR_STATUS_UNKNOWN,
        message: `the vendor job was still ${status.vendorState} when polling reached its deadline`,
      });
      deps.metrics.count(MetricName.VendorStatusUnknown, route.vendor);
      log.warn('vendor job still running at the polling deadline; its verdict is unknown', {
        vendorState: status.vendorState,
      });
      await announceDecided(deps, unknown, log);
      return;
    }
    // The job's intermediate states are not written (each would cost a write per poll): the verdict is.
    const delay = Math.min(900, deps.statusFirstDelaySeconds * 2 ** (check.check + 1));
    await sendStatusCheck(deps, { ...check, check: check.check + 1 }, delay);
    return;
  }
  // The vendor's file of rejected rows comes home next to the result document, before the verdict is
  // recorded: a failed copy (retryable) brings this check back, verdict still undecided.
  let errorFile: CopiedFile | undefined;
  if (status.errorFileUrl) {
    errorFile = await copyToS3({
      s3: deps.s3,
      link: status.errorFileUrl,
      policy: route,
      bucket: completion.object.bucket,
      keyFor: (extension) => errorFileKeyOf(deps.announcer.resultsPrefix, record, extension),
      maxBytes: deps.errorFileMaxBytes,
      timeoutMs: Math.max(1000, Math.min(60_000, invocation.deadline() - Date.now())),
    });
    if (errorFile.kind === 'skipped') log.warn('vendor error file not copied', { reason: errorFile.reason });
  }
  const verdict = await deps.ledger.recordVendorVerdict(key, {
    phase: status.phase,
    vendorState: status.vendorState,
    detail: { ...(status.detail ?? {}), ...(status.stats ? { rowStats: status.stats } : {}) },
    decidedBy: ctx.messageId,
    outcome: status.phase === 'succeeded' ? 'succeeded' : 'failed',
    reason: status.phase === 'succeeded' ? undefined : ErrorCode.VENDOR_JOB_FAILED,
    message: status.phase === 'succeeded' ? undefined : `the vendor job ended ${status.vendorState}`,
    ...(errorFile?.kind === 'copied' ? { errorFile: errorFile.key } : {}),
  });
  await announceDecided(deps, verdict, log, {
    stats: status.stats,
    ...(errorFile?.kind === 'copied' ? { errorFileKey: errorFile.key } : {}),
    ...(errorFile?.kind === 'skipped' ? { note: errorFile.reason } : {}),
  });
  if (status.phase === 'succeeded') {
    deps.metrics.count(MetricName.VendorJobSucceeded, route.vendor);
    log.info('vendor job succeeded', { vendorState: status.vendorState });
  } else {
    deps.metrics.count(MetricName.VendorJobFailed, route.vendor, 1, status.vendorState);
    log.error('vendor job failed', { vendorState: status.vendorState, detail: status.detail });
  }
}
