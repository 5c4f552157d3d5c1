import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

/** A signature value that must never appear in an error message. */
export const SIGNATURE = '5ecre7519deadbeef5ecre7519deadbeef5ecre7519deadbeef5ecre7519dead';

/** The query string of a presigned S3 PUT URL. */
export const SIGNED_QUERY: Readonly<Record<string, string>> = {
  'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
  'X-Amz-Credential': 'ASIAEXAMPLE/20240301/ap-south-1/s3/aws4_request',
  'X-Amz-Date': '20240301T100000Z',
  'X-Amz-Expires': '900',
  'X-Amz-SignedHeaders': 'content-type;host',
  'X-Amz-Signature': SIGNATURE,
};

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function md5Hex(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

/** Deterministic, non-repeating test bytes (a counter mixed through a multiplicative hash). */
export function bytesOf(length: number, seed = 1): Buffer {
  const data = Buffer.alloc(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    data[i] = x >>> 24;
  }
  return data;
}

/** A byte stream (not object mode) handing out `data` in chunks of `chunkSize`. */
export function readableOf(data: Buffer, chunkSize = 64 * 1024): Readable {
  function* chunks(): Generator<Buffer> {
    for (let at = 0; at < data.length; at += chunkSize) yield data.subarray(at, at + chunkSize);
  }
  return Readable.from(chunks(), { objectMode: false });
}

/** A byte stream that hands out `good` bytes, waits for `beforeFailing`, then fails with `error`. */
export function failingReadable(good: Buffer, error: Error, beforeFailing: () => Promise<unknown>): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    yield good;
    await beforeFailing();
    throw error;
  }
  return Readable.from(chunks(), { objectMode: false });
}
