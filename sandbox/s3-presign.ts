import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { header, type Reply, s3ErrorReply } from './http-util';

/** Path prefix of every presigned URL (uploads and downloads): `/_s3/<bucket>/<objectId>/<fileName>`. */
export const S3_PATH_PREFIX = '/_s3/';

const ALGORITHM = 'AWS4-HMAC-SHA256';
/** A PUT URL signs the Content-Type it takes; a GET (download) URL signs only the host. */
const PUT_SIGNED_HEADERS = 'content-type;host';
const GET_SIGNED_HEADERS = 'host';
const ACCESS_KEY = 'ASIASANDBOXEXAMPLE01';
const REGION = 'ap-south-1';
/** S3's own cap on `X-Amz-Expires` (7 days). */
const MAX_EXPIRES_SECONDS = 604_800;

/** What a presigned URL is for. */
export interface PresignInput {
  /** `http://host:port` the URL points at (the sandbox, or the foreign listener under a fault). */
  origin: string;
  bucket: string;
  objectId: string;
  fileName: string;
  /** `PUT` (an upload, the default) or `GET` (a download link). */
  method?: 'PUT' | 'GET';
  /** The only `Content-Type` the PUT may carry (ignored for a GET). */
  contentType: string;
  expiresInSeconds: number;
  /** Epoch ms the URL is signed at; in the past for the `expired-url` fault. */
  signedAt: number;
  partNumber?: number;
  uploadId?: string;
}

/** A PUT whose signature, expiry and signed headers all hold. */
export interface VerifiedTarget {
  bucket: string;
  objectId: string;
  partNumber?: number;
  uploadId?: string;
}

/** Signs and verifies SigV4-shaped query URLs with a key only this sandbox knows. */
export interface UrlSigner {
  sign(input: PresignInput): string;
  /**
   * Checks a request the way S3 checks a presigned one: expiry, then the signature over method, path,
   * query (part number and upload id included), `Content-Type` (for a PUT URL) and `Host`. Returns the
   * refusal as an S3 error.
   */
  verify(
    method: string,
    rawUrl: string,
    headers: IncomingHttpHeaders,
    now: number,
  ): { ok: true; target: VerifiedTarget } | { ok: false; reply: Reply };
}

/** Creates a signer with a fresh random key. */
export function createUrlSigner(): UrlSigner {
  const key = randomBytes(32);

  function signature(stringToSign: string): string {
    return createHmac('sha256', key).update(stringToSign).digest('hex');
  }

  return {
    sign(input) {
      const amzDate = formatAmzDate(input.signedAt);
      const query = new Map<string, string>([
        ['X-Amz-Algorithm', ALGORITHM],
        ['X-Amz-Credential', `${ACCESS_KEY}/${amzDate.slice(0, 8)}/${REGION}/s3/aws4_request`],
        ['X-Amz-Date', amzDate],
        ['X-Amz-Expires', String(input.expiresInSeconds)],
        ['X-Amz-SignedHeaders', input.method === 'GET' ? GET_SIGNED_HEADERS : PUT_SIGNED_HEADERS],
      ]);
      if (input.partNumber !== undefined) query.set('partNumber', String(input.partNumber));
      if (input.uploadId !== undefined) query.set('uploadId', input.uploadId);
      const path = `${S3_PATH_PREFIX}${[input.bucket, input.objectId, input.fileName].map(uriEncode).join('/')}`;
      const host = new URL(input.origin).host;
      const canonical = canonicalRequest(input.method ?? 'PUT', path, query, input.contentType, host);
      const sig = signature(stringToSign(amzDate, canonical));
      return `${input.origin}${path}?${canonicalQuery(query)}&X-Amz-Signature=${sig}`;
    },

    verify(method, rawUrl, headers, now) {
      const queryAt = rawUrl.indexOf('?');
      const rawPath = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
      const query = parseQuery(queryAt === -1 ? '' : rawUrl.slice(queryAt + 1));
      const path = canonicalPath(rawPath);
      if (query === undefined || path === undefined) {
        return refuse(400, 'InvalidArgument', 'The request URI is not valid.');
      }
      if (![...query.keys()].some((name) => name.startsWith('X-Amz-'))) {
        // No presign parameters at all: S3 sees an anonymous PUT to a private bucket.
        return refuse(403, 'AccessDenied', 'Access Denied');
      }
      const provided = query.get('X-Amz-Signature');
      const amzDate = query.get('X-Amz-Date') ?? '';
      const signedAt = parseAmzDate(amzDate);
      const expires = Number(query.get('X-Amz-Expires'));
      const signedHeaders = query.get('X-Amz-SignedHeaders');
      if (
        query.get('X-Amz-Algorithm') !== ALGORITHM ||
        (signedHeaders !== PUT_SIGNED_HEADERS && signedHeaders !== GET_SIGNED_HEADERS) ||
        !query.has('X-Amz-Credential') ||
        provided === undefined ||
        signedAt === undefined ||
        !Number.isInteger(expires) ||
        expires < 1 ||
        expires > MAX_EXPIRES_SECONDS
      ) {
        return refuse(
          400,
          'AuthorizationQueryParametersError',
          'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
        );
      }
      const expiresAt = signedAt + expires * 1000;
      if (now > expiresAt) {
        return refuse(403, 'AccessDenied', 'Request has expired', {
          'X-Amz-Expires': expires,
          Expires: new Date(expiresAt).toISOString(),
          ServerTime: new Date(now).toISOString(),
        });
      }
      query.delete('X-Amz-Signature');
      const canonical = canonicalRequest(
        method,
        path,
        query,
        header(headers, 'content-type') ?? '',
        header(headers, 'host') ?? '',
      );
      const expected = Buffer.from(signature(stringToSign(amzDate, canonical)), 'utf8');
      const given = Buffer.from(provided, 'utf8');
      if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
        // S3 returns the canonical request it computed: it is how a client finds the header it got wrong.
        return refuse(
          403,
          'SignatureDoesNotMatch',
          'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
          { AWSAccessKeyId: ACCESS_KEY, CanonicalRequest: canonical },
        );
      }
      const segments = path.slice(S3_PATH_PREFIX.length).split('/').map(decodeURIComponent);
      const [bucket, objectId] = segments;
      if (bucket === undefined || objectId === undefined || segments.length !== 3) {
        return refuse(404, 'NoSuchKey', 'The specified key does not exist.');
      }
      const partNumber = query.get('partNumber');
      const uploadId = query.get('uploadId');
      return {
        ok: true,
        target: {
          bucket,
          objectId,
          ...(partNumber === undefined ? {} : { partNumber: Number(partNumber) }),
          ...(uploadId === undefined ? {} : { uploadId }),
        },
      };
    },
  };
}

function refuse(
  status: number,
  code: string,
  message: string,
  extra?: Record<string, string | number>,
): { ok: false; reply: Reply } {
  return { ok: false, reply: s3ErrorReply(status, code, message, extra) };
}

/** The canonical request; the query's `X-Amz-SignedHeaders` says whether the Content-Type is signed. */
function canonicalRequest(
  method: string,
  path: string,
  query: Map<string, string>,
  contentType: string,
  host: string,
): string {
  const signedHeaders = query.get('X-Amz-SignedHeaders') ?? PUT_SIGNED_HEADERS;
  const headers =
    signedHeaders === GET_SIGNED_HEADERS
      ? [`host:${host.trim()}`]
      : [`content-type:${contentType.trim()}`, `host:${host.trim()}`];
  return [method, path, canonicalQuery(query), ...headers, '', signedHeaders, 'UNSIGNED-PAYLOAD'].join('\n');
}

function stringToSign(amzDate: string, canonical: string): string {
  const scope = `${amzDate.slice(0, 8)}/${REGION}/s3/aws4_request`;
  return [ALGORITHM, amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
}

function canonicalQuery(query: Map<string, string>): string {
  return [...query.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${uriEncode(name)}=${uriEncode(value)}`)
    .join('&');
}

/** The path re-encoded segment by segment, so equivalent percent-encodings verify alike (as in SigV4). */
function canonicalPath(rawPath: string): string | undefined {
  try {
    return rawPath
      .split('/')
      .map((segment) => uriEncode(decodeURIComponent(segment)))
      .join('/');
  } catch {
    return undefined;
  }
}

/** Query parameters decoded; `undefined` when malformed or a name repeats. */
function parseQuery(rawQuery: string): Map<string, string> | undefined {
  const params = new Map<string, string>();
  if (rawQuery === '') return params;
  try {
    for (const pair of rawQuery.split('&')) {
      const at = pair.indexOf('=');
      const name = decodeURIComponent(at === -1 ? pair : pair.slice(0, at));
      const value = at === -1 ? '' : decodeURIComponent(pair.slice(at + 1));
      if (params.has(name)) return undefined;
      params.set(name, value);
    }
  } catch {
    return undefined;
  }
  return params;
}

/** SigV4 URI encoding: everything but the RFC 3986 unreserved characters. */
export function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function formatAmzDate(epochMs: number): string {
  return new Date(epochMs)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

function parseAmzDate(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (m === null) return undefined;
  const epoch = Date.UTC(
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6]),
  );
  return Number.isNaN(epoch) ? undefined : epoch;
}
