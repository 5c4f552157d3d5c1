import {
  ErrorCode,
  PermanentError,
  type PipelineError,
  type PipelineErrorOptions,
  RetryableError,
  ThrottledError,
} from '../errors';

export interface HttpFailureDetail {
  /** Operation name for the message (`presign`, `complete` …). */
  readonly operation: string;
  /** The vendor's own error code, if its body carries one. */
  readonly vendorCode?: string | undefined;
  /** The vendor's message, already free of secrets. */
  readonly message?: string | undefined;
  readonly retryAfterMs?: number | undefined;
  readonly cause?: unknown;
}

/**
 * Classifies a non-success HTTP status the way every vendor flow needs it: 429 throttled, 408 and
 * 5xx retryable, 401/403 authentication/authorisation (permanent), other 4xx a permanent rejection.
 * Anything else unexpected (1xx/3xx) is a bad response, retryable.
 */
export function classifyHttpStatus(status: number, detail: HttpFailureDetail): PipelineError {
  const text = `${detail.operation}: HTTP ${status}${detail.vendorCode ? ` ${detail.vendorCode}` : ''}${
    detail.message ? ` — ${detail.message}` : ''
  }`;
  const options: PipelineErrorOptions = {
    status,
    vendorCode: detail.vendorCode,
    retryAfterMs: detail.retryAfterMs,
    cause: detail.cause,
  };
  if (status === 429) return new ThrottledError(text, options);
  if (status === 408 || (status >= 500 && status <= 599)) {
    return new RetryableError(ErrorCode.VENDOR_UNAVAILABLE, text, options);
  }
  if (status === 401 || status === 403) return new PermanentError(ErrorCode.AUTH_FAILED, text, options);
  if (status >= 400 && status <= 499) return new PermanentError(ErrorCode.VENDOR_REJECTED, text, options);
  return new RetryableError(ErrorCode.VENDOR_BAD_RESPONSE, text, options);
}

/** A 2xx answer whose body is not what the vendor documents (malformed JSON, missing field). Retryable. */
export function badResponse(operation: string, problem: string, cause?: unknown): RetryableError {
  return new RetryableError(ErrorCode.VENDOR_BAD_RESPONSE, `${operation}: unexpected response — ${problem}`, {
    cause,
  });
}

/** `Retry-After` as milliseconds (seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
