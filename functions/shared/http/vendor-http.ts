import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { VendorHttp, VendorRequest, VendorResponse } from '../../vendors/types';
import { AmbiguousOutcomeError, ErrorCode, PermanentError, RetryableError, TimeoutError } from '../errors';
import { redactor, redactUrl } from '../redact';

/** Limits concurrent calls (e.g. CleverTap's per-account cap). `acquire` resolves to a release function. */
export interface CallLimiter {
  acquire(): Promise<() => Promise<void>>;
}

/** One finished call, for logs and metrics; never sees secrets or signed query strings. */
export interface CallInfo {
  readonly operation: string;
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly ms: number;
  /** The call was sent a second time after a stale keep-alive connection. */
  readonly retriedStaleConnection?: boolean;
}

export interface VendorHttpOptions {
  readonly baseUrl: string;
  /** Default per-call timeout, ms. */
  readonly timeoutMs: number;
  readonly limiter?: CallLimiter | undefined;
  readonly onCall?: ((info: CallInfo) => void) | undefined;
  /** Stop before this epoch ms (the Lambda's remaining time). */
  readonly deadline?: (() => number) | undefined;
  /** Keep-alive agents; a warm function reuses connections to the vendor across invocations. @default shared */
  readonly agents?: { readonly http: http.Agent; readonly https: https.Agent };
}

/** Largest answer body read, bytes: vendor JSON answers are small; anything bigger is not one. */
const MAX_ANSWER_BYTES = 1024 * 1024;

/** Connections to vendor APIs, kept alive across calls and warm invocations. */
const SHARED_AGENTS = {
  http: new http.Agent({ keepAlive: true, maxSockets: 32 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 32 }),
};

/** Transport errors raised before a request could reach the server: safe to retry for any call. */
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'ECONNABORTED',
]);

/** What a server closing an idle keep-alive connection under our request looks like. */
const STALE_CONNECTION = new Set(['ECONNRESET', 'EPIPE']);

function buildUrl(baseUrl: string, request: VendorRequest): URL {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const url = new URL(request.path.replace(/^\//, ''), base);
  if (url.origin !== new URL(baseUrl).origin) {
    // A path built from route options or a vendor answer must not point the credentials elsewhere.
    throw new PermanentError(
      ErrorCode.ROUTE_CONFIG_INVALID,
      `${request.operation}: path leaves the vendor origin`,
    );
  }
  for (const [name, value] of Object.entries(request.query ?? {})) {
    if (value !== undefined) url.searchParams.set(name, String(value));
  }
  return url;
}

function parseBody(text: string, contentType: string): unknown {
  const looksJson = /json/i.test(contentType) || /^\s*[[{]/.test(text);
  if (!looksJson || text.length === 0) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** How one attempt ended without an answer. */
class TransportFailure extends Error {
  override readonly name: string = 'TransportFailure';

  constructor(
    override readonly cause: unknown,
    /** The request may have reached the server. */
    readonly sent: boolean,
    /** It went out on a connection an earlier call had used. */
    readonly reused: boolean,
    readonly timedOut: boolean,
    /** Some bytes of the answer arrived before it broke. */
    readonly answered: boolean,
  ) {
    super('transport failure');
  }

  get code(): string | undefined {
    let current: unknown = this.cause;
    for (let depth = 0; depth < 5 && current; depth++) {
      const code = (current as { code?: unknown }).code;
      if (typeof code === 'string') return code;
      current = (current as { cause?: unknown }).cause;
    }
    return undefined;
  }
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly text: string;
}

/** One HTTP exchange; resolves with the whole (bounded) answer or rejects with a {@link TransportFailure}. */
function exchange(
  url: URL,
  init: { method: string; headers: Record<string, string>; body: string | undefined; timeoutMs: number },
  agent: http.Agent | false,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const transport = url.protocol === 'https:' ? https : http;
    const signal = AbortSignal.timeout(init.timeoutMs);
    let connected = false;
    let answered = false;
    let settled = false;
    const req = transport.request(url, { method: init.method, headers: init.headers, agent, signal });
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      const timedOut = signal.aborted;
      reject(
        new TransportFailure(error, connected || req.reusedSocket, req.reusedSocket, timedOut, answered),
      );
    };
    req.on('socket', (socket) => {
      if (req.reusedSocket || !socket.connecting) connected = true;
      else socket.once('connect', () => (connected = true));
    });
    req.on('error', fail);
    req.on('response', (response: IncomingMessage) => {
      answered = true;
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) {
          response.destroy(new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      response.on('error', fail);
      response.on('aborted', () => fail(new Error('answer cut off')));
      response.on('end', () => {
        if (settled) return;
        settled = true;
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(response.headers)) {
          if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
        }
        resolve({ status: response.statusCode ?? 0, headers, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.end(init.body);
  });
}

/**
 * The JSON API client handed to adapters, on `node:http(s)` with keep-alive connections. Transport
 * failures become the error taxonomy: a request that never reached the server is a plain retryable
 * `VENDOR_UNREACHABLE`; one that was sent but got no answer (timeout, reset) is an
 * {@link AmbiguousOutcomeError}, because the vendor may have acted. A call that hits a keep-alive
 * connection the server had already closed (ECONNRESET before any byte of the answer) is sent once
 * more at once on a fresh connection when repeating it is harmless ({@link VendorRequest.idempotent}).
 */
export function createVendorHttp(options: VendorHttpOptions): VendorHttp {
  const agents = options.agents ?? SHARED_AGENTS;
  return {
    async request(request: VendorRequest): Promise<VendorResponse> {
      const url = buildUrl(options.baseUrl, request);
      const safeUrl = redactUrl(url.toString());
      let timeoutMs = request.timeoutMs ?? options.timeoutMs;
      if (options.deadline) {
        const left = options.deadline() - Date.now();
        if (left <= 0)
          throw new TimeoutError(`${request.operation}: no time left before the function times out`);
        timeoutMs = Math.floor(Math.min(timeoutMs, left));
      }
      const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
      let body: string | undefined;
      if (request.json !== undefined) {
        body = JSON.stringify(request.json);
        headers['content-type'] ??= 'application/json';
      } else if (request.form !== undefined) {
        body = new URLSearchParams(request.form).toString();
        headers['content-type'] ??= 'application/x-www-form-urlencoded';
      }
      if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
      const idempotent = request.idempotent ?? request.method === 'GET';
      const agent = url.protocol === 'https:' ? agents.https : agents.http;
      const init = { method: request.method, headers, body, timeoutMs };
      const what = `${request.operation} ${request.method} ${safeUrl}`;

      const release = options.limiter ? await options.limiter.acquire() : undefined;
      const started = Date.now();
      let retried = false;
      try {
        let answer: Answer;
        try {
          answer = await exchange(url, init, agent);
        } catch (error) {
          const stale =
            error instanceof TransportFailure &&
            error.reused &&
            !error.answered &&
            !error.timedOut &&
            STALE_CONNECTION.has(error.code ?? '');
          if (!stale || !idempotent) throw error;
          // The server closed the idle connection as we used it; a fresh one settles it.
          retried = true;
          answer = await exchange(
            url,
            { ...init, timeoutMs: Math.max(1, timeoutMs - (Date.now() - started)) },
            false,
          );
        }
        options.onCall?.({
          operation: request.operation,
          method: request.method,
          url: safeUrl,
          status: answer.status,
          ms: Date.now() - started,
          ...(retried ? { retriedStaleConnection: true } : {}),
        });
        return {
          status: answer.status,
          headers: answer.headers,
          body: parseBody(answer.text, answer.headers['content-type'] ?? ''),
          text: redactor.text(answer.text.slice(0, 2000)),
        };
      } catch (error) {
        if (!(error instanceof TransportFailure)) throw error;
        const code = error.code;
        if (error.timedOut) {
          throw new AmbiguousOutcomeError(`${what}: no answer within ${timeoutMs} ms`, {
            cause: error.cause,
          });
        }
        if (!error.sent || (code !== undefined && NOT_SENT.has(code) && !error.reused)) {
          throw new RetryableError(ErrorCode.VENDOR_UNREACHABLE, `${what}: ${code ?? 'connection failed'}`, {
            cause: error.cause,
          });
        }
        throw new AmbiguousOutcomeError(
          `${what}: ${error.answered ? 'answer cut off' : `connection failed after sending (${code ?? 'unknown'})`}`,
          { cause: error.cause },
        );
      } finally {
        await release?.();
      }
    },
  };
}
