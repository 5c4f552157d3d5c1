import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { appendAction } from '../cli/audit';
import type { Target } from '../cli/target';
import { type ApiContext, type ApiRequest, type ConsoleAction, HttpError, routeApi } from './api';
import { consoleAssets } from './assets';
import { newToken, RequestGuard, SECURITY_HEADERS } from './security';
import { ChangeWatcher } from './watch';

/**
 * The operator console: a local web server over one stack (the local pipeline, or a deployed stack
 * with the operator's credentials). Its API handlers (api.ts) call the CLI's operations; the page
 * is the bundle of console/web/. It listens on 127.0.0.1 only; see security.ts for what it refuses.
 */

export interface ConsoleOptions {
  /** @default a free port */
  readonly port?: number;
  /** Who acts: recorded with every action, and in the ledger history by replay and resolve. */
  readonly operator: string;
  /** Actions are appended here as JSON lines (the operator-actions log the CLI appends to: cli/audit.ts). */
  readonly auditFile?: string;
  /** A line per action (the terminal). */
  readonly log?: (line: string) => void;
  /** How often the ledger and DLQs are looked at for live updates while a page listens, ms. */
  readonly watchMs?: number;
  /** A fixed token (tests); otherwise a new one per start. */
  readonly token?: string;
}

export interface ConsoleServer {
  /** The URL to open: it carries the token. */
  readonly url: string;
  readonly origin: string;
  readonly port: number;
  readonly token: string;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;

function send(res: ServerResponse, status: number, body: string | Buffer, contentType: string): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': contentType,
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, JSON.stringify(value), 'application/json; charset=utf-8');
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  if (req.method === 'GET' || req.method === 'HEAD') return undefined;
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/json'))
    throw new HttpError(415, 'send JSON (Content-Type: application/json)');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, 'request body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return chunks.length === 0 ? {} : (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
}

export async function startConsole(target: Target, options: ConsoleOptions): Promise<ConsoleServer> {
  const assets = await consoleAssets();
  const token = options.token ?? newToken();
  const actions: ConsoleAction[] = [];
  const watcher = new ChangeWatcher(target, options.watchMs ?? 1500);
  let guard: RequestGuard | undefined;

  const record = (action: ConsoleAction) => {
    actions.unshift(action);
    actions.length = Math.min(actions.length, 200);
    if (options.auditFile) appendAction(options.auditFile, action, target.description);
    options.log?.(
      `console: ${action.operator} ${action.action} ${action.subject}: ${action.ok ? action.result : `failed: ${action.error}`}`,
    );
    watcher.poke();
  };
  const context: ApiContext = { target, operator: options.operator, actions, record };

  const server = createServer((req, res) => {
    const refusal = guard ? guard.check(req) : { status: 503, reason: 'the console is starting' };
    if (refusal) {
      sendJson(res, refusal.status, { error: refusal.reason });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://console');
    if (url.pathname === '/api/events' && req.method === 'GET') {
      watcher.subscribe(req, res);
      return;
    }
    if (url.pathname.startsWith('/api/')) {
      void (async () => {
        try {
          const request: ApiRequest = {
            method: req.method ?? 'GET',
            path: url.pathname,
            query: url.searchParams,
            body: await readBody(req),
          };
          const out = await routeApi(context, request);
          if (out.kind === 'json') sendJson(res, 200, out.value);
          else {
            res.writeHead(200, {
              ...SECURITY_HEADERS,
              'content-type': out.contentType,
              'content-length': out.body.length,
              'cache-control': 'no-store',
              'content-disposition': `inline; filename="${out.fileName.replace(/["\\\r\n]/g, '_')}"`,
            });
            res.end(out.body);
          }
        } catch (error) {
          const status =
            error instanceof HttpError
              ? error.status
              : (error as { name?: string }).name === 'NotFoundError'
                ? 404
                : 500;
          sendJson(res, status, { error: error instanceof Error ? error.message : String(error) });
        }
      })();
      return;
    }
    const asset = req.method === 'GET' || req.method === 'HEAD' ? assets.get(url.pathname) : undefined;
    if (!asset) {
      sendJson(res, 404, { error: `no page ${url.pathname}` });
      return;
    }
    send(res, 200, asset.body, asset.contentType);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  guard = new RequestGuard(port, token);
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}/#token=${token}`,
    origin,
    port,
    token,
    async close() {
      watcher.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
