import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CallRecorder } from './call-log';
import { type FaultRegistry, injectedReply, TRUNCATED_JSON } from './faults';
import { header, jsonReply, type Reply, type Sleep, s3ErrorReply, sendReply } from './http-util';
import type { ObjectStore, StoredBytes, StoredObject } from './object-store';
import { createDigest, drain, type PendingBodies, streamBody } from './receive';
import type { RegisterJudge } from './register-judge';
import type { UrlSigner } from './s3-presign';
import { SNIFF_BYTES } from './sniff';
import type { CallRecord, SandboxVendor } from './types';

/** S3's ceiling for one PUT (a whole object, or one part). */
const MAX_PUT_BYTES = 5 * 1024 ** 3;

/** What the upload endpoint works with. */
export interface UploadDeps {
  store: ObjectStore;
  signer: UrlSigner;
  faults: FaultRegistry;
  recorder: CallRecorder;
  sleep: Sleep;
  /** The vendor's cap on a single (non-multipart) PUT, exclusive, if it has one. */
  singleUploadLimit(vendor: SandboxVendor): number | undefined;
  /** Sockets whose upload body is still arriving (see {@link PendingBodies}). */
  pendingBodies: PendingBodies;
}

/** `IncompleteBody`, as S3 answers a body shorter than its Content-Length. */
export const INCOMPLETE_BODY = s3ErrorReply(
  400,
  'IncompleteBody',
  'You did not provide the number of bytes specified by the Content-Length HTTP header.',
);

/**
 * A PUT to a presigned URL, handled as S3 handles one: framing first (411, 501), then expiry and
 * signature, then the body, hashed (SHA-256 and MD5) while it streams and dropped but for the first
 * {@link SNIFF_BYTES}. Only a body received whole is stored; a second successful PUT overwrites.
 */
export async function handleUpload(
  req: IncomingMessage,
  res: ServerResponse,
  record: CallRecord,
  objectId: string | undefined,
  deps: UploadDeps,
): Promise<void> {
  const known = objectId === undefined ? undefined : deps.store.get(objectId);
  if (known !== undefined) {
    record.fileName = known.fileName;
    record.ref = known.ref ?? known.objectId;
  }
  const answer = (reply: Reply): void => {
    record.status = reply.status;
    if (reply.error !== undefined) record.error = reply.error;
    sendReply(res, reply);
  };

  const contentLength = header(req.headers, 'content-length');
  if (req.method === 'PUT') {
    if (header(req.headers, 'transfer-encoding') !== undefined) {
      return answer(
        s3ErrorReply(
          501,
          'NotImplemented',
          'A header you provided implies functionality that is not implemented',
          {
            Header: 'Transfer-Encoding',
          },
        ),
      );
    }
    if (contentLength === undefined) {
      return answer(
        s3ErrorReply(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.'),
      );
    }
  }
  const length = Number(contentLength ?? 0);

  const action = deps.faults.take(record.vendor, 'upload', record.fileName);
  if (action !== undefined) record.fault = action.kind;
  switch (action?.kind) {
    case 'delay':
      await deps.sleep(action.ms);
      break;
    case 'status':
      await drain(req);
      return answer(
        injectedReply(action, s3ErrorReply(action.status, s3CodeFor(action.status), 'Injected fault')),
      );
    case 'malformed-json':
      await drain(req);
      return answer({ ...jsonReply(200, null), body: TRUNCATED_JSON });
    case 'hang':
      req.resume();
      return;
    case 'reset':
      // The connection drops mid-body: the client has sent about half, nothing is stored.
      await receive(req, length, deps, record, Math.floor(length / 2));
      return;
    default:
      break;
  }
  // reset-after-commit: everything happens, then the answer is lost.
  const conclude =
    action?.kind === 'reset-after-commit'
      ? (reply: Reply) => {
          if (reply.error !== undefined) record.error = reply.error;
          req.socket.destroy();
        }
      : answer;

  const verified = deps.signer.verify(req.method ?? '', req.url ?? '', req.headers, Date.now());
  if (!verified.ok) return conclude(verified.reply);
  const { target } = verified;
  const object = deps.store.get(target.objectId);
  if (object === undefined || object.bucket !== target.bucket) {
    // Validly signed but unknown: the sandbox was reset since the URL was issued.
    return conclude(s3ErrorReply(403, 'AccessDenied', 'Access Denied'));
  }
  const refusal = refuseTarget(object, target.partNumber, target.uploadId, length, deps);
  if (refusal !== undefined) return conclude(refusal);

  const contentType = header(req.headers, 'content-type') ?? '';
  const judge = target.partNumber === undefined ? object.judge?.() : undefined;
  const bytes = await receive(req, length, deps, record, undefined, contentType, judge);
  if (bytes === undefined) return;
  if (target.partNumber !== undefined && object.multipart !== undefined) {
    object.multipart.parts.set(target.partNumber, bytes);
  } else {
    object.single = bytes;
  }
  deps.recorder.addUpload({
    vendor: object.vendor,
    objectId: object.objectId,
    fileName: object.fileName,
    ...(target.partNumber === undefined ? {} : { partNumber: target.partNumber }),
    size: bytes.size,
    sha256Hex: bytes.sha256Hex,
    sha256Base64: bytes.sha256Base64,
    md5Hex: bytes.md5Hex,
    contentType,
    at: bytes.at,
  });
  conclude({ status: 200, headers: { etag: `"${bytes.md5Hex}"` }, body: '' });
}

/** Why S3 would refuse this PUT to a validly signed URL, if it would. */
function refuseTarget(
  object: StoredObject,
  partNumber: number | undefined,
  uploadId: string | undefined,
  length: number,
  deps: UploadDeps,
): Reply | undefined {
  if (length > MAX_PUT_BYTES) {
    return s3ErrorReply(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
      ProposedSize: length,
      MaxSizeAllowed: MAX_PUT_BYTES,
    });
  }
  const multipart = object.multipart;
  if (multipart !== undefined) {
    if (partNumber === undefined || uploadId !== multipart.uploadId || multipart.completed !== undefined) {
      return s3ErrorReply(
        404,
        'NoSuchUpload',
        'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
        { UploadId: uploadId ?? '' },
      );
    }
    return undefined;
  }
  const limit = deps.singleUploadLimit(object.vendor);
  if (limit !== undefined && length >= limit) {
    return s3ErrorReply(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
      ProposedSize: length,
      MaxSizeAllowed: limit - 1,
    });
  }
  return undefined;
}

/**
 * Streams the body through SHA-256 and MD5 (and the object's judge), keeping only its head. Resolves
 * `undefined` when fewer than `length` bytes arrive (client gone, or `dropAt` reached: the socket is
 * destroyed there).
 */
async function receive(
  req: IncomingMessage,
  length: number,
  deps: UploadDeps,
  record: CallRecord,
  dropAt?: number,
  contentType = '',
  judge?: RegisterJudge,
): Promise<StoredBytes | undefined> {
  const digest = createDigest(length, contentType, judge);
  const whole = await streamBody(req, (chunk) => digest.write(chunk), {
    length,
    record,
    pending: deps.pendingBodies,
    incomplete: INCOMPLETE_BODY,
    ...(dropAt === undefined ? {} : { dropAt }),
  });
  return whole ? digest.finish() : undefined;
}

function s3CodeFor(status: number): string {
  if (status === 403) return 'AccessDenied';
  if (status === 404) return 'NoSuchKey';
  if (status === 500) return 'InternalError';
  if (status === 503) return 'SlowDown';
  return status >= 500 ? 'ServiceUnavailable' : 'InvalidRequest';
}
