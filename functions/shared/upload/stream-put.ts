import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  ErrorCode,
  PermanentError,
  type PipelineError,
  RetryableError,
  TimeoutError,
  UploadUrlExpiredError,
} from '../errors';
import { redactUrl } from '../redact';
import { watchStall } from './stall';

/** Keep-alive agents shared across invocations of a warm function. */
const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 64 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 64 }),
};

export interface StreamPutRequest {
  readonly url: URL;
  /** Signed headers (Content-Type …). `Content-Length` is set from `contentLength`. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Readable;
  /** Exact byte count of `body`. Sent as Content-Length: presigned S3 URLs refuse chunked bodies (501). */
  readonly contentLength: number;
  readonly signal?: AbortSignal | undefined;
  /** HTTP method of the upload: PUT for presigned S3-style URLs, POST for upload URLs such as Slack's. @default PUT */
  readonly method?: 'PUT' | 'POST';
  /** Abort when no byte moves (read from the source, taken by the vendor, or answered) for this long, ms. */
  readonly stallMs?: number | undefined;
}

export interface StreamPutResult {
  readonly status: number;
  readonly eTag: string | undefined;
}

const XML_CODE = /<Code>([^<]+)<\/Code>/;
const XML_MESSAGE = /<Message>([^<]+)<\/Message>/;

/** Maps an S3-style error answer of a presigned PUT to the taxonomy. */
export function classifyUploadAnswer(status: number, body: string, shownUrl: string): PipelineError {
  const code = XML_CODE.exec(body)?.[1];
  const message = XML_MESSAGE.exec(body)?.[1];
  const text = `upload to ${shownUrl}: HTTP ${status}${code ? ` ${code}` : ''}${message ? ` — ${message}` : ''}`;
  const options = { status, vendorCode: code };
  if (status === 403 && (code === 'AccessDenied' || code === undefined) && /expired/i.test(message ?? body)) {
    return new UploadUrlExpiredError(text, options);
  }
  // 501 NotImplemented (a chunked body, an unsupported header) fails the same way every time.
  if (status === 501) return new PermanentError(ErrorCode.UPLOAD_REJECTED, text, options);
  if (status === 408 || status === 429 || status >= 500 || code === 'RequestTimeout' || code === 'SlowDown') {
    return new RetryableError(ErrorCode.VENDOR_UNAVAILABLE, text, options);
  }
  return new PermanentError(ErrorCode.UPLOAD_REJECTED, text, options);
}

function readSmallBody(response: IncomingMessage, limit = 8192): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      if (text.length < limit) text += chunk;
    });
    response.on('end', () => resolve(text.slice(0, limit)));
    response.on('error', () => resolve(text.slice(0, limit)));
  });
}

/**
 * PUTs a stream to a presigned URL with `node:http(s)` and `stream.pipeline`: the body flows with
 * back-pressure, so memory stays flat whatever the size (Node `fetch` keeps a streamed body in
 * memory unless redirects are disabled). The source is destroyed on every failure path so an S3
 * socket is never leaked.
 */
export async function streamPut(request: StreamPutRequest): Promise<StreamPutResult> {
  const { url, body, contentLength, signal } = request;
  const shown = redactUrl(url.toString());
  const transport = url.protocol === 'https:' ? https : http;
  const agent = agents[url.protocol as 'http:' | 'https:'];
  const headers: Record<string, string> = { ...request.headers, 'content-length': String(contentLength) };

  if (signal?.aborted) {
    body.destroy();
    throw new TimeoutError(`upload to ${shown}: aborted before start`);
  }

  const req = transport.request(url, { method: request.method ?? 'PUT', headers, agent, signal });
  // Who stalled decides the error: the vendor not taking bytes (or not answering once it has them
  // all) is vendor-side; the source not giving any is ours (S3).
  let stalledSide: 'vendor' | 'source' | undefined;
  const watch = watchStall(request.stallMs, () => {
    stalledSide = req.writableFinished || req.writableNeedDrain ? 'vendor' : 'source';
    const error = new Error(`no bytes moved for ${request.stallMs} ms`);
    req.destroy(error);
    body.destroy(error);
  });
  body.on('data', () => watch.progress());
  // Which end failed first: the source (S3) failing makes the request fail too, and the other way round.
  let requestFailed = false;
  let sourceFailed = false;
  req.once('error', () => {
    requestFailed = true;
  });
  body.once('error', () => {
    if (!requestFailed) sourceFailed = true;
  });
  req.on('drain', () => watch.progress());
  req.on('finish', () => watch.progress());
  const answered = new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  // Swallow the pipeline's own rejection: the request's error or the response decides the outcome.
  let pipelineError: unknown;
  const sent = pipeline(body, req).catch((error: unknown) => {
    pipelineError = error;
  });

  let response: IncomingMessage;
  try {
    response = await answered;
  } catch (error) {
    watch.stop();
    body.destroy();
    await sent;
    const cause = pipelineError ?? error;
    if (stalledSide === 'vendor') {
      throw new RetryableError(
        ErrorCode.VENDOR_UNREACHABLE,
        `upload to ${shown}: the upload host took no bytes (or gave no answer) for ${request.stallMs} ms`,
        { cause },
      );
    }
    if (stalledSide === 'source') {
      throw new TimeoutError(`upload to ${shown}: the S3 body stopped flowing for ${request.stallMs} ms`, {
        cause,
      });
    }
    if (signal?.aborted || (error as { name?: string }).name === 'AbortError') {
      throw new TimeoutError(`upload to ${shown}: stopped before the function's time ran out`, { cause });
    }
    const code = (error as { code?: string }).code ?? (pipelineError as { code?: string } | undefined)?.code;
    if (sourceFailed) {
      throw new RetryableError(
        ErrorCode.NETWORK,
        `upload to ${shown}: the S3 body failed (${code ?? 'unknown'})`,
        {
          cause,
        },
      );
    }
    throw new RetryableError(
      ErrorCode.VENDOR_UNREACHABLE,
      `upload to ${shown}: connection failed (${code ?? 'unknown'})`,
      { cause },
    );
  }
  watch.stop();

  const status = response.statusCode ?? 0;
  // Any 2xx is success: S3 answers 200, Azure Blob's Put Blob answers 201.
  if (status < 200 || status > 299) {
    // The server may answer before it has read the whole body (403, 411, 501): stop sending.
    const text = await readSmallBody(response);
    body.destroy();
    req.destroy();
    await sent;
    throw classifyUploadAnswer(status, text, shown);
  }
  response.resume();
  await sent;
  if (pipelineError) {
    body.destroy();
    // The source failed mid-body although the vendor answered: S3's side.
    throw new RetryableError(ErrorCode.NETWORK, `upload to ${shown}: the S3 body failed`, {
      cause: pipelineError,
    });
  }
  const eTag = response.headers.etag;
  return { status, eTag: typeof eTag === 'string' ? eTag : undefined };
}
