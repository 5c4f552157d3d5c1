import { describe, expect, it } from 'vitest';
import {
  ErrorCode,
  PermanentError,
  RetryableError,
  ThrottledError,
} from '../../../../functions/shared/errors';
import { badResponse, classifyHttpStatus, parseRetryAfter } from '../../../../functions/shared/http/classify';

describe('classifyHttpStatus', () => {
  it.each([
    [429, ThrottledError, ErrorCode.VENDOR_THROTTLED, true],
    [408, RetryableError, ErrorCode.VENDOR_UNAVAILABLE, true],
    [500, RetryableError, ErrorCode.VENDOR_UNAVAILABLE, true],
    [502, RetryableError, ErrorCode.VENDOR_UNAVAILABLE, true],
    [503, RetryableError, ErrorCode.VENDOR_UNAVAILABLE, true],
    [599, RetryableError, ErrorCode.VENDOR_UNAVAILABLE, true],
    [401, PermanentError, ErrorCode.AUTH_FAILED, false],
    [403, PermanentError, ErrorCode.AUTH_FAILED, false],
    [400, PermanentError, ErrorCode.VENDOR_REJECTED, false],
    [404, PermanentError, ErrorCode.VENDOR_REJECTED, false],
    [409, PermanentError, ErrorCode.VENDOR_REJECTED, false],
    [422, PermanentError, ErrorCode.VENDOR_REJECTED, false],
    [100, RetryableError, ErrorCode.VENDOR_BAD_RESPONSE, true],
    [302, RetryableError, ErrorCode.VENDOR_BAD_RESPONSE, true],
  ])('classifies HTTP %i', (status, type, code, retryable) => {
    const error = classifyHttpStatus(status, { operation: 'presign' });

    expect(error).toBeInstanceOf(type);
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
    expect(error.status).toBe(status);
  });

  it('carries the vendor code, message, Retry-After and cause', () => {
    const cause = new Error('raw answer');

    const error = classifyHttpStatus(429, {
      operation: 'complete',
      vendorCode: 'API_QUOTA_EXCEEDED',
      message: 'too many calls',
      retryAfterMs: 30_000,
      cause,
    });

    expect(error.message).toBe('complete: HTTP 429 API_QUOTA_EXCEEDED — too many calls');
    expect(error).toMatchObject({ vendorCode: 'API_QUOTA_EXCEEDED', retryAfterMs: 30_000 });
    expect(error.cause).toBe(cause);
  });
});

describe('badResponse', () => {
  it('is a retryable VENDOR_BAD_RESPONSE keeping its cause', () => {
    const cause = new SyntaxError('Unexpected end of JSON input');

    const error = badResponse('presign', 'body is not JSON', cause);

    expect(error.retryable).toBe(true);
    expect(error.code).toBe(ErrorCode.VENDOR_BAD_RESPONSE);
    expect(error.message).toBe('presign: unexpected response — body is not JSON');
    expect(error.cause).toBe(cause);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2024-03-01T10:00:00Z');

  it.each([
    ['120', 120_000],
    ['0', 0],
    ['1.5', 1500],
    ['Fri, 01 Mar 2024 10:00:30 GMT', 30_000],
    ['Fri, 01 Mar 2024 09:59:00 GMT', 0],
  ])('reads %j as %i ms', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });

  it.each([undefined, '', 'soon', 'NaN'])('gives undefined for %j', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});
