import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ErrorCode, PermanentError, RetryableError } from '../errors';

export interface ObjectVersion {
  readonly bucket: string;
  readonly key: string;
  readonly versionId?: string | undefined;
  /** Used as `If-Match` when the bucket is not versioned, so a replaced object is noticed. */
  readonly eTag?: string | undefined;
}

export interface ObjectHead {
  readonly size: number;
  readonly eTag: string;
  readonly contentType: string | undefined;
  /** Full-object SHA-256 (base64) when S3 stores one; composite multipart checksums are not used. */
  readonly sha256Base64: string | undefined;
  readonly versionId: string | undefined;
}

/** S3 event notifications carry the ETag without quotes; `If-Match` wants the quoted entity tag. */
function ifMatch(object: ObjectVersion): { IfMatch?: string } {
  if (object.versionId !== undefined || !object.eTag) return {};
  return { IfMatch: object.eTag.startsWith('"') ? object.eTag : `"${object.eTag}"` };
}

function s3ErrorName(error: unknown): string {
  const e = error as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return e.name ?? e.Code ?? 'Unknown';
}

/** NoSuchKey/NoSuchVersion/404 → OBJECT_NOT_FOUND; 412 → OBJECT_CHANGED; anything else retryable. */
export function classifyS3Error(error: unknown, what: string): Error {
  const name = s3ErrorName(error);
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (name === 'NoSuchKey' || name === 'NoSuchVersion' || name === 'NotFound' || status === 404) {
    return new PermanentError(ErrorCode.OBJECT_NOT_FOUND, `${what}: the object (version) no longer exists`, {
      cause: error,
    });
  }
  if (name === 'PreconditionFailed' || status === 412) {
    return new PermanentError(
      ErrorCode.OBJECT_CHANGED,
      `${what}: the object was replaced since the notification`,
      {
        cause: error,
      },
    );
  }
  if (name === 'AccessDenied' || status === 403) {
    // Usually a missing grant or KMS permission: retrying cannot fix it, but an operator can.
    return new PermanentError(ErrorCode.OBJECT_ACCESS_DENIED, `${what}: access denied reading the object`, {
      cause: error,
    });
  }
  return new RetryableError(ErrorCode.NETWORK, `${what}: ${name}`, { cause: error });
}

/** HeadObject with checksum mode on: size, ETag, stored Content-Type and, when present, the SHA-256. */
export async function headObject(s3: S3Client, object: ObjectVersion): Promise<ObjectHead> {
  try {
    const head = await s3.send(
      new HeadObjectCommand({
        Bucket: object.bucket,
        Key: object.key,
        VersionId: object.versionId,
        ChecksumMode: 'ENABLED',
        ...ifMatch(object),
      }),
    );
    const checksum = head.ChecksumSHA256;
    const fullObject = checksum !== undefined && !checksum.includes('-') && head.ChecksumType !== 'COMPOSITE';
    return {
      size: head.ContentLength ?? 0,
      eTag: head.ETag ?? object.eTag ?? '',
      contentType: head.ContentType,
      sha256Base64: fullObject ? checksum : undefined,
      versionId: head.VersionId ?? object.versionId,
    };
  } catch (error) {
    throw classifyS3Error(error, `head s3://${object.bucket}/${object.key}`);
  }
}

export interface OpenedObject {
  readonly body: Readable;
  readonly length: number;
}

/**
 * Opens the object (or an inclusive byte range of it) as a stream. The caller owns the stream and
 * must consume or destroy it on every path.
 */
export async function openObject(
  s3: S3Client,
  object: ObjectVersion,
  range?: { start: number; end: number },
  signal?: AbortSignal,
): Promise<OpenedObject> {
  try {
    const out = await s3.send(
      new GetObjectCommand({
        Bucket: object.bucket,
        Key: object.key,
        VersionId: object.versionId,
        ...ifMatch(object),
        ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
      }),
      { abortSignal: signal },
    );
    const body = out.Body as Readable | undefined;
    if (!body) throw new RetryableError(ErrorCode.NETWORK, 'GetObject returned no body');
    const expected = range ? range.end - range.start + 1 : out.ContentLength;
    if (out.ContentLength !== undefined && expected !== undefined && out.ContentLength !== expected) {
      body.destroy();
      throw new RetryableError(
        ErrorCode.NETWORK,
        `GetObject returned ${out.ContentLength} bytes, expected ${expected}`,
      );
    }
    return { body, length: out.ContentLength ?? expected ?? 0 };
  } catch (error) {
    if (error instanceof RetryableError || error instanceof PermanentError) throw error;
    throw classifyS3Error(error, `get s3://${object.bucket}/${object.key}`);
  }
}

/** One streaming pass over the object computing its SHA-256 (base64 of the raw digest). */
export async function sha256OfObject(
  s3: S3Client,
  object: ObjectVersion,
  signal?: AbortSignal,
): Promise<string> {
  const { body } = await openObject(s3, object, undefined, signal);
  const hash = createHash('sha256');
  try {
    for await (const chunk of body) hash.update(chunk as Buffer);
  } catch (error) {
    body.destroy();
    throw new RetryableError(ErrorCode.NETWORK, 'reading the object to hash it failed', { cause: error });
  }
  return hash.digest('base64');
}
