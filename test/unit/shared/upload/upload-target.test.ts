import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ErrorCode,
  PermanentError,
  RetryableError,
  UploadUrlExpiredError,
} from '../../../../functions/shared/errors';
import { classifyUploadAnswer } from '../../../../functions/shared/upload/stream-put';
import { startUploadTarget, type UploadTargetServer } from '../../../support/upload-target';
import { bytesOf, md5Hex, sha256Hex } from './stream-fixtures';

interface RawAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/**
 * A PUT written by hand, so framing the uploader never produces can be sent: chunked, or (with
 * `noLength`) neither Content-Length nor Transfer-Encoding.
 */
function rawPut(
  url: string,
  headers: Record<string, string>,
  chunks: readonly Buffer[],
  noLength = false,
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'PUT', headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    if (noLength) {
      // Node adds one of the two framing headers unless both are removed explicitly.
      req.removeHeader('content-length');
      req.removeHeader('transfer-encoding');
    }
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe('startUploadTarget (an S3 presigned PUT endpoint on loopback)', () => {
  let target: UploadTargetServer;
  beforeEach(async () => {
    target = await startUploadTarget();
  });
  afterEach(async () => {
    await target.close();
  });

  it('stores a body with Content-Length and answers 200 with the MD5 ETag', async () => {
    const data = bytesOf(100_000);

    const answer = await rawPut(
      target.urlFor('/b/k.csv', { a: '1' }),
      { 'content-length': String(data.length) },
      [data],
    );

    expect(answer.status).toBe(200);
    expect(answer.headers.etag).toBe(`"${md5Hex(data)}"`);
    expect(target.requests).toEqual([
      expect.objectContaining({
        method: 'PUT',
        path: '/b/k.csv',
        search: '?a=1',
        bytes: data.length,
        sha256: sha256Hex(data),
        status: 200,
        outcome: 'stored',
      }),
    ]);
  });

  it('answers 501 NotImplemented to a chunked body, which the uploader must treat as a failure', async () => {
    const answer = await rawPut(target.urlFor('/b/k.csv'), { 'transfer-encoding': 'chunked' }, [
      Buffer.from('abc'),
    ]);

    const error = classifyUploadAnswer(answer.status, answer.body, 'shown');

    expect(answer.status).toBe(501);
    expect(error.vendorCode).toBe('NotImplemented');
    expect(target.requests[0]).toMatchObject({ outcome: 'refused', errorCode: 'NotImplemented', bytes: 0 });
  });

  it('answers 411 to a PUT without Content-Length, a permanent rejection', async () => {
    const answer = await rawPut(target.urlFor('/b/k.csv'), {}, [], true);

    const error = classifyUploadAnswer(answer.status, answer.body, 'shown');

    expect(answer.status).toBe(411);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ code: ErrorCode.UPLOAD_REJECTED, vendorCode: 'MissingContentLength' });
  });

  it('answers 403 SignatureDoesNotMatch to a Content-Type other than the signed one, a permanent rejection', async () => {
    target.setContentType('/b/k.csv', 'text/csv');

    const answer = await rawPut(
      target.urlFor('/b/k.csv'),
      { 'content-length': '3', 'content-type': 'text/plain' },
      [Buffer.from('abc')],
    );
    const error = classifyUploadAnswer(answer.status, answer.body, 'shown');

    expect(answer.status).toBe(403);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ code: ErrorCode.UPLOAD_REJECTED, vendorCode: 'SignatureDoesNotMatch' });
  });

  it('answers 403 AccessDenied "Request has expired" for an expired path, an expired URL', async () => {
    target.expire('/b/k.csv');

    const answer = await rawPut(target.urlFor('/b/k.csv'), { 'content-length': '3' }, [Buffer.from('abc')]);
    const error = classifyUploadAnswer(answer.status, answer.body, 'shown');

    expect(answer.status).toBe(403);
    expect(answer.body).toContain('<Message>Request has expired</Message>');
    expect(error).toBeInstanceOf(UploadUrlExpiredError);
  });

  it('fails the next requests with 500 InternalError, a retryable failure, then stores again', async () => {
    target.failNext(2, 'status-500');
    const put = () => rawPut(target.urlFor('/b/k.csv'), { 'content-length': '3' }, [Buffer.from('abc')]);

    const answers = [await put(), await put(), await put()];
    const error = classifyUploadAnswer(500, answers[0]?.body ?? '', 'shown');

    expect(answers.map((a) => a.status)).toEqual([500, 500, 200]);
    expect(error).toBeInstanceOf(RetryableError);
    expect(error).toMatchObject({ code: ErrorCode.VENDOR_UNAVAILABLE, vendorCode: 'InternalError' });
  });

  it('drops the connection mid-body for a reset', async () => {
    target.failNext(1, 'reset');
    const data = bytesOf(4 * 1024 * 1024);

    const answer = rawPut(target.urlFor('/b/k.csv'), { 'content-length': String(data.length) }, [data]);

    await expect(answer).rejects.toMatchObject({ code: expect.stringMatching(/ECONNRESET|EPIPE/) });
    expect(target.requests[0]?.outcome).toBe('failed');
    expect(target.requests[0]?.bytes).toBeLessThan(data.length);
  });

  it('answers a configured success status instead of 200', async () => {
    target.succeedWith('/blob', 201);

    const answer = await rawPut(target.urlFor('/blob'), { 'content-length': '3' }, [Buffer.from('abc')]);

    expect(answer.status).toBe(201);
    expect(answer.headers.etag).toBe(`"${md5Hex(Buffer.from('abc'))}"`);
  });
});

describe('classifyUploadAnswer', () => {
  const xml = (code: string, message: string) =>
    `<Error><Code>${code}</Code><Message>${message}</Message></Error>`;

  it.each([
    [403, xml('AccessDenied', 'Request has expired'), UploadUrlExpiredError, ErrorCode.UPLOAD_URL_EXPIRED],
    [403, 'Request has expired', UploadUrlExpiredError, ErrorCode.UPLOAD_URL_EXPIRED],
    [403, xml('AccessDenied', 'Access Denied'), PermanentError, ErrorCode.UPLOAD_REJECTED],
    [
      403,
      xml('SignatureDoesNotMatch', 'The request signature we calculated does not match'),
      PermanentError,
      ErrorCode.UPLOAD_REJECTED,
    ],
    [
      400,
      xml('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size'),
      PermanentError,
      ErrorCode.UPLOAD_REJECTED,
    ],
    [
      404,
      xml('NoSuchUpload', 'The specified upload does not exist'),
      PermanentError,
      ErrorCode.UPLOAD_REJECTED,
    ],
    [
      400,
      xml('RequestTimeout', 'Your socket connection to the server was not read from'),
      RetryableError,
      ErrorCode.VENDOR_UNAVAILABLE,
    ],
    [503, xml('SlowDown', 'Please reduce your request rate.'), RetryableError, ErrorCode.VENDOR_UNAVAILABLE],
    [
      500,
      xml('InternalError', 'We encountered an internal error.'),
      RetryableError,
      ErrorCode.VENDOR_UNAVAILABLE,
    ],
    [429, '', RetryableError, ErrorCode.VENDOR_UNAVAILABLE],
    [408, '', RetryableError, ErrorCode.VENDOR_UNAVAILABLE],
  ])('classifies HTTP %i %j', (status, body, type, code) => {
    const error = classifyUploadAnswer(
      status,
      body,
      'https://b.s3.amazonaws.com/k?X-Amz-Signature=[REDACTED]',
    );

    expect(error).toBeInstanceOf(type);
    expect(error.code).toBe(code);
    expect(error.status).toBe(status);
  });

  it('names the URL shown, the status, and the S3 code and message', () => {
    const error = classifyUploadAnswer(403, xml('AccessDenied', 'Request has expired'), 'https://b/k');

    expect(error.message).toBe('upload to https://b/k: HTTP 403 AccessDenied — Request has expired');
  });
});
