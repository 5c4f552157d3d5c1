import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { round } from './stats';

/** One AWS operation as seen on the wire: `DynamoDB UpdateItem`, `SQS SendMessage`, `S3 GET` … */
export interface OperationTiming {
  /** Who called: a label from `callerOf` (e.g. `dispatch`), or `other`. */
  readonly caller: string;
  readonly operation: string;
  readonly calls: number;
  /** Sum of request → full answer times, ms. */
  readonly totalMs: number;
  readonly meanMs: number;
}

/**
 * A loopback pass-through in front of moto that times every AWS call the pipeline makes (from the
 * request's first byte to the answer's last), keyed by service and operation. The functions and the
 * event-source emulation reach AWS only through it; the bench's own calls go to moto directly.
 */
export interface AwsTimingProxy {
  readonly url: string;
  /** Timings since the last reset, slowest total first. */
  timings(): OperationTiming[];
  reset(): void;
  close(): Promise<void>;
}

/** What a DynamoDB item is, from its partition key's prefix: `d#` ledger, `sem#` semaphore, … */
const ITEM_KINDS: Readonly<Record<string, string>> = {
  d: 'ledger',
  sem: 'semaphore',
  breaker: 'breaker',
  token: 'token',
  mints: 'mint budget',
};

/** The item kind a DynamoDB request addresses (its `Key.pk`), if it names one key. */
function itemKindOf(body: Buffer): string | undefined {
  try {
    const pk = (JSON.parse(body.toString('utf8')) as { Key?: { pk?: { S?: string } } }).Key?.pk?.S;
    if (!pk) return undefined;
    const prefix = pk.slice(0, Math.max(0, pk.indexOf('#')));
    return ITEM_KINDS[prefix] ?? prefix;
  } catch {
    return undefined;
  }
}

/**
 * `DynamoDB_20120810.UpdateItem` → `DynamoDB UpdateItem (ledger)` (the item kind from the key, when
 * the body is given); `AmazonSQS.SendMessage` → `SQS SendMessage`; S3 by method, with the result
 * documents (`_results/`) and tagging named apart: they are the announcement, not the delivery.
 */
function operationOf(req: IncomingMessage, body?: Buffer): string {
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string') {
    const [service = '', op = ''] = target.split('.');
    if (service.startsWith('DynamoDB')) {
      const kind = body ? itemKindOf(body) : undefined;
      return kind ? `DynamoDB ${op} (${kind})` : `DynamoDB ${op}`;
    }
    const name = service === 'AmazonSQS' ? 'SQS' : service === 'secretsmanager' ? 'SecretsManager' : service;
    return `${name} ${op}`;
  }
  const auth = req.headers.authorization ?? '';
  const service = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(auth)?.[1] ?? 'unknown';
  if (service !== 's3') return `${service} ${req.method ?? ''}`;
  const url = req.url ?? '';
  if (/[?&]tagging\b/.test(url)) return `S3 ${req.method ?? ''} tagging`;
  if (req.method === 'PUT' && url.includes('/_results/')) return 'S3 PUT result document';
  return `S3 ${req.method ?? ''}`;
}

/** Calls that tell the producer the outcome (events, result documents, tags), apart from the delivery's own. */
export function isAnnouncement(operation: string): boolean {
  return /^(events |EventBridge |AWSEvents )|^S3 PUT result document$|^S3 \w+ tagging$/.test(operation);
}

/**
 * @param callerOf names the process behind a client connection from its source port and the
 *   proxy's port (asked once per connection).
 */
export async function startAwsTimingProxy(
  upstream: string,
  callerOf: (clientPort: number, proxyPort: number) => string = () => 'other',
): Promise<AwsTimingProxy> {
  const target = new URL(upstream);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let stats = new Map<string, { caller: string; operation: string; calls: number; totalMs: number }>();
  const sockets = new Set<Socket>();
  const callers = new WeakMap<Socket, string>();

  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const caller = callers.get(req.socket) ?? 'other';
    const target = req.headers['x-amz-target'];
    if (typeof target === 'string' && target.startsWith('DynamoDB')) {
      // DynamoDB bodies are small JSON: read whole, so the item kind can be named.
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.once('end', () =>
        relay(req, res, operationOf(req, Buffer.concat(chunks)), caller, started, chunks),
      );
      return;
    }
    relay(req, res, operationOf(req), caller, started);
  });
  const relay = (
    req: IncomingMessage,
    res: ServerResponse,
    operation: string,
    caller: string,
    started: number,
    body?: Buffer[],
  ) => {
    const statKey = `${caller}\u0000${operation}`;
    // The Host header goes through unchanged: moto builds queue URLs from it, so they name the proxy.
    const forward = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (answer) => {
        // moto closes the connection after every answer. The proxy keeps the client side open (so a
        // connection, and the lookup of who owns it, is made once) and saves each call a loopback
        // connect; the calibration in the results says what the proxy adds all told.
        const { connection: _close, ...headers } = answer.headers;
        res.writeHead(answer.statusCode ?? 502, headers);
        answer.pipe(res);
        answer.once('end', () => {
          const entry = stats.get(statKey) ?? { caller, operation, calls: 0, totalMs: 0 };
          entry.calls++;
          entry.totalMs += performance.now() - started;
          stats.set(statKey, entry);
        });
      },
    );
    forward.once('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    if (body) forward.end(Buffer.concat(body));
    else req.pipe(forward);
  };
  server.on('connection', (socket: Socket) => {
    const { remotePort, localPort } = socket;
    callers.set(
      socket,
      remotePort === undefined || localPort === undefined ? 'other' : callerOf(remotePort, localPort),
    );
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    timings() {
      return [...stats.values()]
        .map((s) => ({
          caller: s.caller,
          operation: s.operation,
          calls: s.calls,
          totalMs: round(s.totalMs),
          meanMs: round(s.totalMs / s.calls, 2),
        }))
        .sort((a, b) => b.totalMs - a.totalMs);
    },
    reset() {
      stats = new Map();
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        agent.destroy();
      });
    },
  };
}
