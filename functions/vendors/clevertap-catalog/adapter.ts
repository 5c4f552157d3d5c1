import {
  AmbiguousOutcomeError,
  ErrorCode,
  FileRejectedError,
  PermanentError,
  type PipelineError,
} from '../../shared/errors';
import { badResponse, classifyHttpStatus, parseRetryAfter } from '../../shared/http/classify';
import { isLoopbackHost } from '../../shared/routes/load';
import { isSuccess, vendorText } from '../kit/answers';
import { errorOfKind } from '../kit/errors';
import type { ErrorKind } from '../spec/schema';
import type {
  FileDescriptor,
  UploadPart,
  UploadPlan,
  VendorAdapter,
  VendorContext,
  VendorRequest,
  VendorResponse,
} from '../types';
import {
  CLEVERTAP_REGION_HOSTS,
  ClevertapErrorSchema,
  type ClevertapFields,
  type ClevertapOptions,
  ClevertapOptionsSchema,
  type ClevertapSecret,
  ClevertapSecretSchema,
  CompleteResponseSchema,
  MAX_PARTS,
  MultipartSignedUrlResponseSchema,
  SingleSignedUrlResponseSchema,
} from './schemas';

type ClevertapContext = VendorContext<ClevertapSecret, ClevertapOptions>;

/** `fileName` limit of the signed-URL API. */
const MAX_FILE_NAME_LENGTH = 500;

/** Catalog calls allow about 3 concurrent requests per account; more get 429. */
const MAX_CONCURRENT_CALLS = 3;

/** Mark-complete's documented error codes (their HTTP statuses are not published). */
const ERROR_CODES: Readonly<Record<string, ErrorKind>> = {
  UPLOAD_NOT_FOUND: 'rejected',
  CATALOG_NOT_FOUND: 'rejected',
  CATALOG_INVALID_REQUEST: 'rejected',
  AUTHENTICATION_FAILED: 'auth',
  AUTHORIZATION_FAILED: 'auth',
  INTERNAL_ERROR: 'unavailable',
};

const CODE_LIKE = /^[A-Z][A-Z0-9_]{2,63}$/;

function readError(body: unknown): { code: string | undefined; message: string | undefined } {
  if (typeof body === 'string')
    return { code: undefined, message: body.trim() === '' ? undefined : body.trim() };
  const parsed = ClevertapErrorSchema.safeParse(body);
  if (!parsed.success) return { code: undefined, message: undefined };
  const { code, errorCode, error, message } = parsed.data;
  const nested = typeof error === 'object' && error !== null ? error : undefined;
  const candidates = [
    errorCode,
    typeof code === 'string' ? code : undefined,
    nested?.code,
    typeof error === 'string' ? error : undefined,
  ];
  const found = candidates.find((c): c is string => typeof c === 'string' && CODE_LIKE.test(c));
  const text =
    message ?? nested?.message ?? (typeof error === 'string' && error !== found ? error : undefined);
  return { code: found, message: text ?? undefined };
}

/**
 * Classifies a CleverTap failure. A 429 ("Too many concurrent requests", no Retry-After) is throttling
 * whatever its body; then a documented error code decides; then the HTTP status.
 */
function failure(operation: string, response: VendorResponse, now: number): PipelineError {
  const { code, message: raw } = readError(response.body);
  const message = vendorText(raw);
  const retryAfterMs = parseRetryAfter(response.headers['retry-after'], now);
  const kind = code === undefined ? undefined : ERROR_CODES[code];
  // 429 is throttling and 401/403 an auth failure whatever the body says.
  if (![401, 403, 429].includes(response.status) && kind) {
    return errorOfKind(
      kind,
      `${operation}: HTTP ${response.status} ${code}${message ? ` — ${message}` : ''}`,
      {
        status: response.status,
        vendorCode: code,
        retryAfterMs,
      },
    );
  }
  return classifyHttpStatus(response.status, { operation, vendorCode: code, message, retryAfterMs });
}

/** One API call with the documented headers (on every call, GETs included). */
function call(ctx: ClevertapContext, request: Omit<VendorRequest, 'headers'>): Promise<VendorResponse> {
  return ctx.http.request({
    ...request,
    headers: {
      'X-Account-Id': ctx.secret.accountId,
      'X-CleverTap-Token': ctx.secret.token,
      // Lower case on purpose: the HTTP client sets `content-type` for JSON bodies, and two spellings
      // of one header would be sent as a combined value.
      'content-type': 'application/json',
    },
  });
}

/**
 * Byte ranges (inclusive) of `size` bytes cut into `partSizeBytes` parts: `ceil(size / partSizeBytes)`
 * parts, numbered from 1, all full but the last.
 */
export function partRanges(
  size: number,
  partSizeBytes: number,
): Array<{ partNumber: number; start: number; end: number }> {
  const count = Math.ceil(size / partSizeBytes);
  return Array.from({ length: count }, (_, i) => {
    const start = i * partSizeBytes;
    return { partNumber: i + 1, start, end: Math.min(size, start + partSizeBytes) - 1 };
  });
}

function isMultipart(file: FileDescriptor, options: ClevertapOptions): boolean {
  return file.size >= options.singleUploadLimitBytes;
}

/** Renames the vendor's fields to the ones the response schemas read. */
function renameSignedUrlAnswer(body: unknown, fields: ClevertapFields): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const record = body as Record<string, unknown>;
  const parts = record[fields.parts];
  return {
    uploadId: record[fields.uploadId],
    signedUrl: record[fields.signedUrl],
    parts: Array.isArray(parts)
      ? parts.map((part: unknown) => {
          if (part === null || typeof part !== 'object') return part;
          const item = part as Record<string, unknown>;
          return { partNumber: item[fields.partNumber], signedUrl: item[fields.partSignedUrl] };
        })
      : parts,
  };
}

/** The problem with a `region` option that disagrees with the base URL (the loopback sandbox excepted). */
function regionProblem(region: unknown, baseUrl: string, allowLoopbackHttp: boolean): string | undefined {
  if (typeof region !== 'string') return undefined;
  const host = new URL(baseUrl).hostname;
  if (allowLoopbackHttp && isLoopbackHost(host)) return undefined;
  const expected = CLEVERTAP_REGION_HOSTS[region as keyof typeof CLEVERTAP_REGION_HOSTS];
  if (expected === undefined || host === expected) return undefined;
  return `clevertap-catalog: region ${region} needs base URL https://${expected}, the route has ${host}`;
}

/** Refuses a `region` option that disagrees with the route's base URL (also checked when routes load). */
function checkRegion(ctx: ClevertapContext): void {
  const problem = regionProblem(ctx.options.region, ctx.route.baseUrl, ctx.route.allowLoopbackHttp);
  if (problem) throw new PermanentError(ErrorCode.ROUTE_CONFIG_INVALID, problem);
}

function checkFile(file: FileDescriptor, options: ClevertapOptions): void {
  if (file.fileName.length > MAX_FILE_NAME_LENGTH) {
    throw new FileRejectedError(
      `clevertap-catalog file names are at most ${MAX_FILE_NAME_LENGTH} characters; this one has ${file.fileName.length}`,
    );
  }
  const extension = options.contentType === 'text/csv' ? 'csv' : 'xml';
  if (file.extension !== extension) {
    throw new FileRejectedError(
      `clevertap-catalog route uploads ${options.contentType}: only .${extension} files; got "${file.fileName}"`,
    );
  }
  if (isMultipart(file, options)) {
    const parts = Math.ceil(file.size / options.partSizeBytes);
    if (parts > MAX_PARTS) {
      throw new FileRejectedError(
        `clevertap-catalog multipart uploads have at most ${MAX_PARTS} parts; ${file.size} bytes in ${options.partSizeBytes}-byte parts need ${parts}`,
      );
    }
  }
}

async function requestSingle(file: FileDescriptor, ctx: ClevertapContext): Promise<UploadPlan> {
  const { options } = ctx;
  const response = await call(ctx, {
    operation: 'presign',
    method: 'GET',
    path: options.paths.signedUrl,
    query: {
      catalogId: options.catalogId,
      fileName: file.fileName,
      contentType: options.contentType,
      multiPart: false,
    },
  });
  if (!isSuccess(response.status)) throw failure('presign', response, ctx.now());
  const parsed = SingleSignedUrlResponseSchema.safeParse(
    renameSignedUrlAnswer(response.body, options.fields),
  );
  if (!parsed.success) {
    throw badResponse(
      'presign',
      `no ${options.fields.uploadId} / ${options.fields.signedUrl} in the answer`,
      parsed.error,
    );
  }
  return {
    kind: 'single',
    target: { url: parsed.data.signedUrl, method: 'PUT', headers: { 'Content-Type': options.contentType } },
    refs: { uploadId: parsed.data.uploadId, fileName: file.fileName },
  };
}

async function requestMultipart(file: FileDescriptor, ctx: ClevertapContext): Promise<UploadPlan> {
  const { options } = ctx;
  const ranges = partRanges(file.size, options.partSizeBytes);
  const response = await call(ctx, {
    operation: 'presign',
    method: 'GET',
    path: options.paths.signedUrl,
    query: {
      catalogId: options.catalogId,
      fileName: file.fileName,
      contentType: options.contentType,
      multiPart: true,
      totalParts: ranges.length,
    },
  });
  if (!isSuccess(response.status)) throw failure('presign', response, ctx.now());
  const parsed = MultipartSignedUrlResponseSchema.safeParse(
    renameSignedUrlAnswer(response.body, options.fields),
  );
  if (!parsed.success) {
    throw badResponse(
      'presign',
      `no ${options.fields.uploadId} / ${options.fields.parts} in the answer`,
      parsed.error,
    );
  }
  const urls = new Map(parsed.data.parts.map((part) => [part.partNumber, part.signedUrl]));
  const parts: UploadPart[] = ranges.map((range) => {
    const url = urls.get(range.partNumber);
    if (url === undefined) {
      throw badResponse(
        'presign',
        `asked for ${ranges.length} part URLs, part ${range.partNumber} is missing`,
      );
    }
    return { ...range, target: { url, method: 'PUT', headers: { 'Content-Type': options.contentType } } };
  });
  if (urls.size !== ranges.length) {
    throw badResponse('presign', `asked for ${ranges.length} part URLs, got ${parsed.data.parts.length}`);
  }
  return {
    kind: 'multipart',
    parts,
    refs: {
      uploadId: parsed.data.uploadId,
      fileName: file.fileName,
      multipart: true,
      totalParts: ranges.length,
    },
  };
}

/**
 * CleverTap Catalog API v2: signed URL (single, or one per part), PUT, complete-multipart when needed,
 * then mark the upload complete. CleverTap publishes no job-status endpoint, so there is no `status`.
 * Marking complete twice would start a second processing job, so the completion is not idempotent.
 */
export const clevertapCatalogAdapter: VendorAdapter<ClevertapSecret, ClevertapOptions> = {
  name: 'clevertap-catalog',
  secretSchema: ClevertapSecretSchema,
  optionsSchema: ClevertapOptionsSchema,
  completionIdempotent: false,
  defaultMaxConcurrentCalls: MAX_CONCURRENT_CALLS,

  accountKey(secret) {
    return `clevertap:${secret.accountId}`;
  },

  checkRoute: (route, allowLoopbackHttp) => {
    const problem = regionProblem(route.options.region, route.baseUrl, allowLoopbackHttp);
    return problem ? [problem] : [];
  },
  checkFile,

  async requestUpload(file, ctx) {
    checkRegion(ctx);
    return isMultipart(file, ctx.options) ? requestMultipart(file, ctx) : requestSingle(file, ctx);
  },

  async complete(input, ctx) {
    const { options } = ctx;
    const { uploadId } = input.refs;
    if (typeof uploadId !== 'string' || uploadId === '') {
      throw new PermanentError(
        ErrorCode.STATE_INCONSISTENT,
        'complete: no uploadId recorded for this delivery',
      );
    }
    const fileName = typeof input.refs.fileName === 'string' ? input.refs.fileName : input.file.fileName;

    if (input.upload.kind === 'multipart' && input.refs.multipartCompleted !== true) {
      const parts = [...(input.upload.parts ?? [])].sort((a, b) => a.partNumber - b.partNumber);
      const expected = input.refs.totalParts;
      if (parts.length === 0 || (typeof expected === 'number' && parts.length !== expected)) {
        throw new PermanentError(
          ErrorCode.STATE_INCONSISTENT,
          `complete: ${parts.length} uploaded parts recorded, ${String(expected)} expected`,
        );
      }
      const { fields } = options;
      const response = await call(ctx, {
        operation: 'complete-multipart',
        method: 'POST',
        path: options.paths.completeMultipart,
        json: {
          [fields.uploadId]: uploadId,
          [fields.catalogId]: options.catalogId,
          [fields.parts]: parts.map((part) => ({
            [fields.partNumber]: part.partNumber,
            [fields.eTag]: part.eTag,
          })),
        },
      });
      if (!isSuccess(response.status)) throw failure('complete-multipart', response, ctx.now());
      // Saved before mark-complete so a retry does not assemble the parts again (the upload id is spent).
      await ctx.checkpoint({ multipartCompleted: true });
    }

    const response = await call(ctx, {
      operation: 'complete',
      method: 'POST',
      path: options.paths.complete,
      json: {
        uploadId,
        catalogId: options.catalogId,
        fileName,
        fileSize: input.file.size,
        completedBy: options.completedBy,
      },
    });
    if (!isSuccess(response.status)) throw failure('complete', response, ctx.now());
    const parsed = CompleteResponseSchema.safeParse(response.body);
    if (!parsed.success) {
      // Accepted, so a processing job probably started: marking complete again could start another.
      throw new AmbiguousOutcomeError(
        `complete: HTTP ${response.status} without a jobId — processing may have started`,
        {
          status: response.status,
          cause: badResponse('complete', 'no jobId', parsed.error),
        },
      );
    }
    const { jobId, estimatedCompletionTime, status } = parsed.data;
    return {
      refs: { jobId, estimatedCompletionTime: estimatedCompletionTime ?? null },
      vendorState: status ?? undefined,
    };
  },
};
