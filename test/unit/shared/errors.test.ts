import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  AmbiguousOutcomeError,
  ERROR_TABLE,
  ErrorCode,
  errorCodeOf,
  errorMessageOf,
  FileRejectedError,
  isRetryable,
  LeaseLostError,
  NoRouteError,
  PermanentError,
  pipelineError,
  RetryableError,
  RouteConfigError,
  SecretNotFoundError,
  ThrottledError,
  TimeoutError,
  UnsafeUploadTargetError,
  UploadUrlExpiredError,
} from '../../../functions/shared/errors';
import { redactor } from '../../../functions/shared/redact';
import { README, renderRunbook, runbookInReadme } from '../../../scripts/runbook';

describe('isRetryable', () => {
  it.each([
    ['a RetryableError', new RetryableError(ErrorCode.NETWORK, 'reset'), true],
    ['a ThrottledError', new ThrottledError('429'), true],
    ['an UploadUrlExpiredError', new UploadUrlExpiredError('expired'), true],
    ['a TimeoutError', new TimeoutError('late'), true],
    ['an AmbiguousOutcomeError', new AmbiguousOutcomeError('no answer'), true],
    ['a PermanentError', new PermanentError(ErrorCode.VENDOR_REJECTED, 'no'), false],
    ['a NoRouteError', new NoRouteError('no route'), false],
    ['a FileRejectedError', new FileRejectedError('.exe'), false],
    ['an UnsafeUploadTargetError', new UnsafeUploadTargetError('evil host'), false],
  ])('answers for %s', (_label, error, retryable) => {
    expect(isRetryable(error)).toBe(retryable);
  });

  it.each([
    ['a plain Error', new Error('boom')],
    ['a TypeError', new TypeError('x is undefined')],
    ['a thrown string', 'boom'],
    ['undefined', undefined],
    ['an object', { code: 'ECONNRESET' }],
  ])('treats %s as retryable (unknown errors are)', (_label, error) => {
    expect(isRetryable(error)).toBe(true);
  });
});

describe('PipelineError', () => {
  it('keeps the cause and the answer details', () => {
    const cause = new Error('socket hang up');

    const error = new RetryableError(ErrorCode.VENDOR_UNAVAILABLE, 'presign: HTTP 503', {
      cause,
      status: 503,
      vendorCode: 'SERVICE_DOWN',
      retryAfterMs: 2000,
    });

    expect(error.cause).toBe(cause);
    expect(error).toMatchObject({
      code: 'VENDOR_UNAVAILABLE',
      status: 503,
      vendorCode: 'SERVICE_DOWN',
      retryAfterMs: 2000,
      message: 'presign: HTTP 503',
      retryable: true,
    });
  });

  it('keeps the cause through the named subclasses', () => {
    const cause = new Error('403 Request has expired');

    const error = new UploadUrlExpiredError('upload URL expired', { cause, status: 403 });

    expect(error.cause).toBe(cause);
    expect(error.code).toBe(ErrorCode.UPLOAD_URL_EXPIRED);
    expect(error.status).toBe(403);
  });

  it('has no cause property when none was given', () => {
    const error = new PermanentError(ErrorCode.MALFORMED_MESSAGE, 'bad body');

    expect('cause' in error).toBe(false);
  });

  it('is named after its class and is an Error', () => {
    const error = new ThrottledError('slow down');

    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.name).toBe('ThrottledError');
    expect(error.code).toBe(ErrorCode.VENDOR_THROTTLED);
  });

  it('names every class itself, so a minified bundle still logs the class name', () => {
    // Prepare: one instance of each concrete class (the bundles drop class names when minified).
    const errors: Array<[string, Error]> = [
      ['RetryableError', new RetryableError(ErrorCode.NETWORK, 'x')],
      ['PermanentError', new PermanentError(ErrorCode.MALFORMED_MESSAGE, 'x')],
      ['ThrottledError', new ThrottledError('x')],
      ['UploadUrlExpiredError', new UploadUrlExpiredError('x')],
      ['TimeoutError', new TimeoutError('x')],
      ['NoRouteError', new NoRouteError('x')],
      ['FileRejectedError', new FileRejectedError('x')],
      ['UnsafeUploadTargetError', new UnsafeUploadTargetError('x')],
      ['SecretNotFoundError', new SecretNotFoundError('s')],
      ['LeaseLostError', new LeaseLostError('x')],
      ['AmbiguousOutcomeError', new AmbiguousOutcomeError('x')],
      ['RouteConfigError', new RouteConfigError(['x'])],
    ];

    // Assess: the stated name, an own property (not inherited from a minified prototype chain).
    for (const [name, error] of errors) {
      expect(error.name, name).toBe(name);
      expect(Object.hasOwn(error, 'name'), name).toBe(true);
    }
  });
});

describe('errorCodeOf / errorMessageOf', () => {
  it('gives the code of a pipeline error and INTERNAL for anything else', () => {
    expect(errorCodeOf(new NoRouteError('x'))).toBe(ErrorCode.NO_ROUTE);
    expect(errorCodeOf(new Error('x'))).toBe(ErrorCode.INTERNAL);
    expect(errorCodeOf(42)).toBe(ErrorCode.INTERNAL);
  });

  it('gives the message of an Error and the string form of anything else', () => {
    expect(errorMessageOf(new Error('boom'))).toBe('boom');
    expect(errorMessageOf('plain')).toBe('plain');
    expect(errorMessageOf(undefined)).toBe('undefined');
  });
});

describe('the error table', () => {
  it('decides retryability from the code alone, whichever way the error is built', () => {
    for (const [code, spec] of Object.entries(ERROR_TABLE)) {
      const error = pipelineError(code as ErrorCode, 'x');

      expect(error.retryable, code).toBe(spec.retryable);
      expect(isRetryable(error), code).toBe(spec.retryable);
      expect(error).toBeInstanceOf(spec.retryable ? RetryableError : PermanentError);
    }
  });

  it('treats only INTERNAL as the unknown, and it is retryable', () => {
    expect(ERROR_TABLE[errorCodeOf(new Error('?'))]).toMatchObject({ retryable: true });
    expect(errorCodeOf(new Error('?'))).toBe(ErrorCode.INTERNAL);
  });

  it('gives every code runbook text', () => {
    for (const [code, spec] of Object.entries(ERROR_TABLE)) {
      expect(spec.meaning.length, code).toBeGreaterThan(10);
      expect(spec.action.length, code).toBeGreaterThan(10);
    }
  });

  it('is what the README runbook says, row for row (npm run docs:runbook regenerates it)', () => {
    const readme = readFileSync(README, 'utf8');

    expect(runbookInReadme(readme)).toBe(renderRunbook());
  });

  it('names the classes that used to live elsewhere by their table codes', () => {
    expect(new LeaseLostError('x')).toMatchObject({ code: ErrorCode.LEASE_LOST, retryable: true });
    expect(new SecretNotFoundError('s')).toMatchObject({
      code: ErrorCode.SECRET_NOT_FOUND,
      retryable: false,
    });
  });
});

describe('errorMessageOf', () => {
  it('redacts registered secrets and URL credentials, as its callers rely on', () => {
    const secret = 'token-ERRORS-TEST-7f3a9c';
    redactor.add(secret);

    const text = errorMessageOf(
      new Error(`PUT https://b.s3.amazonaws.com/k?X-Amz-Signature=abc123 failed with ${secret}`),
    );

    expect(text).not.toContain(secret);
    expect(text).not.toContain('abc123');
    expect(text).toContain('failed with');
  });
});
