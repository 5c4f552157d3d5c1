import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AmbiguousOutcomeError, ErrorCode } from '../../../../functions/shared/errors';
import { createVendorHttp } from '../../../../functions/shared/http/vendor-http';

/**
 * A loopback server whose next answers are scripted: `ok`, `reset` (destroy the socket once the
 * request is read, before any answer), `hang`, or `huge`.
 */
type Script = 'ok' | 'reset' | 'hang' | 'huge';
let script: Script[] = [];
const seen: Array<{ method: string; body: string; socket: number }> = [];
let sockets = 0;
const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    seen.push({ method: req.method ?? '', body, socket: (req.socket as unknown as { n: number }).n });
    const next = script.shift() ?? 'ok';
    if (next === 'reset') req.socket.destroy();
    else if (next === 'hang') return;
    else if (next === 'huge') res.end('x'.repeat(2 * 1024 * 1024));
    else {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: true, method: req.method }));
    }
  });
});
server.on('connection', (socket) => {
  (socket as unknown as { n: number }).n = ++sockets;
});
let base = '';
const agents = () => ({
  http: new http.Agent({ keepAlive: true, maxSockets: 1 }),
  https: new https.Agent({ keepAlive: true }),
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});
beforeEach(() => {
  script = [];
  seen.length = 0;
});

describe('createVendorHttp', () => {
  it('sends a GET again at once on a fresh connection when a kept-alive one was reset before any answer', async () => {
    const client = createVendorHttp({ baseUrl: base, timeoutMs: 2000, agents: agents() });
    await client.request({ operation: 'warm', method: 'GET', path: '/a' });
    script = ['reset'];

    const answer = await client.request({ operation: 'presign', method: 'GET', path: '/b' });

    expect(answer).toMatchObject({ status: 200, body: { ok: true } });
    expect(seen.map((s) => s.method)).toEqual(['GET', 'GET', 'GET']);
    expect(seen[2]?.socket).not.toBe(seen[1]?.socket);
  });

  it('does not send a non-idempotent POST twice: the reset after sending is an ambiguous outcome', async () => {
    const client = createVendorHttp({ baseUrl: base, timeoutMs: 2000, agents: agents() });
    await client.request({ operation: 'warm', method: 'GET', path: '/a' });
    script = ['reset'];

    const error = await client
      .request({ operation: 'complete', method: 'POST', path: '/c', json: { id: 1 } })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AmbiguousOutcomeError);
    expect(error).toMatchObject({ code: ErrorCode.VENDOR_UNREACHABLE });
    expect(seen.filter((s) => s.method === 'POST')).toHaveLength(1);
  });

  it('sends a POST the caller marks idempotent again after a stale connection', async () => {
    const client = createVendorHttp({ baseUrl: base, timeoutMs: 2000, agents: agents() });
    await client.request({ operation: 'warm', method: 'GET', path: '/a' });
    script = ['reset'];

    const answer = await client.request({
      operation: 'presign',
      method: 'POST',
      path: '/p',
      form: { filename: 'a b.csv', length: '3' },
      idempotent: true,
    });

    expect(answer.status).toBe(200);
    expect(seen.filter((s) => s.method === 'POST').map((s) => s.body)).toEqual([
      'filename=a+b.csv&length=3',
      'filename=a+b.csv&length=3',
    ]);
  });

  it('does not retry a reset on a fresh connection: the request may have been acted on', async () => {
    const client = createVendorHttp({ baseUrl: base, timeoutMs: 2000, agents: agents() });
    script = ['reset'];

    const error = await client
      .request({ operation: 'presign', method: 'GET', path: '/x' })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AmbiguousOutcomeError);
    expect(seen).toHaveLength(1);
  });

  it('reports a server that is not there as unreachable, not ambiguous', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const client = createVendorHttp({
      baseUrl: `http://127.0.0.1:${port}`,
      timeoutMs: 2000,
      agents: agents(),
    });

    const error = await client
      .request({ operation: 'complete', method: 'POST', path: '/c', json: {} })
      .catch((e: unknown) => e);

    expect(error).not.toBeInstanceOf(AmbiguousOutcomeError);
    expect(error).toMatchObject({ code: ErrorCode.VENDOR_UNREACHABLE, retryable: true });
    expect(String((error as Error).message)).toMatch(/ECONNREFUSED/);
  });

  it('gives up on an answer that does not come within the timeout, as ambiguous', async () => {
    const client = createVendorHttp({ baseUrl: base, timeoutMs: 200, agents: agents() });
    script = ['hang'];

    const error = await client
      .request({ operation: 'status', method: 'GET', path: '/h' })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AmbiguousOutcomeError);
    expect(String((error as Error).message)).toMatch(/no answer within 200 ms/);
  });

  it('refuses an answer larger than a vendor JSON answer can be', async () => {
    const client = createVendorHttp({ baseUrl: base, timeoutMs: 2000, agents: agents() });
    script = ['huge'];

    const error = await client
      .request({ operation: 'status', method: 'GET', path: '/big' })
      .catch((e: unknown) => e);

    expect(error).toMatchObject({ code: ErrorCode.VENDOR_UNREACHABLE });
    expect(String((error as Error).message)).toMatch(/answer cut off/);
  });

  it('never lets a path carry the credentials to another origin', async () => {
    const client = createVendorHttp({ baseUrl: base, timeoutMs: 2000, agents: agents() });
    const error = await client
      .request({ operation: 'status', method: 'GET', path: 'http://example.com/x' })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.ROUTE_CONFIG_INVALID });
  });
});
