import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

/** An answer a handler has decided on; the dispatcher sends it (or, under a fault, does not). */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Why the call was refused, for the call log. */
  error?: string;
  /** Vendor id created or referenced, for the call log. */
  ref?: string;
  /** File the call concerns, when the handler learnt it. */
  fileName?: string;
}

/** A JSON answer. `error` (for the call log) is set by the caller on refusals. */
export function jsonReply(status: number, value: unknown, error?: string): Reply {
  return withError(
    { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) },
    error,
  );
}

/** A plain-text answer. */
export function textReply(status: number, text: string, error?: string): Reply {
  return withError({ status, headers: { 'content-type': 'text/plain;charset=UTF-8' }, body: text }, error);
}

/** An S3 error document, as S3 answers every refused request. */
export function s3ErrorReply(
  status: number,
  code: string,
  message: string,
  extra: Record<string, string | number> = {},
): Reply {
  const fields = Object.entries(extra)
    .map(([key, value]) => `<${key}>${xmlEscape(String(value))}</${key}>`)
    .join('');
  const requestId = Math.random().toString(16).slice(2, 18).toUpperCase();
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message>` +
    `${fields}<RequestId>${requestId}</RequestId></Error>`;
  return { status, headers: { 'content-type': 'application/xml' }, body, error: `${code}: ${message}` };
}

function withError(reply: Reply, error: string | undefined): Reply {
  return error === undefined ? reply : { ...reply, error };
}

const XML_ENTITIES: Readonly<Record<string, string>> = {
  '<': '&lt;',
  '>': '&gt;',
  '&': '&amp;',
  "'": '&apos;',
  '"': '&quot;',
};

function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => XML_ENTITIES[c] ?? c);
}

/** Writes `reply` unless the socket is already gone. */
export function sendReply(res: ServerResponse, reply: Reply): void {
  if (res.destroyed || res.headersSent) return;
  res.writeHead(reply.status, { ...reply.headers, 'content-length': Buffer.byteLength(reply.body) });
  res.end(reply.body);
}

/** Largest JSON request body the vendor APIs take; their bodies are a few hundred bytes. */
export const MAX_API_BODY = 1024 * 1024;

/** The request body as UTF-8 text, or `undefined` when it is larger than `limit` bytes. */
export async function readText(req: IncomingMessage, limit = MAX_API_BODY): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A header's single value (`undefined` when absent; the first when repeated). */
export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** True when the request declares a JSON body (`application/json`, parameters allowed). */
export function isJsonContentType(headers: IncomingHttpHeaders): boolean {
  const type = header(headers, 'content-type')?.split(';')[0]?.trim().toLowerCase();
  return type === 'application/json';
}

/** `text` parsed as JSON, or `undefined` when it is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Resolves after `ms`; the timer is tracked so `close()` can cancel it (the promise then never settles). */
export type Sleep = (ms: number) => Promise<void>;

/** The string at `keys` inside a parsed JSON value, or `undefined` (for identifying calls before validation). */
export function stringAt(value: unknown, ...keys: Array<string | number>): string | undefined {
  let at: unknown = value;
  for (const key of keys) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = (at as Record<string | number, unknown>)[key];
  }
  return typeof at === 'string' ? at : undefined;
}
