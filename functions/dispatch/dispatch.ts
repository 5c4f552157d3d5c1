import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import type { CoreDeps } from '../shared/aws-runtime';
import {
  AmbiguousOutcomeError,
  ErrorCode,
  errorCodeOf,
  errorMessageOf,
  isRetryable,
  NoRouteError,
  outcomeOfCode,
  PermanentError,
  pipelineError,
  RetryableError,
  UploadUrlExpiredError,
} from '../shared/errors';
import { fileDescriptorOf } from '../shared/file-descriptor';
import type { InvocationInfo } from '../shared/invocation';
import { type CompletionMessageV1, CompletionMessageV1Schema, type ObjectRef } from '../shared/messages';
import { type CoreLogger, MetricName } from '../shared/observability';
import { announceLongWait } from '../shared/outcome';
import { dlqAttributes, isFinal, type RecordContext } from '../shared/queue/sqs-batch';
import type { RouteMatcher } from '../shared/routes/match';
import { type ObjectCreated, parseS3NotificationBody } from '../shared/s3-event';
import { type DeliveryRecord, DeliveryState, deliveryIdOf, deliveryKeyOf } from '../shared/state/ledger';
import {
  bufferedRead,
  type FirstRead,
  type IdentifiedVersion,
  identifyVersion,
  type OpenedVersion,
  openVersion,
  sha256OfObject,
} from '../shared/upload/s3-source';
import { uploadPlan } from '../shared/upload/upload-plan';
import {
  type AcceptedCompletion,
  announceDecided,
  callVendorCompletion,
  type HeldCompletion,
  mayHaveLostFirstCheck,
  recordCompleted,
  retriesAmbiguous,
  scheduleFirstCheck,
} from '../shared/vendor-completion';
import { prepareVendor } from '../shared/vendor-context';
import { breakerKeyOf } from '../shared/vendor-guard';
import type { FileDescriptor, UploadResult } from '../vendors/types';

/** What dispatch needs: the core both functions share, and its own upload settings. */
export interface DispatchDeps extends CoreDeps {
  /** How many times to ask for a fresh URL when one expires within an invocation. */
  readonly presignAttempts?: number;
  /** Report upload progress every this many bytes (0 = never). */
  readonly progressEveryBytes?: number;
  /** Abort an upload, or an S3 read, whose bytes stop moving for this long, ms. */
  readonly stallMs?: number;
  /** Call the vendor's completion right after the upload (the completion queue takes over failures). */
  readonly completeInline?: boolean;
  /**
   * Complete at once only with at least this much of the invocation left, ms (a completion may take two
   * vendor calls); with less, the completion queue does it, so a deadline never cuts a completion call.
   */
  readonly completeInlineMinMs?: number;
  /** Where a completion refused for good is parked: the completion function's DLQ. */
  readonly completionDlqUrl: string;
}

/**
 * Handles one SQS message of the intake queue: an S3 notification with one or more records. Each
 * object version is delivered at most once thanks to the ledger; the message fails (retryably) if
 * any record must be retried, or permanently if any record failed permanently.
 */
export async function dispatchMessage(
  deps: DispatchDeps,
  record: SQSRecord,
  ctx: RecordContext,
  invocation: InvocationInfo,
  log: CoreLogger,
): Promise<void> {
  const parsed = parseS3NotificationBody(record.body);
  if (parsed.kind === 'test-event') {
    log.info('ignoring s3:TestEvent (sent once when the bucket notification is configured)');
    return;
  }
  if (parsed.kind === 'malformed') {
    throw new PermanentError(ErrorCode.MALFORMED_MESSAGE, parsed.reason);
  }
  let retryable: unknown;
  let permanent: unknown;
  for (const item of parsed.records) {
    if (item.kind === 'malformed') {
      permanent ??= new PermanentError(ErrorCode.MALFORMED_MESSAGE, item.reason);
      continue;
    }
    if (item.kind === 'skipped') {
      log.info('skipping record', { reason: item.reason, key: item.key });
      continue;
    }
    try {
      await deliverObject(deps, item.object, ctx, invocation, log);
    } catch (error) {
      if (isRetryable(error)) retryable ??= error;
      else permanent ??= error;
    }
  }
  // Retry wins: records already finished are skipped by the ledger on the next receive.
  if (retryable) throw retryable;
  if (permanent) throw permanent;
}

/** Delivers one object version: identity, route, breaker, lease, checks, presign, stream, completion message. */
export async function deliverObject(
  deps: DispatchDeps,
  event: ObjectCreated,
  ctx: RecordContext,
  invocation: InvocationInfo,
  parentLog: CoreLogger,
): Promise<void> {
  const match = deps.routes.match(event.key);
  const vendor = match?.route.vendor ?? 'unrouted';
  const notified: ObjectRef = {
    bucket: event.bucket,
    key: event.key,
    versionId: event.versionId,
    eTag: event.eTag ?? '',
    size: event.size ?? 0,
    ...(event.sequencer ? { sequencer: event.sequencer } : {}),
  };
  // Counted once per notification: not again when a waiting file wakes up, a retry receives it again
  // or an operator redrives it.
  if (isFirstReceipt(ctx)) deps.metrics.count(MetricName.FilesReceived, vendor);
  if (!match) {
    // Unrouted keys are not even read (dispatch may read route prefixes only): recorded as notified.
    const error = new NoRouteError(`no route for key "${event.key}"`);
    const refused = await deps.ledger.refuseDispatch(notified, {
      code: error.code,
      message: error.message,
      redrive: ctx.redrive,
      decidedBy: ctx.messageId,
    });
    await announceDecided(deps, refused, parentLog);
    deps.metrics.count(MetricName.FilesFailed, vendor, 1, error.code);
    parentLog.warn('file refused', { key: event.key, errorCode: error.code, error: error.message });
    throw error;
  }
  // The identity of the version comes from the object (a notification without a version id, as
  // emulators send, is matched to its version): a multipart upload announced twice is one delivery.
  const signal = AbortSignal.timeout(Math.max(1, Math.floor(invocation.deadline() - Date.now())));
  let identified: IdentifiedVersion;
  try {
    identified = await identifyVersion(deps.s3, event, { checksum: wantsSha256(deps, match.route), signal });
  } catch (error) {
    const detail = {
      code: errorCodeOf(error),
      message: errorMessageOf(error),
      routeId: match.route.id,
      vendor: match.route.vendor,
    };
    // Recorded under what the notification names, the only identity known.
    if (isFinal(ctx, error)) {
      const refused = await deps.ledger.refuseDispatch(notified, {
        ...detail,
        redrive: ctx.redrive,
        outcome: outcomeOfCode(detail.code),
        decidedBy: ctx.messageId,
      });
      await announceDecided(deps, refused, parentLog);
    } else await deps.ledger.deferDispatch(notified, detail);
    throw error;
  }
  // Reading the object may have opened it: its body is the upload's first read, or let go on any other path.
  try {
    await deliverIdentified(deps, { event, match, identified, ctx, invocation, signal, parentLog });
  } finally {
    identified.opened?.dispose();
  }
}

interface IdentifiedDelivery {
  readonly event: ObjectCreated;
  readonly match: NonNullable<ReturnType<RouteMatcher['match']>>;
  readonly identified: IdentifiedVersion;
  readonly ctx: RecordContext;
  readonly invocation: InvocationInfo;
  /** Aborts at the invocation's deadline. */
  readonly signal: AbortSignal;
  readonly parentLog: CoreLogger;
}

/** Delivers an identified object version: breaker, lease, checks, presign, stream, completion. */
async function deliverIdentified(deps: DispatchDeps, i: IdentifiedDelivery): Promise<void> {
  const { event, match, identified, ctx, invocation, parentLog } = i;
  const vendor = match.route.vendor;
  const object: ObjectRef = identified.object;
  const deliveryId = deliveryIdOf(object);
  let log = parentLog.with({
    bucket: object.bucket,
    key: object.key,
    versionId: object.versionId,
    route: match.route.id,
    vendor,
    attempt: ctx.attempt,
  });

  const failEarly = async (error: PermanentError): Promise<never> => {
    const refused = await deps.ledger.refuseDispatch(object, {
      code: error.code,
      message: error.message,
      routeId: match.route.id,
      vendor: match.route.vendor,
      redrive: ctx.redrive,
      outcome: outcomeOfCode(error.code),
      decidedBy: ctx.messageId,
    });
    await announceDecided(deps, refused, log);
    deps.metrics.count(MetricName.FilesFailed, vendor, 1, error.code);
    log.warn('file refused', { errorCode: error.code, error: error.message });
    throw error;
  };

  const { route, segments } = match;
  // A notification may omit the size; the head checks it again before any vendor call.
  if (event.size === 0 || identified.opened?.head.size === 0)
    return failEarly(new PermanentError(ErrorCode.EMPTY_FILE, 'the object is empty (0 bytes)'));

  try {
    await deps.guard.check(route, log);
  } catch (error) {
    // The vendor is down: the file waits without a lease. The first wait for this vendor is recorded so
    // `status` shows it (the message carries that it was: one write per file and outage).
    if (ctx.waitingFor !== breakerKeyOf(route)) {
      await deps.ledger.deferDispatch(object, {
        routeId: route.id,
        vendor: route.vendor,
        code: errorCodeOf(error),
        message: errorMessageOf(error),
        waitingFor: breakerKeyOf(route),
      });
    }
    log.info('vendor unavailable: the file waits', { error: errorMessageOf(error) });
    await announceLongWait(deps, ctx, deliveryKeyOf(object), error, log);
    throw error;
  }

  const begin = await deps.ledger.beginDispatch({
    object,
    routeId: route.id,
    vendor: route.vendor,
    owner: invocation.requestId,
    leaseMs: invocation.leaseMs(),
    redrive: ctx.redrive,
  });
  switch (begin.outcome) {
    case 'done':
      if (begin.record.outcome && begin.record.decidedBy === ctx.messageId) {
        // This very message decided the outcome and did not finish (a crash): announce it again.
        await deps.announcer.outcome(begin.record, begin.record.outcome, log);
        if (begin.record.state === DeliveryState.FAILED)
          throw pipelineError(
            (begin.record.reason ?? ErrorCode.INTERNAL) as ErrorCode,
            begin.record.lastError ?? 'failed',
          );
        return;
      }
      if (
        mayHaveLostFirstCheck(deps, begin.record, ctx, route) &&
        completedAtOnce(begin.record) &&
        begin.record.completionMessage
      ) {
        // This dispatch completed at once and failed before its first status check surely left (the
        // message came back): schedule it again, as the completion function does for its own messages.
        const message = CompletionMessageV1Schema.parse(JSON.parse(begin.record.completionMessage));
        await scheduleFirstCheck(deps, message, route);
        log.info('completed earlier; the first vendor status check is scheduled again');
        return;
      }
      deps.metrics.count(MetricName.DuplicateNotifications, vendor);
      log.info('duplicate notification: this version is already handled', { state: begin.record.state });
      return;
    case 'busy':
      // Come back when the holder's lease ends: sooner only burns receives (and could park the
      // message) while a live worker finishes or a dead one's lease runs out.
      throw new RetryableError(
        ErrorCode.LEASE_HELD,
        `${deliveryId} is held by another worker (${begin.record.state})`,
        {
          retryAfterMs: Math.max(0, (begin.record.leaseUntil ?? 0) - Date.now()),
        },
      );
    case 'resend-completion': {
      if (!begin.record.completionMessage)
        throw new PermanentError(ErrorCode.STATE_INCONSISTENT, 'uploaded delivery has no completion message');
      // Its sender died before sending, or this is a duplicate notification: either way the stored
      // message goes (again); a second copy is harmless, the completion lease admits one.
      log.info('uploaded version seen again: sending its stored completion message', {
        state: begin.record.state,
      });
      await enqueueCompletion(deps, deliveryId, begin.record.completionMessage);
      return;
    }
    case 'acquired':
      break;
  }
  const attempt = begin.record.attempts ?? 1;
  log = log.with({ dispatchAttempt: attempt });
  log.info('dispatching', { size: object.size });
  const owner = invocation.requestId;

  try {
    await deliverLeased(deps, {
      object,
      opened: identified.opened,
      signal: i.signal,
      route,
      segments,
      attempt,
      owner,
      invocation,
      log,
      vendor,
      deliveryId,
      decidedBy: ctx.messageId,
    });
    await deps.guard.record(route, undefined, log);
  } catch (error) {
    await deps.guard.record(route, error, log);
    const final = isFinal(ctx, error);
    const failed = await deps.ledger
      .failDispatch(deliveryKeyOf(object), owner, {
        code: errorCodeOf(error),
        message: errorMessageOf(error),
        final,
        outcome: outcomeOfCode(errorCodeOf(error)),
        decidedBy: ctx.messageId,
      })
      .catch((ledgerError: unknown) => {
        log.error('could not record the failure in the ledger', { error: errorMessageOf(ledgerError) });
        return undefined;
      });
    if (failed) await announceDecided(deps, failed, log);
    if (!final) await announceLongWait(deps, ctx, deliveryKeyOf(object), error, log);
    if (final) deps.metrics.count(MetricName.FilesFailed, vendor, 1, errorCodeOf(error));
    else deps.metrics.count(MetricName.Retries, vendor);
    log.warn(final ? 'delivery failed' : 'delivery attempt failed; will retry', {
      errorCode: errorCodeOf(error),
      error: errorMessageOf(error),
    });
    throw error;
  }
}

interface LeasedDelivery {
  readonly object: ObjectRef;
  /** The version opened while identifying it (head and paused body), if it was. */
  readonly opened: OpenedVersion | undefined;
  /** Aborts at the invocation's deadline. */
  readonly signal: AbortSignal;
  readonly route: NonNullable<ReturnType<RouteMatcher['match']>>['route'];
  readonly segments: Readonly<Record<string, string>>;
  readonly attempt: number;
  readonly owner: string;
  readonly invocation: InvocationInfo;
  readonly log: CoreLogger;
  readonly vendor: string;
  readonly deliveryId: string;
  readonly decidedBy: string;
}

/** The route's vendor wants the file's SHA-256: its reads ask S3 for the stored checksum. */
function wantsSha256(deps: DispatchDeps, route: { readonly vendor: string }): boolean {
  return deps.vendors.adapters(route.vendor)?.needsSha256 ?? false;
}

/**
 * Small objects a vendor wants hashed are read once: hashed into memory, then uploaded from it (one
 * GET instead of two). Bounds the memory of one delivery.
 */
const HASH_IN_MEMORY_MAX_BYTES = 8 * 1024 * 1024;

async function deliverLeased(deps: DispatchDeps, d: LeasedDelivery): Promise<void> {
  const { object } = d;
  // GetObject in place of a head (when identifying the version did not already open it): its body is
  // the upload's first read. Unversioned buckets pin reads to the notified ETag (a replaced object fails).
  const opened =
    d.opened ??
    (await openVersion(
      deps.s3,
      {
        bucket: object.bucket,
        key: object.key,
        versionId: object.versionId,
        eTag: object.versionId ? undefined : object.eTag || undefined,
      },
      { checksum: wantsSha256(deps, d.route), signal: d.signal },
    ));
  try {
    await uploadOpened(deps, d, opened);
  } finally {
    opened.dispose();
  }
}

async function uploadOpened(deps: DispatchDeps, d: LeasedDelivery, opened: OpenedVersion): Promise<void> {
  const { object, route, log, invocation, signal } = d;
  const key = deliveryKeyOf(object);
  const { head } = opened;
  if (head.size === 0) throw new PermanentError(ErrorCode.EMPTY_FILE, 'the object is empty (0 bytes)');
  // Identity fields stay as identified: they are the ledger key.
  const versioned: ObjectRef = {
    ...object,
    size: head.size,
    eTag: object.eTag || head.eTag.replaceAll('"', ''),
  };
  // Unversioned buckets: pin reads to the ETag the notification named, so a replaced object is noticed.
  const source = {
    bucket: object.bucket,
    key: object.key,
    versionId: object.versionId,
    eTag: object.versionId ? undefined : versioned.eTag,
  };

  const { adapter, ctx } = await prepareVendor(deps.vendors, route, d.segments, log, invocation.deadline);
  let file: FileDescriptor = fileDescriptorOf(
    { ...object, eTag: versioned.eTag, size: head.size },
    { contentType: head.contentType },
  );
  adapter.checkFile(file, ctx.options);

  let first: FirstRead = opened;
  if (adapter.needsSha256) {
    const started = Date.now();
    let sha256Base64 = head.sha256Base64;
    if (sha256Base64 === undefined) {
      const hashed = await sha256OfObject(deps.s3, source, {
        signal,
        stallMs: deps.stallMs,
        size: head.size,
        first: opened,
        keep: head.size <= HASH_IN_MEMORY_MAX_BYTES,
      });
      sha256Base64 = hashed.sha256Base64;
      if (hashed.bytes) first = bufferedRead(hashed.bytes);
    }
    log.debug('sha256 ready', { fromS3Checksum: head.sha256Base64 !== undefined, ms: Date.now() - started });
    file = { ...file, sha256Base64 };
  }

  const presignAttempts = deps.presignAttempts ?? 3;
  const started = Date.now();
  let upload: UploadResult | undefined;
  let refs = {};
  let contentType = file.contentType ?? 'application/octet-stream';
  for (let round = 1; ; round++) {
    const plan = await adapter.requestUpload(file, ctx);
    if (plan.kind === 'already-present') {
      const duplicate = await deps.ledger.markDuplicate(key, d.owner, plan.refs, d.decidedBy);
      await deps.announcer.outcome(duplicate, 'succeeded', log, {
        note: 'the vendor already held these bytes: nothing was uploaded or completed',
      });
      deps.metrics.count(MetricName.FilesDuplicate, d.vendor);
      log.info('vendor already holds these bytes; nothing to upload or complete', { refs: plan.refs });
      return;
    }
    refs = plan.refs;
    const firstTarget = plan.kind === 'single' ? plan.target : plan.parts[0]?.target;
    contentType = headerValue(firstTarget?.headers ?? {}, 'content-type') ?? contentType;
    let lastReported = 0;
    const every = deps.progressEveryBytes ?? 0;
    try {
      upload = await uploadPlan(plan, {
        s3: deps.s3,
        object: source,
        size: head.size,
        first,
        policy: route,
        partConcurrency: route.partConcurrency,
        signal,
        stallMs: deps.stallMs,
        onRetry: () => deps.metrics.count(MetricName.Retries, d.vendor),
        onProgress:
          every > 0
            ? (sent) => {
                if (sent - lastReported >= every || sent === head.size) {
                  lastReported = sent;
                  log.info('upload progress', { bytesSent: sent, size: head.size });
                }
              }
            : undefined,
      });
      break;
    } catch (error) {
      if (error instanceof UploadUrlExpiredError && round < presignAttempts) {
        log.warn('upload URL expired; asking the vendor for a fresh one', { round });
        deps.metrics.count(MetricName.Retries, d.vendor);
        continue;
      }
      throw error;
    }
  }
  const durationMs = Date.now() - started;
  deps.failpoint('dispatch:after-upload', object.key);

  const message: CompletionMessageV1 = CompletionMessageV1Schema.parse({
    v: 1,
    type: 'complete',
    deliveryId: d.deliveryId,
    routeId: route.id,
    vendor: route.vendor,
    object: versioned,
    fileName: file.fileName,
    contentType,
    segments: d.segments,
    sha256Base64: file.sha256Base64,
    upload: {
      kind: upload.kind,
      url: upload.url,
      // A presigned URL is a short-lived credential: kept only for a vendor whose completion call wants it.
      signedUrl: adapter.completionNeedsSignedUrl?.(ctx.options) ? upload.signedUrl : undefined,
      eTag: upload.eTag,
      parts: upload.parts ? [...upload.parts] : undefined,
    },
    refs,
    attempt: d.attempt,
    uploadedAt: new Date().toISOString(),
  });
  const body = JSON.stringify(message);
  const leftMs = invocation.deadline() - Date.now();
  const inline = (deps.completeInline ?? false) && leftMs >= (deps.completeInlineMinMs ?? 0);
  if (deps.completeInline && !inline)
    log.info('completing through the completion queue: too little of the invocation left', { leftMs });
  if (inline) {
    // One write for "uploaded" and "completing": the lease stays ours for the vendor's completion call.
    await deps.ledger.markCompleting(key, d.owner, {
      refs,
      completionMessage: body,
      leaseMs: invocation.leaseMs(),
    });
  } else {
    await deps.ledger.markUploaded(key, d.owner, { refs, completionMessage: body });
  }
  deps.metrics.count(MetricName.FilesUploaded, d.vendor);
  deps.metrics.record(MetricName.BytesUploaded, d.vendor, head.size, 'Bytes');
  deps.metrics.record(MetricName.UploadDurationMs, d.vendor, durationMs, 'Milliseconds');
  log.info('uploaded', {
    bytes: head.size,
    durationMs,
    mbPerSecond: Number((head.size / 1e6 / Math.max(durationMs / 1000, 0.001)).toFixed(2)),
    uploadKind: upload.kind,
    refs,
  });

  if (inline) {
    await completeInline(deps, {
      message,
      body,
      route,
      key,
      owner: d.owner,
      refs,
      decidedBy: d.decidedBy,
      deadline: invocation.deadline,
      log,
      prepared: { adapter, ctx },
    });
    return;
  }
  deps.failpoint('dispatch:before-enqueue', object.key);
  await enqueueCompletion(deps, d.deliveryId, body);
}

/**
 * The vendor's completion call, made by the dispatch that uploaded (no completion message, no second
 * secret read, no second lease write). A refusal (permanent) is decided here as the completion
 * function would decide it, parked in its DLQ. Any other failure goes to the completion queue, whose
 * retries, breaker waits and uncertain-outcome parking apply: an unanswered call of a vendor without
 * an idempotency key stays COMPLETING with its lease lapsed (the completion function parks it), the
 * rest return to UPLOADED. The intake message is done either way: its upload stands.
 */
async function completeInline(deps: DispatchDeps, held: HeldCompletion & { body: string }): Promise<void> {
  const { route, key, owner, log } = held;
  let accepted: AcceptedCompletion;
  try {
    accepted = await callVendorCompletion(deps, held);
  } catch (error) {
    const failure = { code: errorCodeOf(error), message: errorMessageOf(error) };
    if (!isRetryable(error)) {
      // Refused for good (a 4xx): decided here as the completion function would decide it, without
      // a second call that would be refused again; parked in the completion DLQ for the runbook.
      const failed = await deps.ledger.failCompletion(key, owner, {
        ...failure,
        final: true,
        outcome: outcomeOfCode(failure.code),
        decidedBy: held.decidedBy,
      });
      await announceDecided(deps, failed, log);
      deps.metrics.count(MetricName.FilesFailed, route.vendor, 1, failure.code);
      log.warn('completion failed', { errorCode: failure.code, error: failure.message });
      await deps.sqs.send(
        new SendMessageCommand({
          QueueUrl: deps.completionDlqUrl,
          MessageBody: held.body,
          MessageAttributes: dlqAttributes(error, deps.completionQueueUrl),
        }),
      );
      log.error('permanent failure; parked in DLQ', { errorCode: failure.code, error: failure.message });
      return;
    }
    if (error instanceof AmbiguousOutcomeError && !retriesAmbiguous(deps, route))
      await deps.ledger.handOverCompletion(key, owner, failure);
    else await deps.ledger.failCompletion(key, owner, { ...failure, final: false });
    deps.metrics.count(MetricName.Retries, route.vendor);
    log.warn('completion call failed; handed to the completion queue', {
      errorCode: failure.code,
      error: failure.message,
    });
    deps.failpoint('dispatch:before-enqueue', held.message.object.key);
    await enqueueCompletion(deps, held.message.deliveryId, held.body);
    return;
  }
  await recordCompleted(deps, held, accepted);
}

/**
 * A delivery a dispatch completed at once: COMPLETED without ever having been UPLOADED (its upload and
 * the start of its completion were one step).
 */
function completedAtOnce(record: DeliveryRecord): boolean {
  // A trimmed history (dozens of transitions) cannot tell: treated as not completed at once.
  return (
    record.state === DeliveryState.COMPLETED &&
    !record.historyDropped &&
    (record.history ?? []).some((entry) => entry.state === DeliveryState.COMPLETING) &&
    !(record.history ?? []).some((entry) => entry.state === DeliveryState.UPLOADED)
  );
}

/**
 * Sends a delivery's completion message (the one stored in the ledger at upload). The one way a
 * completion message leaves dispatch: after an upload, and when a later receive recovers a delivery
 * whose sender died before sending it. A message sent twice is harmless: the completion lease admits
 * one, and the ledger answers the other "done".
 */
async function enqueueCompletion(deps: DispatchDeps, deliveryId: string, body: string): Promise<void> {
  await deps.sqs.send(
    new SendMessageCommand({
      QueueUrl: deps.completionQueueUrl,
      MessageBody: body,
      MessageAttributes: { deliveryId: { DataType: 'String', StringValue: deliveryId.slice(0, 1024) } },
    }),
  );
}

function headerValue(headers: Readonly<Record<string, string>>, name: string): string | undefined {
  const found = Object.entries(headers).find(([k]) => k.toLowerCase() === name);
  return found?.[1];
}

/**
 * The message's first receive: no attempts carried by a re-enqueue (a waiting file's wake-up), none
 * spent on earlier receives, not a redrive from the DLQ.
 */
function isFirstReceipt(ctx: RecordContext): boolean {
  return ctx.attempt === 1 && ctx.waitingSince === undefined && !ctx.redrive;
}
