import {
  AmbiguousOutcomeError,
  ErrorCode,
  FileRejectedError,
  PermanentError,
  type PipelineError,
  RetryableError,
} from '../../shared/errors';
import { badResponse, classifyHttpStatus, parseRetryAfter } from '../../shared/http/classify';
import { rowStats, valueAt } from '../../shared/json-path';
import { isSuccess, redactDetail, vendorText } from '../cleartax-common/answers';
import {
  CLEARTAX_MINTS_PER_DAY,
  CLEARTAX_TOKEN_FAMILY,
  callWithClearTaxToken,
} from '../cleartax-common/auth';
import type {
  FileDescriptor,
  VendorAdapter,
  VendorContext,
  VendorJobPhase,
  VendorRequest,
  VendorResponse,
} from '../types';
import {
  type OneEnvelope,
  OneEnvelopeSchema,
  type OneOptions,
  OneOptionsSchema,
  OnePresignResultSchema,
  type OneSecret,
  OneSecretSchema,
  OneStatusResultSchema,
} from './schemas';

type OneContext = VendorContext<OneSecret, OneOptions>;

/** Content-Type per allowed extension (pre-sign: csv, xlsx, xls, zip; the PUT must send the matching type). */
const UPLOAD_CONTENT_TYPES: Readonly<Record<string, string>> = {
  csv: 'text/csv',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  zip: 'application/zip',
};

/** Pre-signed URLs are valid for one hour. */
const URL_LIFETIME_MS = 60 * 60_000;

const PHASES: Readonly<Record<string, VendorJobPhase>> = {
  CREATED: 'running',
  PROCESSING: 'running',
  SUCCESS: 'succeeded',
  FAILED: 'failed',
};

function parseEnvelope(body: unknown): OneEnvelope | undefined {
  const parsed = OneEnvelopeSchema.safeParse(body);
  return parsed.success ? parsed.data : undefined;
}

/** The envelope's `error.code`, or a bare code sent as plain text (the 401's `UNAUTHORIZED`). */
function errorCode(envelope: OneEnvelope | undefined, body: unknown): string | undefined {
  const code = envelope?.error?.code;
  if (code !== undefined && code !== null) return String(code);
  if (typeof body === 'string' && /^[A-Z_]{3,40}$/.test(body.trim())) return body.trim();
  return undefined;
}

/**
 * Classifies a one-integration failure. The 401 body is the plain text `UNAUTHORIZED`; a 406 means
 * the file extension was refused (a file rule); other answers carry `error.{code, message}`.
 */
function failure(operation: string, response: VendorResponse, now: number): PipelineError {
  const envelope = parseEnvelope(response.body);
  const code = errorCode(envelope, response.body);
  const message = vendorText(envelope?.error?.message ?? envelope?.message);
  const retryAfterMs = parseRetryAfter(response.headers['retry-after'], now);
  // A 2xx envelope with `success: false` carries the real status inside.
  const status = isSuccess(response.status) && envelope?.status ? envelope.status : response.status;
  const text = `${operation}: HTTP ${status}${code ? ` ${code}` : ''}${message ? ` — ${message}` : ''}`;
  if (status === 406) return new FileRejectedError(text, { status, vendorCode: code });
  if (isSuccess(status)) {
    return new RetryableError(ErrorCode.VENDOR_BAD_RESPONSE, `${text} (success: false)`, {
      status,
      vendorCode: code,
    });
  }
  return classifyHttpStatus(status, { operation, vendorCode: code, message, retryAfterMs });
}

/** A successful envelope, or the classified failure. */
function successEnvelope(operation: string, response: VendorResponse, now: number): OneEnvelope {
  if (!isSuccess(response.status)) throw failure(operation, response, now);
  const envelope = parseEnvelope(response.body);
  if (!envelope) throw badResponse(operation, 'body is not a one-integration envelope');
  if (!envelope.success || (envelope.status && !isSuccess(envelope.status)))
    throw failure(operation, response, now);
  return envelope;
}

/** One authorised call: both headers on every request, one retry with a fresh token after a 401. */
function send(ctx: OneContext, request: Omit<VendorRequest, 'headers'>): Promise<VendorResponse> {
  return callWithClearTaxToken(ctx, {
    tokenPath: ctx.options.paths.token,
    refused: (response) => response.status === 401,
    send: (token) =>
      ctx.http.request({
        ...request,
        headers: { 'x-clear-auth-token': token, 'x-integration-id': ctx.secret.integrationId },
      }),
  });
}

function checkFile(file: FileDescriptor): void {
  if (UPLOAD_CONTENT_TYPES[file.extension] === undefined) {
    throw new FileRejectedError(
      `cleartax-one accepts .csv, .xlsx, .xls and .zip files; got "${file.fileName}"`,
    );
  }
}

/**
 * ClearTax "one-integration" advanced ingestion: pre-sign, PUT, create the ingestion activity, poll the
 * workflow. Creating an activity twice ingests twice, so the completion is not idempotent.
 */
export const cleartaxOneAdapter: VendorAdapter<OneSecret, OneOptions> = {
  name: 'cleartax-one',
  secretSchema: OneSecretSchema,
  optionsSchema: OneOptionsSchema,
  completionIdempotent: false,
  tokenMint: { family: CLEARTAX_TOKEN_FAMILY, dailyLimit: CLEARTAX_MINTS_PER_DAY },

  checkFile,

  async requestUpload(file, ctx) {
    const requestedAt = ctx.now();
    const response = await send(ctx, {
      operation: 'presign',
      method: 'GET',
      path: ctx.options.paths.presign,
      query: { filename: file.fileName },
    });
    const envelope = successEnvelope('presign', response, ctx.now());
    const result = OnePresignResultSchema.safeParse(envelope.result);
    if (!result.success) throw badResponse('presign', 'result has no uploadUrl', result.error);
    return {
      kind: 'single',
      target: {
        url: result.data.uploadUrl,
        method: 'PUT',
        headers: { 'Content-Type': UPLOAD_CONTENT_TYPES[file.extension] as string },
        expiresAt: requestedAt + URL_LIFETIME_MS,
      },
      refs: { filename: file.fileName },
    };
  },

  async complete(input, ctx) {
    const { options } = ctx;
    const filename = typeof input.refs.filename === 'string' ? input.refs.filename : input.file.fileName;
    const response = await send(ctx, {
      operation: 'complete',
      method: 'POST',
      path: options.paths.ingest,
      json: {
        // The reference accepts the URL with or without its signature; without keeps credentials out of the vendor's records.
        fileInfo: [{ uploadUrl: input.upload.url, filename, fileType: options.fileType }],
        templateType: options.templateType,
        ...(options.metadata ? { metadata: options.metadata } : {}),
      },
    });
    successEnvelope('complete', response, ctx.now());
    const taskId = valueAt(response.body, options.taskIdField);
    if ((typeof taskId !== 'string' || taskId === '') && typeof taskId !== 'number') {
      // The activity was accepted; retrying would create a second one.
      throw new AmbiguousOutcomeError(
        `complete: HTTP ${response.status} without a task id at ${options.taskIdField} — the activity may have been created`,
        { status: response.status, cause: badResponse('complete', `no task id at ${options.taskIdField}`) },
      );
    }
    return { refs: { taskId: String(taskId) } };
  },

  async status(input, ctx) {
    const taskId = input.result.taskId ?? input.refs.taskId;
    if (typeof taskId !== 'string' || taskId === '') {
      throw new PermanentError(ErrorCode.STATE_INCONSISTENT, 'status: no taskId recorded for this delivery');
    }
    const response = await send(ctx, {
      operation: 'status',
      method: 'GET',
      path: ctx.options.paths.status,
      query: { taskId },
    });
    const envelope = successEnvelope('status', response, ctx.now());
    if (envelope.result === null || envelope.result === undefined) {
      throw badResponse('status', `the vendor does not know task ${taskId}`);
    }
    const result = OneStatusResultSchema.safeParse(envelope.result);
    if (!result.success) throw badResponse('status', 'result has no workflowStatus', result.error);
    // `error` stays null on 200 even when the workflow failed: workflowStatus alone decides.
    const { workflowStatus, ...rest } = result.data;
    let phase = PHASES[workflowStatus];
    if (phase === undefined) {
      ctx.log.warn('cleartax-one: unknown workflow status', { vendorState: workflowStatus });
      phase = 'running';
    }
    const errorFileUrl = valueAt(response.body, ctx.options.statusFields.errorFileUrl);
    const stats = rowStats(valueAt(response.body, ctx.options.statusFields.stats));
    return {
      phase,
      vendorState: workflowStatus,
      detail: Object.keys(rest).length > 0 ? (redactDetail(rest) as Record<string, unknown>) : undefined,
      ...(stats ? { stats } : {}),
      ...(typeof errorFileUrl === 'string' && errorFileUrl !== '' ? { errorFileUrl } : {}),
    };
  },
};
