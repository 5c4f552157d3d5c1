import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import {
  AmbiguousOutcomeError,
  ErrorCode,
  errorCodeOf,
  errorMessageOf,
  PermanentError,
  RetryableError,
} from '../shared/errors';
import type { FailpointHook } from '../shared/failpoints';
import { fileDescriptorOf } from '../shared/file-descriptor';
import type { InvocationInfo } from '../shared/invocation';
import {
  type CompletionMessageV1,
  CompletionQueueMessageSchema,
  type StatusCheckMessageV1,
} from '../shared/messages';
import { type CoreLogger, MetricName, type PipelineMetrics } from '../shared/observability';
import { isFinal, type RecordContext } from '../shared/queue/sqs-batch';
import { redactor } from '../shared/redact';
import type { RouteMatcher } from '../shared/routes/match';
import type { ResolvedRoute } from '../shared/routes/schema';
import { type DeliveryLedger, DeliveryState, deliveryKeyOf } from '../shared/state/ledger';
import { prepareVendor, type VendorRuntime } from '../shared/vendor-context';
import type { VendorGuard } from '../shared/vendor-guard';
import type { CompletionInput, CompletionResult, FileDescriptor, VendorRefs } from '../vendors/types';

export interface CompletionDeps {
  readonly sqs: SQSClient;
  readonly ledger: DeliveryLedger;
  readonly routes: RouteMatcher;
  readonly vendors: VendorRuntime;
  /** The completion queue itself: delayed status checks are sent back to it. */
  readonly completionQueueUrl: string;
  readonly metrics: PipelineMetrics;
  /** The vendor accounts' circuit breakers. */
  readonly guard: VendorGuard;
  readonly failpoint: FailpointHook;
  /** First status check after completion, seconds (then doubling, capped at 900 — SQS's max delay). */
  readonly statusFirstDelaySeconds: number;
  /** Stop polling a job after this many seconds. */
  readonly statusMaxSeconds: number;
}

/** The file the completion message describes, as dispatch described it to the adapter. */
function fileOf(message: CompletionMessageV1): FileDescriptor {
  return fileDescriptorOf(message.object, {
    contentType: message.contentType,
    sha256Base64: message.sha256Base64,
  });
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
  // A vendor that is down is not called: the message waits (re-enqueued) before any lease is taken.
  await deps.guard.check(route, log);
  // The lease comes first: a failure before the vendor call (a secret gone, options broken) is then
  // recorded in the ledger like any other, and a duplicate message never even reads the secret.
  const retryAmbiguous =
    route.retryAmbiguousCompletion ?? deps.vendors.adapters(route.vendor)?.completionIdempotent ?? false;
  const key = deliveryKeyOf(message.object);
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
    case 'done':
      deps.metrics.count(MetricName.DuplicateNotifications, route.vendor);
      log.info('completion already handled for this version', { state: begin.record.state });
      return;
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
        await deps.ledger.markUncertain(key, text, ctx.messageId);
        deps.metrics.count(MetricName.CompletionUncertain, route.vendor);
        log.error('completion outcome unknown; parked', { state: begin.record.state });
      }
      throw new PermanentError(ErrorCode.COMPLETION_UNCERTAIN, text);
    }
    case 'acquired':
      break;
  }

  let result: CompletionResult;
  let hasStatus = false;
  try {
    const { adapter, ctx: vendorCtx } = await prepareVendor(
      deps.vendors,
      route,
      message.segments,
      log,
      invocation.deadline,
    );
    hasStatus = adapter.status !== undefined;
    const input: CompletionInput = {
      file: fileOf(message),
      upload: message.upload,
      refs: { ...message.refs, ...(begin.record.refs ?? {}) },
    };
    deps.failpoint('completion:before-call', message.object.key);
    try {
      result = await adapter.complete(input, {
        ...vendorCtx,
        checkpoint: (refs: VendorRefs) => deps.ledger.checkpoint(key, owner, refs),
      });
      await deps.guard.record(route, undefined, log);
    } catch (error) {
      await deps.guard.record(route, error, log);
      if (error instanceof AmbiguousOutcomeError && !retryAmbiguous) {
        const text = `completion call sent, no answer (${redactor.text(error.message)}); ${route.vendor} has no idempotency key, so it is not retried automatically`;
        await deps.ledger.markUncertain(key, text, ctx.messageId);
        deps.metrics.count(MetricName.CompletionUncertain, route.vendor);
        log.error('completion outcome unknown; parked', { error: text });
        throw new PermanentError(ErrorCode.COMPLETION_UNCERTAIN, text, { cause: error });
      }
      throw error;
    }
  } catch (error) {
    if (error instanceof PermanentError && error.code === ErrorCode.COMPLETION_UNCERTAIN) throw error;
    const final = isFinal(ctx, error);
    await deps.ledger.failCompletion(key, owner, {
      code: errorCodeOf(error),
      message: errorMessageOf(error),
      final,
      decidedBy: ctx.messageId,
    });
    if (final) deps.metrics.count(MetricName.FilesFailed, route.vendor, 1, errorCodeOf(error));
    else deps.metrics.count(MetricName.Retries, route.vendor);
    log.warn(final ? 'completion failed' : 'completion attempt failed; will retry', {
      errorCode: errorCodeOf(error),
      error: errorMessageOf(error),
    });
    throw error;
  }
  deps.failpoint('completion:after-call', message.object.key);
  const polled = route.pollStatus && hasStatus;
  await deps.ledger.markCompleted(key, owner, {
    refs: result.refs,
    vendorState: result.vendorState,
    // A vendor job status follows: the outcome waits for the vendor's verdict.
    ...(polled ? { vendorPhase: 'running' } : { outcome: 'succeeded' }),
    decidedBy: ctx.messageId,
  });
  deps.metrics.count(MetricName.FilesCompleted, route.vendor);
  log.info('completed', { refs: result.refs, vendorState: result.vendorState });

  if (polled) {
    const check: StatusCheckMessageV1 = {
      v: 1,
      type: 'status',
      deliveryId: message.deliveryId,
      routeId: route.id,
      check: 0,
      deadline: new Date(Date.now() + deps.statusMaxSeconds * 1000).toISOString(),
      completion: message,
    };
    // The delivery is complete either way; a lost first check only means no vendor job state is recorded.
    await sendStatusCheck(deps, check, deps.statusFirstDelaySeconds).catch((error: unknown) =>
      log.warn('could not schedule the vendor status check; the job state will not be recorded', {
        error: errorMessageOf(error),
      }),
    );
  }
}

async function sendStatusCheck(
  deps: CompletionDeps,
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
  await deps.guard.check(route, log);
  let status: Awaited<ReturnType<NonNullable<typeof adapter.status>>>;
  try {
    status = await adapter.status(
      {
        file: fileOf(completion),
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
      await deps.ledger.recordVendorVerdict(key, {
        ...status,
        decidedBy: ctx.messageId,
        outcome: 'attention',
        reason: ErrorCode.VENDOR_STATUS_UNKNOWN,
        message: `the vendor job was still ${status.vendorState} when polling reached its deadline`,
      });
      log.warn('vendor job still running at the polling deadline; giving up polling', {
        vendorState: status.vendorState,
      });
      return;
    }
    if (status.vendorState !== record.vendorState) await deps.ledger.recordVendorProgress(key, status);
    const delay = Math.min(900, deps.statusFirstDelaySeconds * 2 ** (check.check + 1));
    await sendStatusCheck(deps, { ...check, check: check.check + 1 }, delay);
    return;
  }
  await deps.ledger.recordVendorVerdict(key, {
    ...status,
    decidedBy: ctx.messageId,
    outcome: status.phase === 'succeeded' ? 'succeeded' : 'failed',
    reason: status.phase === 'succeeded' ? undefined : ErrorCode.VENDOR_JOB_FAILED,
    message: status.phase === 'succeeded' ? undefined : `the vendor job ended ${status.vendorState}`,
  });
  if (status.phase === 'succeeded') {
    deps.metrics.count(MetricName.VendorJobSucceeded, route.vendor);
    log.info('vendor job succeeded', { vendorState: status.vendorState });
  } else {
    deps.metrics.count(MetricName.VendorJobFailed, route.vendor, 1, status.vendorState);
    log.error('vendor job failed', { vendorState: status.vendorState, detail: status.detail });
  }
}
