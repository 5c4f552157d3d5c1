import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ErrorCode, RetryableError, UnsafeUploadTargetError } from '../errors';
import { extensionOf } from '../file-descriptor';
import { redactUrl } from '../redact';
import { assertSafeUploadTarget, type UploadGuardPolicy } from './url-guard';

/** What became of a vendor file the pipeline was asked to bring home. */
export type CopiedFile =
  | { readonly kind: 'copied'; readonly key: string; readonly bytes: number; readonly contentType: string }
  | { readonly kind: 'skipped'; readonly reason: string };

/** The extension to store a downloaded file under, from its Content-Type or its URL. */
export function extensionFor(contentType: string | undefined, url: URL): string {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  const byType: Record<string, string> = {
    'text/csv': 'csv',
    'application/vnd.ms-excel': 'xls',
    'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
    'application/json': 'json',
    'application/zip': 'zip',
    'text/plain': 'txt',
  };
  const fromType = type ? byType[type] : undefined;
  if (fromType) return fromType;
  // The vendor chooses the URL: only a short alphanumeric extension goes into the object key.
  const ext = extensionOf(url.pathname);
  return /^[a-z0-9]{1,5}$/.test(ext) ? ext : 'bin';
}

function get(url: URL, timeoutMs: number): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const transport = url.protocol === 'https:' ? https : http;
    const req = transport.get(url, { signal: AbortSignal.timeout(timeoutMs) }, resolve);
    req.once('error', reject);
  });
}

/**
 * Streams a vendor's file (e.g. ClearTax's file of rejected rows) into the ingest bucket. The link is
 * checked like an upload URL first (https, a host of the route's allow-list); the body streams into
 * S3 with its Content-Length when the vendor sends one (memory stays flat), else it is read up to
 * `maxBytes` and stored; a file over `maxBytes` is not copied (`skipped`, with why). The key is
 * chosen once the type is known (`keyFor(extension)`).
 */
export async function copyToS3(input: {
  readonly s3: S3Client;
  readonly link: string;
  readonly policy: UploadGuardPolicy;
  readonly bucket: string;
  readonly keyFor: (extension: string) => string;
  readonly maxBytes: number;
  readonly timeoutMs: number;
}): Promise<CopiedFile> {
  let url: URL;
  try {
    url = assertSafeUploadTarget(input.link, input.policy);
  } catch (error) {
    if (error instanceof UnsafeUploadTargetError)
      return { kind: 'skipped', reason: `the vendor's link was refused: ${error.message}` };
    throw error;
  }
  const shown = redactUrl(url.toString());
  let response: IncomingMessage;
  try {
    response = await get(url, input.timeoutMs);
  } catch (error) {
    throw new RetryableError(ErrorCode.VENDOR_UNREACHABLE, `fetching ${shown} failed`, { cause: error });
  }
  const status = response.statusCode ?? 0;
  if (status < 200 || status > 299) {
    response.resume();
    if (status >= 500 || status === 429)
      throw new RetryableError(ErrorCode.VENDOR_UNAVAILABLE, `fetching ${shown}: HTTP ${status}`);
    return { kind: 'skipped', reason: `the vendor's file could not be fetched (HTTP ${status})` };
  }
  const contentType = response.headers['content-type'] ?? 'application/octet-stream';
  const key = input.keyFor(extensionFor(contentType, url));
  const declared = Number(response.headers['content-length']);
  try {
    if (Number.isFinite(declared) && response.headers['content-length'] !== undefined) {
      if (declared > input.maxBytes) {
        response.destroy();
        return {
          kind: 'skipped',
          reason: `the vendor's file has ${declared} bytes, over the ${input.maxBytes} copied (results.maxErrorFileBytes)`,
        };
      }
      await input.s3.send(
        new PutObjectCommand({
          Bucket: input.bucket,
          Key: key,
          Body: response,
          ContentLength: declared,
          ContentType: contentType,
        }),
      );
      return { kind: 'copied', key, bytes: declared, contentType };
    }
    // No length announced: read it (bounded), then store it.
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response) {
      size += (chunk as Buffer).length;
      if (size > input.maxBytes) {
        response.destroy();
        return {
          kind: 'skipped',
          reason: `the vendor's file is over the ${input.maxBytes} bytes copied (results.maxErrorFileBytes)`,
        };
      }
      chunks.push(chunk as Buffer);
    }
    const body = Buffer.concat(chunks);
    await input.s3.send(
      new PutObjectCommand({ Bucket: input.bucket, Key: key, Body: body, ContentType: contentType }),
    );
    return { kind: 'copied', key, bytes: body.length, contentType };
  } catch (error) {
    response.destroy();
    if (error instanceof RetryableError) throw error;
    throw new RetryableError(ErrorCode.NETWORK, `copying ${shown} into s3://${input.bucket}/${key} failed`, {
      cause: error,
    });
  }
}
