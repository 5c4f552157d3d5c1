import type { VendorHttp, VendorRequest, VendorResponse } from '../../vendors/types';
import { AmbiguousOutcomeError, ErrorCode, PermanentError, RetryableError, TimeoutError } from '../errors';
import { redactor, redactUrl } from '../redact';

/** Limits concurrent calls (e.g. CleverTap's per-account cap). `acquire` resolves to a release function. */
export interface CallLimiter {
  acquire(): Promise<() => Promise<void>>;
}

export interface VendorHttpOptions {
  readonly baseUrl: string;
  /** Default per-call timeout, ms. */
  readonly timeoutMs: number;
  readonly limiter?: CallLimiter | undefined;
  /** Called with each finished call (for logs and metrics); never sees secrets or signed query strings. */
  readonly onCall?:
    | ((info: { operation: string; method: string; url: string; status: number; ms: number }) => void)
    | undefined;
  /** Stop before this epoch ms (the Lambda's remaining time). */
  readonly deadline?: (() => number) | undefined;
  readonly fetch?: typeof fetch;
}

/** Transport errors raised before a request could reach the server: safe to retry for any call. */
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function causeCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

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

/**
 * The JSON API client handed to adapters. Transport failures become the error taxonomy: a request
 * that never reached the server is a plain retryable `NETWORK` error; one that was sent but got no
 * answer (timeout, reset) is an {@link AmbiguousOutcomeError}, because the vendor may have acted.
 */
export function createVendorHttp(options: VendorHttpOptions): VendorHttp {
  const doFetch = options.fetch ?? fetch;
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
      }
      const release = options.limiter ? await options.limiter.acquire() : undefined;
      const started = Date.now();
      try {
        let response: Response;
        try {
          response = await doFetch(url, {
            method: request.method,
            headers,
            body,
            // A vendor API answering with a redirect is unexpected; never follow one with our token.
            redirect: 'error',
            signal: AbortSignal.timeout(timeoutMs),
          });
        } catch (error) {
          const code = causeCode(error);
          const name = (error as { name?: string }).name;
          if (name === 'TimeoutError' || name === 'AbortError') {
            throw new AmbiguousOutcomeError(
              `${request.operation} ${request.method} ${safeUrl}: no answer within ${timeoutMs} ms`,
              {
                cause: error,
              },
            );
          }
          if (code && NOT_SENT.has(code)) {
            throw new RetryableError(
              ErrorCode.NETWORK,
              `${request.operation} ${request.method} ${safeUrl}: ${code}`,
              {
                cause: error,
              },
            );
          }
          throw new AmbiguousOutcomeError(
            `${request.operation} ${request.method} ${safeUrl}: connection failed after sending (${code ?? name ?? 'unknown'})`,
            { cause: error },
          );
        }
        let text: string;
        try {
          text = await response.text();
        } catch (error) {
          throw new AmbiguousOutcomeError(
            `${request.operation} ${request.method} ${safeUrl}: answer cut off`,
            { cause: error },
          );
        }
        const responseHeaders: Record<string, string> = {};
        response.headers.forEach((value, name) => {
          responseHeaders[name] = value;
        });
        options.onCall?.({
          operation: request.operation,
          method: request.method,
          url: safeUrl,
          status: response.status,
          ms: Date.now() - started,
        });
        return {
          status: response.status,
          headers: responseHeaders,
          body: parseBody(text, response.headers.get('content-type') ?? ''),
          text: redactor.text(text.slice(0, 2000)),
        };
      } finally {
        await release?.();
      }
    },
  };
}
