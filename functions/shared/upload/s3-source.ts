import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  type HeadObjectCommandOutput,
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

type HeadFields = Pick<
  HeadObjectCommandOutput,
  'ContentLength' | 'ETag' | 'ContentType' | 'ChecksumSHA256' | 'ChecksumType' | 'VersionId'
>;

/** The head of a HeadObject or GetObject answer (checksum mode on: the SHA-256 when S3 stores one). */
function headOf(out: HeadFields, object: ObjectVersion): ObjectHead {
  const checksum = out.ChecksumSHA256;
  const fullObject = checksum !== undefined && !checksum.includes('-') && out.ChecksumType !== 'COMPOSITE';
  return {
    size: out.ContentLength ?? 0,
    eTag: out.ETag ?? object.eTag ?? '',
    contentType: out.ContentType,
    sha256Base64: fullObject ? checksum : undefined,
    versionId: out.VersionId ?? object.versionId,
  };
}

export interface OpenedObject {
  readonly body: Readable;
  readonly length: number;
}

/** One GetObject (a byte range, checksum mode), its failures mapped to the taxonomy. */
async function getObject(
  s3: S3Client,
  object: ObjectVersion,
  options: {
    readonly range?: { start: number; end: number } | undefined;
    readonly checksum?: boolean | undefined;
    readonly signal?: AbortSignal | undefined;
  },
): Promise<GetObjectCommandOutput> {
  const { range } = options;
  try {
    return await s3.send(
      new GetObjectCommand({
        Bucket: object.bucket,
        Key: object.key,
        VersionId: object.versionId,
        ...ifMatch(object),
        ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
        ...(options.checksum ? { ChecksumMode: 'ENABLED' as const } : {}),
      }),
      { abortSignal: options.signal },
    );
  } catch (error) {
    throw classifyS3Error(error, `get s3://${object.bucket}/${object.key}`);
  }
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
  const out = await getObject(s3, object, { range, signal });
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
}

/**
 * Bytes read ahead of need and handed over once: the first read of an upload takes them instead of
 * opening the object again. Whoever holds one calls `dispose` on every path (an unconsumed S3 body
 * holds its socket); `dispose` after `take` does nothing.
 */
export interface FirstRead {
  /** The whole object as a stream, once; undefined when already taken, disposed or gone stale. */
  take(): OpenedObject | undefined;
  dispose(): void;
}

/** An object version opened with one GetObject: its answer is the head, its body the first read. */
export interface OpenedVersion extends FirstRead {
  readonly head: ObjectHead;
}

/**
 * A paused body is used only this soon after it was opened: past that, S3 may have given up on a
 * reader that does not read, and the upload opens the object again (one more GET, never a failure).
 */
export const OPENED_FRESH_MS = 10_000;

/**
 * Opens the object with GetObject in place of HeadObject: the answer's headers carry everything a head
 * would (size, ETag, Content-Type, version, and with `checksum` the stored SHA-256), and its body, left
 * paused, becomes the upload's first read. One call where a head and a read took two.
 */
export async function openVersion(
  s3: S3Client,
  object: ObjectVersion,
  options: { readonly checksum?: boolean; readonly signal?: AbortSignal; readonly now?: () => number } = {},
): Promise<OpenedVersion> {
  const now = options.now ?? Date.now;
  const out = await getObject(s3, object, options);
  const head = headOf(out, object);
  let body = out.Body as Readable | undefined;
  const openedAt = now();
  // While it waits nobody reads it: a reset, or the deadline's abort, must not become an uncaught
  // 'error' (the SDK's checksum-validating wrapper re-emits its socket's errors). Whoever takes it
  // listens for its own; a body that died waiting is not handed over.
  let failed = false;
  body?.on('error', () => {
    failed = true;
  });
  const dispose = () => {
    body?.destroy();
    body = undefined;
  };
  return {
    head,
    take() {
      const taken = body;
      body = undefined;
      if (!taken) return undefined;
      if (failed || taken.destroyed || taken.errored || now() - openedAt > OPENED_FRESH_MS) {
        taken.destroy();
        return undefined;
      }
      return { body: taken, length: head.size };
    },
    dispose,
  };
}

/** Small bytes held in memory (read once to hash them), served as the upload's first read. */
export function bufferedRead(bytes: Buffer): FirstRead {
  let held: Buffer | undefined = bytes;
  return {
    take() {
      const taken = held;
      held = undefined;
      return taken
        ? { body: Readable.from([taken], { objectMode: false }), length: taken.length }
        : undefined;
    },
    dispose() {
      held = undefined;
    },
  };
}

export interface HashOptions {
  readonly signal?: AbortSignal | undefined;
  readonly stallMs?: number | undefined;
  /** The object's size, when known: a large one is hashed on a worker thread while it is read. */
  readonly size?: number;
  /** Bytes already opened (a GetObject that stood in for the head): read instead of a new GetObject. */
  readonly first?: FirstRead | undefined;
  /** Keep the bytes read (a small object, hashed and uploaded from one read). */
  readonly keep?: boolean;
}

export interface HashedObject {
  /** SHA-256 of the object, base64 of the raw digest. */
  readonly sha256Base64: string;
  /** The bytes, when asked to keep them. */
  readonly bytes?: Buffer;
}

/** One streaming pass over the object computing its SHA-256; optionally keeping the (small) bytes. */
export async function sha256OfObject(
  s3: S3Client,
  object: ObjectVersion,
  options: HashOptions = {},
): Promise<HashedObject> {
  const { stallMs, size = 0 } = options;
  const hash = streamHasher(size);
  let body: Readable;
  try {
    body = (options.first?.take() ?? (await openObject(s3, object, undefined, options.signal))).body;
  } catch (error) {
    hash.abort();
    throw error;
  }
  const kept: Buffer[] = [];
  const watch = watchStall(stallMs, () => body.destroy(new Error(`no bytes for ${stallMs} ms`)));
  try {
    for await (const chunk of body) {
      watch.progress();
      if (options.keep) kept.push(chunk as Buffer);
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
  const sha256Base64 = await hash.digest();
  if (!options.keep) return { sha256Base64 };
  const bytes = Buffer.concat(kept);
  if (size > 0 && bytes.length !== size)
    throw new RetryableError(ErrorCode.NETWORK, `read ${bytes.length} bytes of the object, expected ${size}`);
  return { sha256Base64, bytes };
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

/** The object version a notification is about, and the opened object when identifying it read it. */
export interface IdentifiedVersion {
  readonly object: {
    bucket: string;
    key: string;
    versionId?: string;
    eTag: string;
    size: number;
    sequencer?: string;
  };
  /** The version opened (its head and paused body) when the notification did not name it; else undefined. */
  readonly opened: OpenedVersion | undefined;
}

const unquote = (eTag: string) => eTag.replaceAll('"', '');

/** The opened version when it is the one wanted; else its body is let go. */
function keepIf(wanted: boolean, opened: OpenedVersion): OpenedVersion | undefined {
  if (wanted) return opened;
  opened.dispose();
  return undefined;
}

/**
 * The identity of the object version a notification announces, taken from the object, never from a
 * timestamp. S3 names the version in the notification of a versioned bucket; where it does not (an
 * emulator, or a replayed message), the object says: the current version when its ETag is the one
 * notified, else the newest version with that ETag. On an unversioned bucket the identity is the
 * ETag, the size and the event's sequencer.
 */
export async function identifyVersion(
  s3: S3Client,
  notified: NotifiedObject,
  options: { readonly checksum?: boolean; readonly signal?: AbortSignal } = {},
): Promise<IdentifiedVersion> {
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
      opened: undefined,
    };
  }
  // The current version's GetObject stands in for a head: its body is the upload's first read.
  const opened = await openVersion(s3, base, options);
  const { head } = opened;
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
      opened: keepIf(eTag === current, opened),
    };
  }
  if (!notified.eTag || unquote(notified.eTag) === current) {
    return {
      object: { ...base, versionId: head.versionId as string, eTag: current, size: head.size },
      opened,
    };
  }
  opened.dispose();
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
        opened: undefined,
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
