import { ErrorCode, FileRejectedError, PermanentError, type PipelineError } from '../../shared/errors';
import { badResponse, classifyHttpStatus, parseRetryAfter } from '../../shared/http/classify';
import { redactor } from '../../shared/redact';
import type { FileDescriptor, VendorAdapter, VendorContext, VendorRequest, VendorResponse } from '../types';
import {
  InspectErrorSchema,
  type InspectOptions,
  InspectOptionsSchema,
  type InspectSecret,
  InspectSecretSchema,
  MimeTypeSchema,
  PresignCreatedResponseSchema,
  PresignExistingResponseSchema,
} from './schemas';

type InspectContext = VendorContext<InspectSecret, InspectOptions>;

/** Presigned URLs are valid for 15 minutes. */
const URL_LIFETIME_MS = 15 * 60_000;

/** Base64 of a raw 32-byte SHA-256 digest: 43 characters and one `=`. */
const SHA256_BASE64 = /^[A-Za-z0-9+/]{43}=$/;

const OCTET_STREAM = 'application/octet-stream';

/** Stored Content-Types that say nothing about the file (S3 and SDK defaults). */
const UNSPECIFIC_TYPES = new Set([OCTET_STREAM, 'binary/octet-stream', 'application/x-www-form-urlencoded']);

/** MIME type by extension, for the attachment kinds Inspect knows (document, photo, audio, video). */
const TYPES_BY_EXTENSION: Readonly<Record<string, string>> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  heic: 'image/heic',
  heif: 'image/heif',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  bmp: 'image/bmp',
  svg: 'image/svg+xml',
  pdf: 'application/pdf',
  txt: 'text/plain',
  csv: 'text/csv',
  json: 'application/json',
  xml: 'application/xml',
  zip: 'application/zip',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  ppt: 'application/vnd.ms-powerpoint',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  avi: 'video/x-msvideo',
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
  aac: 'audio/aac',
  wav: 'audio/wav',
  ogg: 'audio/ogg',
};

/**
 * The MIME type announced at presign and sent on the PUT (they must match exactly): the route's
 * `contentType`, else the object's stored type when it is specific, else by extension.
 */
export function inspectContentType(file: FileDescriptor, options: InspectOptions): string {
  if (options.contentType) return options.contentType;
  const stored = file.contentType?.trim();
  if (stored && !UNSPECIFIC_TYPES.has(stored.toLowerCase()) && MimeTypeSchema.safeParse(stored).success)
    return stored;
  return TYPES_BY_EXTENSION[file.extension] ?? OCTET_STREAM;
}

function failure(operation: string, response: VendorResponse, now: number): PipelineError {
  const parsed = InspectErrorSchema.safeParse(response.body);
  const code = parsed.success ? (parsed.data.error ?? undefined) : undefined;
  const description = parsed.success ? parsed.data.errorDescription : undefined;
  return classifyHttpStatus(response.status, {
    operation,
    vendorCode: code,
    message: description ? redactor.text(description.slice(0, 300)) : undefined,
    retryAfterMs: parseRetryAfter(response.headers['retry-after'], now),
  });
}

function call(ctx: InspectContext, request: Omit<VendorRequest, 'headers'>): Promise<VendorResponse> {
  const { authHeader, authScheme } = ctx.options;
  return ctx.http.request({
    ...request,
    headers: { [authHeader]: authScheme === '' ? ctx.secret.token : `${authScheme} ${ctx.secret.token}` },
  });
}

/** Marks `fileId` uploaded. Any 2xx is success: the answer's body is not published. */
async function markUploaded(ctx: InspectContext, fileId: string): Promise<void> {
  const response = await call(ctx, {
    operation: 'complete',
    method: 'POST',
    path: ctx.options.paths.complete,
    json: { [ctx.options.completeIdField]: fileId },
  });
  if (response.status < 200 || response.status > 299) throw failure('complete', response, ctx.now());
}

function checkFile(file: FileDescriptor, options: InspectOptions): void {
  if (options.maxSizeBytes !== undefined && file.size > options.maxSizeBytes) {
    throw new FileRejectedError(
      `inspect route accepts files up to ${options.maxSizeBytes} bytes; this one has ${file.size}`,
    );
  }
}

/**
 * Screening Eagle Inspect file upload: presign with the file's SHA-256 (the vendor deduplicates by
 * hash: a 200 means it already holds the bytes), PUT, then mark the file uploaded. Marking a file id
 * uploaded twice is assumed harmless (it names a state, it creates nothing), so the completion is
 * declared idempotent. Inspect publishes no upload-status endpoint.
 */
export const inspectAdapter: VendorAdapter<InspectSecret, InspectOptions> = {
  name: 'inspect',
  secretSchema: InspectSecretSchema,
  optionsSchema: InspectOptionsSchema,
  needsSha256: true,
  completionIdempotent: true,

  checkFile,

  async requestUpload(file, ctx) {
    const hash = file.sha256Base64;
    if (hash === undefined || !SHA256_BASE64.test(hash)) {
      // The dispatch core computes it for every Inspect file: its absence is a defect, not bad input.
      throw new PermanentError(
        ErrorCode.PIPELINE_DEFECT,
        'presign: the SHA-256 (base64 of the raw digest) was not computed',
      );
    }
    const contentType = inspectContentType(file, ctx.options);
    const requestedAt = ctx.now();
    const response = await call(ctx, {
      operation: 'presign',
      method: 'POST',
      path: ctx.options.paths.presign,
      json: { assetID: ctx.options.assetId, contentType, hash, name: file.fileName, size: file.size },
    });
    if (response.status === 201) {
      const parsed = PresignCreatedResponseSchema.safeParse(response.body);
      if (!parsed.success)
        throw badResponse('presign', 'no data.presignedURL / data.id in the 201 answer', parsed.error);
      return {
        kind: 'single',
        target: {
          url: parsed.data.data.presignedURL,
          method: 'PUT',
          headers: { 'Content-Type': contentType },
          expiresAt: requestedAt + URL_LIFETIME_MS,
        },
        refs: { fileId: parsed.data.data.id },
      };
    }
    if (response.status === 200) {
      const parsed = PresignExistingResponseSchema.safeParse(response.body);
      if (!parsed.success) throw badResponse('presign', 'no data.id in the 200 answer', parsed.error);
      const fileId = parsed.data.data.id;
      if (ctx.options.completeOnDuplicate) await markUploaded(ctx, fileId);
      return { kind: 'already-present', refs: { fileId } };
    }
    if (response.status >= 200 && response.status <= 299) {
      throw badResponse('presign', `HTTP ${response.status}; the API answers 200 or 201`);
    }
    throw failure('presign', response, ctx.now());
  },

  async complete(input, ctx) {
    const { fileId } = input.refs;
    if (typeof fileId !== 'string' || fileId === '') {
      throw new PermanentError(
        ErrorCode.STATE_INCONSISTENT,
        'complete: no fileId recorded for this delivery',
      );
    }
    await markUploaded(ctx, fileId);
    return { refs: { fileId } };
  },
};
