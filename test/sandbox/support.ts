import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { Sandbox } from '../../sandbox/index';

/** A small valid CSV. */
export const CSV = Buffer.from('invoice,amount\nINV-1,100\nINV-2,250\n');
/** Starts like an XLSX (a zip archive). */
export const XLSX = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(60, 1)]);
/** Starts like an XLS (an OLE2 compound document). */
export const XLS = Buffer.concat([
  Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]),
  Buffer.alloc(60, 2),
]);
/** Not text, not a spreadsheet. */
export const BINARY = Buffer.from([0x00, 0xff, 0x00, 0x10, 0x7f, 0x00]);

export const XLSX_MIME = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** A file name no other test uses. */
export function uniqueName(extension: string): string {
  return `file-${Math.random().toString(36).slice(2, 10)}.${extension}`;
}

export function sha256Base64(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('base64');
}

export function md5Hex(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('hex');
}

/** A JSON API call; answers status, headers, raw text and parsed JSON (undefined when not JSON). */
export async function call(
  url: string,
  init: { method?: string; headers?: Record<string, string>; json?: unknown } = {},
): Promise<{ status: number; headers: Headers; text: string; body: unknown }> {
  const response = await fetch(url, {
    method: init.method ?? (init.json === undefined ? 'GET' : 'POST'),
    headers: { ...(init.json === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, text, body };
}

/** A PUT through fetch (always sends Content-Length for a Buffer body). */
export async function put(
  url: string,
  body: Buffer,
  contentType: string | undefined,
): Promise<{ status: number; etag: string | null; text: string }> {
  const response = await fetch(url, {
    method: 'PUT',
    body,
    headers: contentType === undefined ? {} : { 'content-type': contentType },
  });
  return { status: response.status, etag: response.headers.get('etag'), text: await response.text() };
}

/**
 * A PUT (or `method`) through node:http, for what fetch cannot send: no Content-Length, chunked encoding,
 * or a body shorter than declared (`send` fewer bytes, then half-close or destroy).
 */
export function rawPut(
  url: string,
  options: {
    headers: Record<string, string | number>;
    chunks: Buffer[];
    /** After the chunks: `end` the request normally, `half-close` the socket, or `destroy` it. */
    finish: 'end' | 'half-close' | 'destroy';
    /** Awaited before a half-close or destroy (e.g. until the sandbox has seen the request). */
    beforeFinish?: () => Promise<void>;
    /** @default 'PUT' */
    method?: string;
  },
): Promise<{ status: number; text: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = http.request(
      url,
      { method: options.method ?? 'PUT', headers: options.headers, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (part: string) => {
          text += part;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', (error) => resolve({ error: error.message }));
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    for (const chunk of options.chunks) req.write(chunk);
    if (options.finish === 'end') {
      req.end();
    } else {
      req.once('socket', (socket) => {
        const cut = (): void => {
          void (options.beforeFinish ?? (() => Promise.resolve()))().then(() =>
            options.finish === 'half-close' ? socket.end() : socket.destroy(),
          );
        };
        if (socket.connecting) socket.once('connect', cut);
        else cut();
      });
    }
  });
}

/** Polls `probe` until `done` holds (at most `attempts` times, `intervalMs` apart); returns every value seen. */
export async function pollUntil<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  { attempts = 100, intervalMs = 20 } = {},
): Promise<T[]> {
  const seen: T[] = [];
  for (let i = 0; i < attempts; i++) {
    const value = await probe();
    seen.push(value);
    if (done(value)) return seen;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(
    `condition not reached after ${attempts} attempts; last value ${JSON.stringify(seen.at(-1))}`,
  );
}

/** Resolves once the sandbox has recorded `count` calls matching `filter` (bounded). */
export async function waitForCalls(
  sandbox: Sandbox,
  filter: Parameters<Sandbox['log']['calls']>[0],
  count: number,
): Promise<void> {
  await pollUntil(
    async () => sandbox.log.calls(filter).length,
    (n) => n >= count,
    { attempts: 250, intervalMs: 10 },
  );
}

/** Header sets for each vendor, from the sandbox's credentials. */
export function auth(sandbox: Sandbox) {
  const { cleartax, clevertap, inspect, slack } = sandbox.credentials;
  return {
    gst: { 'x-cleartax-auth-token': cleartax.authToken },
    one: { 'x-clear-auth-token': cleartax.authToken, 'x-integration-id': cleartax.integrationId },
    clevertap: { 'x-account-id': clevertap.accountId, 'x-clevertap-token': clevertap.token },
    inspect: { authorization: `Bearer ${inspect.token}` },
    slack: { authorization: `Bearer ${slack.token}` },
  };
}

/**
 * Sends `head` (request line and headers, without the blank line) and `body` over a bare TCP socket,
 * then half-closes; answers the raw response text. For requests node:http will not form, such as a PUT
 * with neither Content-Length nor Transfer-Encoding.
 */
export function rawRequest(url: string, head: string[], body = ''): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => {
      socket.end(`${head.join('\r\n')}\r\nConnection: close\r\n\r\n${body}`);
    });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (part: string) => {
      text += part;
    });
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
}
