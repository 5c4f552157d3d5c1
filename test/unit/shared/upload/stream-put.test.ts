import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ErrorCode,
  PermanentError,
  RetryableError,
  TimeoutError,
  UploadUrlExpiredError,
} from '../../../../functions/shared/errors';
import { streamPut } from '../../../../functions/shared/upload/stream-put';
import { startUploadTarget, type UploadTargetServer } from '../../../support/upload-target';
import {
  bytesOf,
  failingReadable,
  md5Hex,
  readableOf,
  SIGNATURE,
  SIGNED_QUERY,
  sha256Hex,
} from './stream-fixtures';

let target: UploadTargetServer;
beforeAll(async () => {
  target = await startUploadTarget();
});
afterAll(async () => {
  await target.close();
});

let n = 0;
/** A fresh path per test, so settings on one path never leak into another test. */
function freshPath(): string {
  n++;
  return `/bucket/uploads/file-${n}.csv`;
}

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the upload to fail');
}

describe('streamPut', () => {
  beforeEach(() => {
    target.resetStats();
  });

  it('sends exactly Content-Length (never chunked) and the signed Content-Type, and the bytes arrive byte-exact', async () => {
    const path = freshPath();
    target.setContentType(path, 'text/csv');
    const data = bytesOf(3 * 1024 * 1024 + 17);

    const result = await streamPut({
      url: new URL(target.urlFor(path, SIGNED_QUERY)),
      headers: { 'Content-Type': 'text/csv' },
      body: readableOf(data, 50_000),
      contentLength: data.length,
    });

    expect(result).toEqual({ status: 200, eTag: `"${md5Hex(data)}"` });
    const [request] = target.requests;
    expect(request).toMatchObject({
      method: 'PUT',
      path,
      bytes: data.length,
      sha256: sha256Hex(data),
      outcome: 'stored',
    });
    expect(request?.headers['content-length']).toBe(String(data.length));
    expect(request?.headers['transfer-encoding']).toBeUndefined();
    expect(request?.headers['content-type']).toBe('text/csv');
    expect(new URLSearchParams(request?.search).get('X-Amz-Signature')).toBe(SIGNATURE);
  });

  it('sends an empty body with Content-Length 0', async () => {
    const path = freshPath();

    const result = await streamPut({
      url: new URL(target.urlFor(path)),
      headers: {},
      body: readableOf(Buffer.alloc(0)),
      contentLength: 0,
    });

    expect(result.status).toBe(200);
    expect(target.requests[0]).toMatchObject({ bytes: 0, outcome: 'stored' });
    expect(target.requests[0]?.headers['content-length']).toBe('0');
  });

  it('treats any 2xx answer as success (Azure Blob answers a Put Blob with 201 Created)', async () => {
    const path = freshPath();
    target.succeedWith(path, 201);
    const data = bytesOf(1000);

    const result = await streamPut({
      url: new URL(target.urlFor(path)),
      headers: { 'x-ms-blob-type': 'BlockBlob' },
      body: readableOf(data),
      contentLength: data.length,
    });

    expect(result.eTag).toBe(`"${md5Hex(data)}"`);
  });

  it('throws UploadUrlExpiredError for an expired URL, destroys the source and keeps the signature out of the message', async () => {
    const path = freshPath();
    target.expire(path);
    const body = readableOf(bytesOf(2 * 1024 * 1024));

    const error = await failureOf(
      streamPut({
        url: new URL(target.urlFor(path, SIGNED_QUERY)),
        headers: {},
        body,
        contentLength: 2 * 1024 * 1024,
      }),
    );

    expect(error).toBeInstanceOf(UploadUrlExpiredError);
    expect(error).toMatchObject({ retryable: true, status: 403, vendorCode: 'AccessDenied' });
    expect((error as Error).message).not.toContain(SIGNATURE);
    expect((error as Error).message).toContain('X-Amz-Expires=900');
    expect(body.destroyed).toBe(true);
  });

  it('throws a permanent UPLOAD_REJECTED when the Content-Type differs from the signed one, destroying the source', async () => {
    const path = freshPath();
    target.setContentType(path, 'text/csv');
    const body = readableOf(bytesOf(1024));

    const error = await failureOf(
      streamPut({
        url: new URL(target.urlFor(path, SIGNED_QUERY)),
        headers: { 'content-type': 'application/octet-stream' },
        body,
        contentLength: 1024,
      }),
    );

    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({
      code: ErrorCode.UPLOAD_REJECTED,
      status: 403,
      vendorCode: 'SignatureDoesNotMatch',
    });
    expect((error as Error).message).not.toContain(SIGNATURE);
    expect(body.destroyed).toBe(true);
  });

  it('throws a retryable error for a 500, destroying the source', async () => {
    const path = freshPath();
    target.failNext(1, 'status-500');
    const body = readableOf(bytesOf(64 * 1024));

    const error = await failureOf(
      streamPut({
        url: new URL(target.urlFor(path, SIGNED_QUERY)),
        headers: {},
        body,
        contentLength: 64 * 1024,
      }),
    );

    expect(error).toBeInstanceOf(RetryableError);
    expect(error).toMatchObject({
      code: ErrorCode.VENDOR_UNAVAILABLE,
      status: 500,
      vendorCode: 'InternalError',
    });
    expect(body.destroyed).toBe(true);
  });

  it('throws a retryable VENDOR_UNREACHABLE error when the upload host resets the connection mid-body, destroying the source', async () => {
    const path = freshPath();
    target.failNext(1, 'reset');
    const size = 8 * 1024 * 1024;
    const body = readableOf(bytesOf(size));

    const error = await failureOf(
      streamPut({ url: new URL(target.urlFor(path, SIGNED_QUERY)), headers: {}, body, contentLength: size }),
    );

    expect(error).toBeInstanceOf(RetryableError);
    expect(error).toMatchObject({ code: ErrorCode.VENDOR_UNREACHABLE });
    expect((error as Error).message).not.toContain(SIGNATURE);
    expect(body.destroyed).toBe(true);
    expect(target.requests[0]?.bytes).toBeLessThan(size);
  });

  it('throws a retryable NETWORK error when the source stream fails, and the target stores nothing', async () => {
    const path = freshPath();
    // Fail only once the target is reading the body, so the request is known to have reached it.
    const reading = () => vi.waitFor(() => expect(target.inFlight).toBe(1), { timeout: 5000 });
    const body = failingReadable(bytesOf(10_000), new Error('S3 socket reset while reading'), reading);

    const error = await failureOf(
      streamPut({ url: new URL(target.urlFor(path)), headers: {}, body, contentLength: 1_000_000 }),
    );

    expect(error).toBeInstanceOf(RetryableError);
    expect(error).toMatchObject({ code: ErrorCode.NETWORK });
    expect(body.destroyed).toBe(true);
    await vi.waitFor(() => expect(target.requests).toHaveLength(1), { timeout: 5000 });
    expect(target.requests[0]).toMatchObject({ outcome: 'incomplete', status: undefined });
    expect(target.requests[0]?.bytes).toBeLessThan(1_000_000);
  });

  it('throws TimeoutError without connecting when the signal is already aborted', async () => {
    const body = readableOf(bytesOf(1024));

    const error = await failureOf(
      streamPut({
        url: new URL(target.urlFor(freshPath())),
        headers: {},
        body,
        contentLength: 1024,
        signal: AbortSignal.abort(),
      }),
    );

    expect(error).toBeInstanceOf(TimeoutError);
    expect(body.destroyed).toBe(true);
    expect(target.inFlight).toBe(0);
  });

  it('throws TimeoutError when the signal fires mid-upload, destroying the source', async () => {
    const controller = new AbortController();
    const chunk = bytesOf(64 * 1024);
    let sent = 0;
    // Aborts once the first chunk is on its way, then keeps the body open so only the signal can end it.
    const body = new Readable({
      read() {
        if (sent === 0) {
          sent++;
          this.push(chunk);
          setImmediate(() => controller.abort());
        }
      },
    });

    const error = await failureOf(
      streamPut({
        url: new URL(target.urlFor(freshPath())),
        headers: {},
        body,
        contentLength: 10 * chunk.length,
        signal: controller.signal,
      }),
    );

    expect(error).toBeInstanceOf(TimeoutError);
    expect(body.destroyed).toBe(true);
  });
});
