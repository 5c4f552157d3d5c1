import { createHash } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How {@link UploadTargetServer.failNext} makes a request fail. */
export type UploadFailureKind =
  /** Reads the whole body, then answers `500 InternalError` (S3's "We encountered an internal error"). */
  | 'status-500'
  /** Reads part of the body (the first chunk at most), then destroys the socket without an answer. */
  | 'reset';

/** What the target did with a request. */
export type UploadOutcome =
  /** Body received whole, answered 200 (or the status set by `succeedWith`) with an ETag. */
  | 'stored'
  /** Refused before the body was read: 411, 501 or 403. */
  | 'refused'
  /** An injected failure (`failNext`). */
  | 'failed'
  /** The client went away before the body was complete. */
  | 'incomplete';

/** One request as the target saw it. */
export interface ReceivedUpload {
  readonly method: string;
  /** The URL path, without the query string. */
  readonly path: string;
  /** The query string including `?`, or `''`. */
  readonly search: string;
  /** Request headers, lower-case names, as Node parsed them. */
  readonly headers: IncomingHttpHeaders;
  /** Body bytes received (0 for a request refused before its body was read). */
  readonly bytes: number;
  /** Hex SHA-256 of the bytes received. */
  readonly sha256: string;
  /** Hex MD5 of the bytes received; a stored body's ETag is this value in double quotes. */
  readonly md5: string;
  /** Status answered, or `undefined` when the connection was dropped without an answer. */
  readonly status: number | undefined;
  /** S3 error code answered (`SignatureDoesNotMatch` …), if any. */
  readonly errorCode: string | undefined;
  readonly outcome: UploadOutcome;
}

/**
 * A loopback HTTP server that answers PUTs the way an S3 presigned-URL endpoint does, for tests of the
 * streaming uploader. Checks run in S3's order: framing (`Transfer-Encoding` → 501 `NotImplemented`,
 * no `Content-Length` → 411 `MissingContentLength`), then injected failures, then expiry (403
 * `AccessDenied` "Request has expired"), then the signed Content-Type (403 `SignatureDoesNotMatch`).
 * A body that passes is streamed through SHA-256 and MD5 (never buffered) and answered
 * `200` with `ETag: "<md5 hex>"`. Any path is accepted; the query string is ignored.
 */
export interface UploadTargetServer {
  /** Origin of the server, e.g. `http://127.0.0.1:49152` (no trailing slash). */
  readonly url: string;
  /** `127.0.0.1:<port>`: the allow-list pattern that admits this server. */
  readonly hostPattern: string;
  /** Every request so far, in the order they finished (answered or dropped). */
  readonly requests: readonly ReceivedUpload[];
  /** Requests being handled right now. */
  readonly inFlight: number;
  /** The highest number of requests handled at the same time since start (or {@link resetStats}). */
  readonly maxInFlight: number;
  /** An absolute URL on this server for `path` (must start with `/`), with an optional query string. */
  urlFor(path: string, query?: Readonly<Record<string, string>>): string;
  /** Requests to `path` must carry exactly this Content-Type, as if the URL had been signed with it. */
  setContentType(path: string, contentType: string): void;
  /** Requests to `path` are answered 403 `AccessDenied` "Request has expired". */
  expire(path: string): void;
  /** The next `count` requests that pass the framing checks fail the given way. */
  failNext(count: number, kind: UploadFailureKind): void;
  /** A stored body at `path` is answered with this 2xx status instead of 200 (Azure Blob answers 201). */
  succeedWith(path: string, status: number): void;
  /** Hold every answer this long after the body has been read, so concurrent requests overlap. */
  setLatency(ms: number): void;
  /** Forget recorded requests and the in-flight high-water mark. */
  resetStats(): void;
  /** Drops every open connection and stops listening. */
  close(): Promise<void>;
}

function s3Error(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>`;
}

/** Starts an {@link UploadTargetServer} on an ephemeral port of 127.0.0.1. */
export async function startUploadTarget(): Promise<UploadTargetServer> {
  const requests: ReceivedUpload[] = [];
  const contentTypes = new Map<string, string>();
  const expired = new Set<string>();
  const successStatus = new Map<string, number>();
  const failures: UploadFailureKind[] = [];
  let latencyMs = 0;
  let inFlight = 0;
  let maxInFlight = 0;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const { pathname: path, search } = new URL(req.url ?? '/', 'http://target.invalid');
    const sha256 = createHash('sha256');
    const md5 = createHash('md5');
    let bytes = 0;
    let settled = false;
    const finish = (outcome: UploadOutcome, status: number | undefined, errorCode?: string): void => {
      if (settled) return;
      settled = true;
      inFlight--;
      requests.push({
        method: req.method ?? '',
        path,
        search,
        headers: req.headers,
        bytes,
        sha256: sha256.digest('hex'),
        md5: md5.digest('hex'),
        status,
        errorCode,
        outcome,
      });
    };
    // Closed before an answer was sent: the client went away (or was dropped) mid-request.
    res.on('close', () => finish('incomplete', undefined));
    const refuse = (status: number, code: string, message: string): void => {
      // S3 answers before reading the body and closes the connection; the rest of the body is discarded.
      res.writeHead(status, { 'content-type': 'application/xml', connection: 'close' });
      res.end(s3Error(code, message));
      req.resume();
      finish('refused', status, code);
    };

    if (req.headers['transfer-encoding'] !== undefined) {
      refuse(501, 'NotImplemented', 'A header you provided implies functionality that is not implemented');
      return;
    }
    if (req.headers['content-length'] === undefined) {
      refuse(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.');
      return;
    }

    const failure = failures.shift();
    if (failure === 'reset') {
      if (req.headers['content-length'] === '0') {
        finish('failed', undefined);
        req.socket.destroy();
        return;
      }
      req.once('data', (chunk: Buffer) => {
        bytes += chunk.length;
        sha256.update(chunk);
        md5.update(chunk);
        finish('failed', undefined);
        req.socket.destroy();
      });
      return;
    }
    if (!failure && expired.has(path)) {
      refuse(403, 'AccessDenied', 'Request has expired');
      return;
    }
    const signedType = contentTypes.get(path);
    if (!failure && signedType !== undefined && req.headers['content-type'] !== signedType) {
      refuse(
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      );
      return;
    }

    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      sha256.update(chunk);
      md5.update(chunk);
    });
    req.on('error', () => finish('incomplete', undefined));
    req.on('end', () => {
      const answer = (): void => {
        if (settled) return;
        if (failure === 'status-500') {
          res.writeHead(500, { 'content-type': 'application/xml' });
          res.end(s3Error('InternalError', 'We encountered an internal error. Please try again.'));
          finish('failed', 500, 'InternalError');
          return;
        }
        const status = successStatus.get(path) ?? 200;
        // Digest a copy: `finish` digests the originals for the record.
        res.writeHead(status, { etag: `"${md5.copy().digest('hex')}"`, 'content-length': '0' });
        res.end();
        finish('stored', status);
      };
      if (latencyMs > 0) setTimeout(answer, latencyMs);
      else answer();
    });
  };

  const server = http.createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  return {
    url: origin,
    hostPattern: `127.0.0.1:${port}`,
    requests,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    urlFor(path, query) {
      const url = new URL(path, origin);
      for (const [name, value] of Object.entries(query ?? {})) url.searchParams.set(name, value);
      return url.toString();
    },
    setContentType(path, contentType) {
      contentTypes.set(path, contentType);
    },
    expire(path) {
      expired.add(path);
    },
    failNext(count, kind) {
      for (let i = 0; i < count; i++) failures.push(kind);
    },
    succeedWith(path, status) {
      successStatus.set(path, status);
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    resetStats() {
      requests.length = 0;
      maxInFlight = inFlight;
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
