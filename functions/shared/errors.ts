/**
 * The error taxonomy. Every failure the pipeline meets is either retryable (the message comes back
 * later with backoff) or permanent (straight to the dead-letter queue with its reason). Anything
 * unknown is treated as retryable: the bounded retries and the DLQ catch it.
 */

/** Machine-readable reasons. They appear in DLQ message attributes, the ledger and metrics. */
export const ErrorCode = {
  // input and routing
  MALFORMED_MESSAGE: 'MALFORMED_MESSAGE',
  NO_ROUTE: 'NO_ROUTE',
  ROUTE_CONFIG_INVALID: 'ROUTE_CONFIG_INVALID',
  OBJECT_NOT_FOUND: 'OBJECT_NOT_FOUND',
  OBJECT_CHANGED: 'OBJECT_CHANGED',
  EMPTY_FILE: 'EMPTY_FILE',
  FILE_REJECTED: 'FILE_REJECTED',
  // secrets and auth
  SECRET_NOT_FOUND: 'SECRET_NOT_FOUND',
  SECRET_INVALID: 'SECRET_INVALID',
  AUTH_FAILED: 'AUTH_FAILED',
  // vendor answers
  VENDOR_REJECTED: 'VENDOR_REJECTED',
  VENDOR_UNAVAILABLE: 'VENDOR_UNAVAILABLE',
  VENDOR_THROTTLED: 'VENDOR_THROTTLED',
  VENDOR_BAD_RESPONSE: 'VENDOR_BAD_RESPONSE',
  UNSAFE_UPLOAD_TARGET: 'UNSAFE_UPLOAD_TARGET',
  UPLOAD_REJECTED: 'UPLOAD_REJECTED',
  UPLOAD_URL_EXPIRED: 'UPLOAD_URL_EXPIRED',
  // transport and time
  NETWORK: 'NETWORK',
  TIMEOUT: 'TIMEOUT',
  // exactly-once machinery
  LEASE_HELD: 'LEASE_HELD',
  CONCURRENCY_LIMIT: 'CONCURRENCY_LIMIT',
  COMPLETION_UNCERTAIN: 'COMPLETION_UNCERTAIN',
  RETRIES_EXHAUSTED: 'RETRIES_EXHAUSTED',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface PipelineErrorOptions {
  readonly cause?: unknown;
  /** Vendor's own error code (e.g. `API_QUOTA_EXCEEDED`), kept for operators. */
  readonly vendorCode?: string | undefined;
  /** HTTP status of the answer that caused this, if any. */
  readonly status?: number | undefined;
  /** Server-suggested wait before retrying, in milliseconds. */
  readonly retryAfterMs?: number | undefined;
}

/** Base class: `retryable` is the only thing the queue boundary needs to decide. */
export abstract class PipelineError extends Error {
  abstract readonly retryable: boolean;
  readonly code: ErrorCode;
  readonly vendorCode: string | undefined;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options: PipelineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.vendorCode = options.vendorCode;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Worth trying again later: network, 5xx, 429, timeouts, expired URLs, a lease held by another worker. */
export class RetryableError extends PipelineError {
  readonly retryable = true;
}

/** Trying again cannot help: bad input, unknown route, a vendor's 4xx rejection, a missing object. */
export class PermanentError extends PipelineError {
  readonly retryable = false;
}

/** The vendor answered 429 or an equivalent quota error. */
export class ThrottledError extends RetryableError {
  constructor(message: string, options: PipelineErrorOptions = {}) {
    super(ErrorCode.VENDOR_THROTTLED, message, options);
  }
}

/** A presigned URL the vendor handed out has expired (S3 403 `AccessDenied` "Request has expired"). */
export class UploadUrlExpiredError extends RetryableError {
  constructor(message: string, options: PipelineErrorOptions = {}) {
    super(ErrorCode.UPLOAD_URL_EXPIRED, message, options);
  }
}

/** The work would not finish before the Lambda's remaining time runs out, or a call timed out. */
export class TimeoutError extends RetryableError {
  constructor(message: string, options: PipelineErrorOptions = {}) {
    super(ErrorCode.TIMEOUT, message, options);
  }
}

/** The route matched no key prefix. */
export class NoRouteError extends PermanentError {
  constructor(message: string) {
    super(ErrorCode.NO_ROUTE, message);
  }
}

/** A file breaks a vendor's file-type rule (extension, MIME type, size). The message names the rule. */
export class FileRejectedError extends PermanentError {
  constructor(message: string, options: PipelineErrorOptions = {}) {
    super(ErrorCode.FILE_REJECTED, message, options);
  }
}

/** An upload URL failed the safety check (scheme, host allow-list) before any byte was sent. */
export class UnsafeUploadTargetError extends PermanentError {
  constructor(message: string) {
    super(ErrorCode.UNSAFE_UPLOAD_TARGET, message);
  }
}

/**
 * A request was sent and no answer came back (timeout or reset after sending). For a vendor call
 * without an idempotency key it is unknown whether the vendor acted on it.
 */
export class AmbiguousOutcomeError extends RetryableError {
  constructor(message: string, options: PipelineErrorOptions = {}) {
    super(ErrorCode.NETWORK, message, options);
  }
}

/** True for errors the queue boundary should retry. Unknown errors are retryable. */
export function isRetryable(error: unknown): boolean {
  return error instanceof PipelineError ? error.retryable : true;
}

/** The reason code for any error; unknown errors are `INTERNAL`. */
export function errorCodeOf(error: unknown): ErrorCode {
  return error instanceof PipelineError ? error.code : ErrorCode.INTERNAL;
}

/** A short, already-redacted message for any thrown value. */
export function errorMessageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
