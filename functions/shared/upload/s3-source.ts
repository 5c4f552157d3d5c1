import type { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  type ListObjectVersionsCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ErrorCode, PermanentError, RetryableError, TimeoutError } from '../errors';
import { streamHasher } from './overlapped-hash';
import { watchStall } from './stall';

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
  stallMs?: number,
  /** The object's size, when known: a large one is hashed on a worker thread while it is read. */
  size = 0,
): Promise<string> {
  const { body } = await openObject(s3, object, undefined, signal);
  const hash = streamHasher(size);
  const watch = watchStall(stallMs, () => body.destroy(new Error(`no bytes for ${stallMs} ms`)));
  try {
    for await (const chunk of body) {
      watch.progress();
      const wait = hash.update(chunk as Buffer);
      if (wait) await wait;
    }
  } catch (error) {
    hash.abort();
    body.destroy();
    if (watch.stalled)
      throw new TimeoutError(`the S3 body stopped flowing for ${stallMs} ms while hashing`, { cause: error });
    throw new RetryableError(ErrorCode.NETWORK, 'reading the object to hash it failed', { cause: error });
  } finally {
    watch.stop();
  }
  return hash.digest();
}

/** What an S3 notification says about the object it announces. */
export interface NotifiedObject {
  readonly bucket: string;
  readonly key: string;
  readonly versionId?: string | undefined;
  readonly eTag?: string | undefined;
  readonly size?: number | undefined;
  readonly sequencer?: string | undefined;
}

/** The object version a notification is about, and its head when reading it told us. */
export interface IdentifiedVersion {
  readonly object: {
    bucket: string;
    key: string;
    versionId?: string;
    eTag: string;
    size: number;
    sequencer?: string;
  };
  readonly head: ObjectHead | undefined;
}

const unquote = (eTag: string) => eTag.replaceAll('"', '');

/**
 * The identity of the object version a notification announces, taken from the object, never from a
 * timestamp. S3 names the version in the notification of a versioned bucket; where it does not (an
 * emulator, or a replayed message), the object says: the current version when its ETag is the one
 * notified, else the newest version with that ETag. On an unversioned bucket the identity is the
 * ETag, the size and the event's sequencer.
 */
export async function identifyVersion(s3: S3Client, notified: NotifiedObject): Promise<IdentifiedVersion> {
  const base = { bucket: notified.bucket, key: notified.key };
  if (notified.versionId) {
    return {
      object: {
        ...base,
        versionId: notified.versionId,
        eTag: notified.eTag ?? '',
        size: notified.size ?? 0,
        ...(notified.sequencer ? { sequencer: notified.sequencer } : {}),
      },
      head: undefined,
    };
  }
  const head = await headObject(s3, base);
  const current = unquote(head.eTag);
  const versioned = head.versionId !== undefined && head.versionId !== 'null';
  if (!versioned) {
    const eTag = notified.eTag ? unquote(notified.eTag) : current;
    return {
      object: {
        ...base,
        eTag,
        size: notified.size ?? head.size,
        ...(notified.sequencer ? { sequencer: notified.sequencer } : {}),
      },
      head: eTag === current ? head : undefined,
    };
  }
  if (!notified.eTag || unquote(notified.eTag) === current) {
    return {
      object: { ...base, versionId: head.versionId as string, eTag: current, size: head.size },
      head,
    };
  }
  // Overwritten since the notification: find the notified bytes among the key's versions.
  const wanted = unquote(notified.eTag);
  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  for (let page = 0; page < 10; page++) {
    let out: ListObjectVersionsCommandOutput;
    try {
      out = await s3.send(
        new ListObjectVersionsCommand({
          Bucket: notified.bucket,
          Prefix: notified.key,
          KeyMarker: keyMarker,
          VersionIdMarker: versionMarker,
        }),
      );
    } catch (error) {
      throw classifyS3Error(error, `list versions of s3://${notified.bucket}/${notified.key}`);
    }
    const match = (out.Versions ?? [])
      .filter((v) => v.Key === notified.key && unquote(v.ETag ?? '') === wanted && v.VersionId)
      .sort((a, b) => (b.LastModified?.getTime() ?? 0) - (a.LastModified?.getTime() ?? 0))[0];
    if (match?.VersionId) {
      return {
        object: { ...base, versionId: match.VersionId, eTag: wanted, size: match.Size ?? notified.size ?? 0 },
        head: undefined,
      };
    }
    if (!out.IsTruncated) break;
    keyMarker = out.NextKeyMarker;
    versionMarker = out.NextVersionIdMarker;
  }
  throw new PermanentError(
    ErrorCode.OBJECT_NOT_FOUND,
    `s3://${notified.bucket}/${notified.key}: no version with the notified ETag ${wanted} remains`,
  );
}
