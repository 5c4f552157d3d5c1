import {
  AmbiguousOutcomeError,
  ErrorCode,
  FileRejectedError,
  PermanentError,
  type PipelineError,
  type PipelineErrorOptions,
  RetryableError,
} from '../../shared/errors';
import { badResponse, classifyHttpStatus, parseRetryAfter } from '../../shared/http/classify';
import { rowStats, valueAt } from '../../shared/json-path';
import { CLEARTAX_MINTS_PER_DAY, CLEARTAX_TOKEN_FAMILY, clearTaxAuth } from '../cleartax-common/auth';
import { isSuccess, redactDetail, vendorText } from '../kit/answers';
import { errorOfKind } from '../kit/errors';
import { type AnswerReader, callWithAuth } from '../spec/engine';
import type { ErrorKind } from '../spec/schema';
import type {
  CompletionInput,
  FileDescriptor,
  VendorAdapter,
  VendorContext,
  VendorJobPhase,
  VendorRequest,
  VendorResponse,
} from '../types';
import {
  GST_STATUS_TENANTS,
  GstErrorBodySchema,
  GstIngestResponseSchema,
  type GstOptions,
  GstOptionsSchema,
  GstPresignResponseSchema,
  type GstSecret,
  GstSecretSchema,
  GstStatusResponseSchema,
} from './schemas';

/** `fileContentType` header value per extension (presign API: enum XLSX, XLS, CSV). */
const FILE_CONTENT_TYPES: Readonly<Record<string, string>> = { csv: 'CSV', xls: 'XLS', xlsx: 'XLSX' };

/**
 * Content-Type the presigned URL is signed for. The flow's upload reference gives
 * `application/vnd.ms-excel` for XLS and for CSV alike.
 */
const UPLOAD_CONTENT_TYPES: Readonly<Record<string, string>> = {
  csv: 'application/vnd.ms-excel',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

/** The presign API's `fileName` limit. */
const MAX_FILE_NAME_LENGTH = 1500;

/** Presigned URLs are valid for 10 minutes from generation. */
const URL_LIFETIME_MS = 10 * 60_000;

const PHASES: Readonly<Record<string, VendorJobPhase>> = {
  ACTIVITY_CREATED: 'running',
  ACTIVITY_QUEUED: 'running',
  ACTIVITY_COMPLETED: 'succeeded',
  ACTIVITY_DISCARDED: 'failed',
  SYSTEM_FEEDBACK: 'failed',
  UNPLANNED_ERROR: 'failed',
};

/** The presign API's documented `errorCode`s. Quota and internal errors pass; the rest need a person. */
const ERROR_CODES: Readonly<Record<string, ErrorKind>> = {
  API_QUOTA_EXCEEDED: 'throttled',
  INTERNAL_ERROR: 'unavailable',
  AUTHORIZATION_FAILED: 'auth',
  PERMISSION_DENIED: 'auth',
  LICENSE_EXPIRED: 'rejected',
};

/** The first `{errorCode, errorMessage}` of an error body (object, or the 500's array), if any. */
function readError(body: unknown): { code: string | undefined; message: string | undefined } {
  const parsed = GstErrorBodySchema.safeParse(body);
  if (!parsed.success)
    return { code: undefined, message: typeof body === 'string' ? vendorText(body) : undefined };
  const item = Array.isArray(parsed.data) ? parsed.data[0] : parsed.data;
  return { code: item?.errorCode ?? undefined, message: vendorText(item?.errorMessage) };
}

/**
 * Classifies a ClearTax GST failure: a documented `errorCode` decides (it comes inside 200 answers
 * too), otherwise the HTTP status. A 200 `FAILED` with an unknown code is retryable, as anything
 * unknown is; the bounded retries and the DLQ catch it.
 */
function failure(operation: string, response: VendorResponse, now: number): PipelineError {
  const { code, message } = readError(response.body);
  const options: PipelineErrorOptions = {
    status: response.status,
    vendorCode: code,
    retryAfterMs: parseRetryAfter(response.headers['retry-after'], now),
  };
  // 401 and 403 are auth failures whatever the body says (a 401 carrying INTERNAL_ERROR was seen).
  const kind =
    response.status === 401 || response.status === 403 || code === undefined ? undefined : ERROR_CODES[code];
  if (kind) {
    return errorOfKind(
      kind,
      `${operation}: HTTP ${response.status} ${code}${message ? ` — ${message}` : ''}`,
      options,
    );
  }
  if (isSuccess(response.status)) {
    return new RetryableError(
      ErrorCode.VENDOR_FAILED_UNKNOWN,
      `${operation}: HTTP ${response.status} status FAILED${code ? ` ${code}` : ''}${message ? ` — ${message}` : ''}`,
      options,
    );
  }
  return classifyHttpStatus(response.status, {
    operation,
    vendorCode: code,
    message,
    retryAfterMs: options.retryAfterMs,
  });
}

/** ClearTax's shared authentication; a 401 or an `AUTHORIZATION_FAILED` in any body refuses the token. */
const AUTH = clearTaxAuth({ 'x-cleartax-auth-token': '{token}' }, ['AUTHORIZATION_FAILED']);

const READER: AnswerReader = {
  name: 'cleartax-gst',
  code: (response) => readError(response.body).code,
  message: (response) => readError(response.body).message,
};

/** One authorised call (the token header is added). */
function send(ctx: VendorContext<GstSecret, GstOptions>, request: VendorRequest): Promise<VendorResponse> {
  return callWithAuth(AUTH, READER, ctx, { options: ctx.options, secret: ctx.secret }, request);
}

/** `template` with each `{name}` replaced by its URL-encoded value. */
function fillPath(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{([A-Za-z]+)\}/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) {
      throw new PermanentError(
        ErrorCode.ROUTE_CONFIG_INVALID,
        `cleartax-gst path ${template}: unknown placeholder ${whole}`,
      );
    }
    return encodeURIComponent(value);
  });
}

/** The file name sent at presign, carried in refs so the trigger repeats it exactly. */
function userFileName(input: CompletionInput): string {
  const fromRefs = input.refs.userFileName;
  return typeof fromRefs === 'string' && fromRefs !== '' ? fromRefs : input.file.fileName;
}

function checkFile(file: FileDescriptor): void {
  if (FILE_CONTENT_TYPES[file.extension] === undefined) {
    throw new FileRejectedError(
      `cleartax-gst accepts .csv, .xls and .xlsx files (presign fileContentType CSV|XLS|XLSX); got "${file.fileName}"`,
    );
  }
  if (file.fileName.length > MAX_FILE_NAME_LENGTH) {
    throw new FileRejectedError(
      `cleartax-gst file names are at most ${MAX_FILE_NAME_LENGTH} characters; this one has ${file.fileName.length}`,
    );
  }
}

/**
 * ClearTax Clear Finance Cloud, "ingest documents via file": presign, PUT, trigger ingestion, poll
 * the activity status. The trigger has no idempotency key (each call creates an activity), so the
 * completion is not idempotent.
 */
export const cleartaxGstAdapter: VendorAdapter<GstSecret, GstOptions> = {
  name: 'cleartax-gst',
  secretSchema: GstSecretSchema,
  optionsSchema: GstOptionsSchema,
  completionIdempotent: false,
  tokenMint: { family: CLEARTAX_TOKEN_FAMILY, dailyLimit: CLEARTAX_MINTS_PER_DAY },
  completionNeedsSignedUrl: (options) => options.s3FileUrlMode === 'signed',

  checkFile,

  async requestUpload(file, ctx) {
    const { options } = ctx;
    const fileContentType = FILE_CONTENT_TYPES[file.extension] as string;
    const contentType = UPLOAD_CONTENT_TYPES[file.extension] as string;
    const requestedAt = ctx.now();
    const response = await send(ctx, {
      operation: 'presign',
      method: 'GET',
      path: fillPath(options.paths.presign, { templateType: options.templateType }),
      query: { fileName: file.fileName },
      headers: { fileContentType },
    });
    if (!isSuccess(response.status)) throw failure('presign', response, ctx.now());
    const parsed = GstPresignResponseSchema.safeParse(response.body);
    if (!parsed.success) throw badResponse('presign', 'body is not a presign answer', parsed.error);
    const answer = parsed.data;
    if (answer.status !== 'CREATED' || answer.errorCode) throw failure('presign', response, ctx.now());
    if (!answer.preSignedS3Url) throw badResponse('presign', 'status CREATED without preSignedS3Url');
    return {
      kind: 'single',
      target: {
        url: answer.preSignedS3Url,
        method: 'PUT',
        headers: { 'Content-Type': contentType },
        expiresAt: requestedAt + URL_LIFETIME_MS,
      },
      refs: { userFileName: file.fileName },
    };
  },

  async complete(input, ctx) {
    const { options } = ctx;
    let s3FileUrl = input.upload.url;
    if (options.s3FileUrlMode === 'signed') {
      if (input.upload.signedUrl) s3FileUrl = input.upload.signedUrl;
      else
        ctx.log.warn('cleartax-gst: the signed upload URL was not kept; sending it without its query string');
    }
    const body = {
      userInputArgs: {
        templateId: options.templateId,
        ...(options.gstins ? { gstins: options.gstins } : {}),
      },
      fileInfo: { s3FileUrl, userFileName: userFileName(input) },
    };
    const response = await send(ctx, {
      operation: 'complete',
      method: 'POST',
      path: fillPath(options.paths.ingest, { templateType: options.templateType }),
      json: body,
    });
    if (!isSuccess(response.status)) throw failure('complete', response, ctx.now());
    const parsed = GstIngestResponseSchema.safeParse(response.body);
    if (!parsed.success) {
      // The vendor accepted the trigger, so an activity probably exists: retrying would ingest twice.
      throw new AmbiguousOutcomeError(
        `complete: HTTP ${response.status} without an activityId — the activity may have been created`,
        { status: response.status, cause: badResponse('complete', 'no activityId', parsed.error) },
      );
    }
    return { refs: { activityId: parsed.data.activityId }, vendorState: parsed.data.status ?? undefined };
  },

  async status(input, ctx) {
    const { options } = ctx;
    const activityId = input.result.activityId ?? input.refs.activityId;
    if (typeof activityId !== 'string' || activityId === '') {
      throw new PermanentError(
        ErrorCode.STATE_INCONSISTENT,
        'status: no activityId recorded for this delivery',
      );
    }
    const response = await send(ctx, {
      operation: 'status',
      method: 'GET',
      path: fillPath(options.paths.status, { templateType: options.templateType, activityId }),
      query: { tenant: GST_STATUS_TENANTS[options.templateType] },
    });
    if (!isSuccess(response.status)) throw failure('status', response, ctx.now());
    const parsed = GstStatusResponseSchema.safeParse(response.body);
    if (!parsed.success) throw badResponse('status', 'body is not an activity status', parsed.error);
    const answer = parsed.data;
    let phase = PHASES[answer.status];
    if (phase === undefined) {
      // A state this adapter does not know is treated as still running: polling ends at its deadline.
      ctx.log.warn('cleartax-gst: unknown activity status', { vendorState: answer.status });
      phase = 'running';
    }
    // ACTIVITY_COMPLETED can still carry invalid rows or a fileError: keep them for operators.
    const detail: Record<string, unknown> = {};
    if (answer.processingStats) detail.processingStats = answer.processingStats;
    if (answer.fileError) detail.fileError = answer.fileError;
    if (answer.errors && answer.errors.length > 0) detail.errors = answer.errors;
    const errorFileUrl = valueAt(response.body, options.statusFields.errorFileUrl);
    const stats = rowStats(valueAt(response.body, options.statusFields.stats));
    return {
      phase,
      vendorState: answer.status,
      detail: Object.keys(detail).length > 0 ? (redactDetail(detail) as Record<string, unknown>) : undefined,
      ...(stats ? { stats } : {}),
      ...(typeof errorFileUrl === 'string' && errorFileUrl !== '' ? { errorFileUrl } : {}),
    };
  },
};
