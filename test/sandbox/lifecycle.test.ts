import http from 'node:http';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CREDENTIALS, startSandbox } from '../../sandbox/index';
import { auth, CSV, call, pollUntil, put, uniqueName, waitForCalls } from './support';

/** Open TCP listeners and sockets of this process, by kind. */
function tcpHandles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) {
    if (kind === 'TCPServerWrap' || kind === 'TCPSocketWrap') counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

/** `promise`, or a rejection after `ms`: a close() that never resolves fails the test instead of hanging it. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** A request on its own connection (no pooled agent), settling with its outcome. */
function request(
  url: string,
  init: { method: string; headers: Record<string, string | number>; body?: Buffer },
) {
  return new Promise<string>((resolve) => {
    const req = http.request(url, { method: init.method, headers: init.headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(`answered ${res.statusCode}`));
      res.on('error', () => resolve('failed'));
    });
    req.on('error', () => resolve('failed'));
    req.end(init.body);
  });
}

describe('sandbox lifecycle', () => {
  it('closes both listeners and every socket, hung and delayed calls included, leaving no TCP handles', async () => {
    // Prepare
    const before = tcpHandles();
    const sandbox = await startSandbox({ clevertapLatencyMs: 0 });
    const { port } = sandbox;
    sandbox.faults.inject({ vendor: 'cleartax-gst', operation: 'presign', action: { kind: 'hang' } });
    sandbox.faults.inject({ vendor: 'inspect', operation: 'presign', action: { kind: 'delay', ms: 60_000 } });
    sandbox.faults.inject({ vendor: 'cleartax-one', operation: 'upload', action: { kind: 'hang' } });
    const url = (
      (
        await call(`${sandbox.url}/one-integration/action/pre-sign?filename=a.csv`, {
          headers: auth(sandbox).one,
        })
      ).body as { result: { uploadUrl: string } }
    ).result.uploadUrl;
    const pending = [
      request(`${sandbox.url}/integration/v1/generatePreSign/sales?fileName=a.csv`, {
        method: 'GET',
        headers: { ...auth(sandbox).gst, fileContentType: 'CSV' },
      }),
      request(`${sandbox.url}/api/inspect/v1/file/upload/presigned`, {
        method: 'POST',
        headers: { ...auth(sandbox).inspect, 'content-type': 'application/json' },
        body: Buffer.from('{}'),
      }),
      request(url, {
        method: 'PUT',
        headers: { 'content-type': 'text/csv', 'content-length': CSV.length },
        body: CSV,
      }),
    ];
    const idle = new net.Socket();
    await new Promise<void>((resolve) => idle.connect(port, '127.0.0.1', resolve));
    await waitForCalls(sandbox, {}, 4);
    await pollUntil(
      async () => sandbox.log.calls().filter((c) => c.fault !== undefined).length,
      (n) => n === 3,
    );

    // Act
    await within(sandbox.close(), 5000);
    const outcomes = await within(Promise.all(pending), 5000);
    await within(new Promise((resolve) => idle.once('close', resolve)), 5000);

    // Assess
    expect(outcomes).toEqual(['failed', 'failed', 'failed']);
    await pollUntil(
      async () => tcpHandles(),
      (now) => JSON.stringify(now) === JSON.stringify(before),
      { attempts: 50, intervalMs: 10 },
    );
    const rebound = http.createServer();
    await new Promise<void>((resolve) => rebound.listen(port, '127.0.0.1', resolve));
    await new Promise((resolve) => rebound.close(resolve));
  });

  it('reset forgets calls, uploads, faults, objects and minted tokens, but not credentials', async () => {
    // Prepare
    const sandbox = await startSandbox();
    try {
      const minted = await call(`${sandbox.url}/integration/v1/authz/token`, {
        headers: { 'x-clear-client-secret': sandbox.credentials.cleartax.clientSecret },
      });
      const token = (minted.body as { access_token: string }).access_token;
      const url = (
        (
          await call(`${sandbox.url}/one-integration/action/pre-sign?filename=a.csv`, {
            headers: auth(sandbox).one,
          })
        ).body as { result: { uploadUrl: string } }
      ).result.uploadUrl;
      await put(url, CSV, 'text/csv');
      sandbox.faults.inject({ vendor: 'inspect', operation: 'presign', action: { kind: 'reset' } });

      // Act
      sandbox.reset();
      const withMinted = await call(`${sandbox.url}/integration/v1/generatePreSign/sales?fileName=a.csv`, {
        headers: { 'x-cleartax-auth-token': token, fileContentType: 'CSV' },
      });
      const oldUrl = await put(url, CSV, 'text/csv');

      // Assess
      expect(withMinted.status).toBe(401);
      expect(oldUrl.status).toBe(403);
      expect(sandbox.faults.list()).toEqual([]);
      expect(sandbox.log.uploads()).toEqual([]);
      expect(sandbox.log.calls().map((c) => c.seq)).toEqual([1, 2]);
      expect(sandbox.credentials).toEqual(DEFAULT_CREDENTIALS);
    } finally {
      await sandbox.close();
    }
  });

  it('records every call with its sequence, path without query, file name, ref and refusal reason', async () => {
    // Prepare
    const lines: string[] = [];
    const sandbox = await startSandbox({ jobDurationMs: 0, log: (line) => lines.push(line) });
    try {
      const fileName = uniqueName('csv');
      const headers = auth(sandbox).one;

      // Act
      await call(`${sandbox.url}/one-integration/action/pre-sign?filename=${fileName}`, {
        headers: { ...headers, 'x-clear-auth-token': 'bad' },
      });
      const url = (
        (await call(`${sandbox.url}/one-integration/action/pre-sign?filename=${fileName}`, { headers }))
          .body as { result: { uploadUrl: string } }
      ).result.uploadUrl;
      await put(url, CSV, 'text/csv');
      const ingest = await call(`${sandbox.url}/one-integration/api/v1/ingest`, {
        headers,
        json: { fileInfo: [{ uploadUrl: url, fileType: 'sales' }], templateType: 'SALES' },
      });
      const { taskId } = (ingest.body as { result: { taskId: string } }).result;
      await call(`${sandbox.url}/one-integration/workflow/status?taskId=${taskId}`, { headers });

      // Assess
      const calls = sandbox.log.calls();
      expect(calls.map((c) => [c.seq, c.operation, c.status, c.fileName])).toEqual([
        [1, 'presign', 401, fileName],
        [2, 'presign', 200, fileName],
        [3, 'upload', 200, fileName],
        [4, 'complete', 200, fileName],
        [5, 'status', 200, fileName],
      ]);
      expect(calls[0]?.error).toMatch(/UNAUTHORIZED/);
      expect(calls.every((c) => !c.path.includes('?') && !Number.isNaN(Date.parse(c.at)))).toBe(true);
      expect(calls[3]?.ref).toBe(taskId);
      expect(calls[4]?.ref).toBe(taskId);
      expect(sandbox.log.calls({ vendor: 'cleartax-one', operation: 'upload' })).toHaveLength(1);
      expect(sandbox.log.completions('cleartax-one', fileName)).toEqual([calls[3]]);
      await pollUntil(
        async () => lines.length,
        (n) => n >= 5,
      );
      expect(lines[0]).toContain('/one-integration/action/pre-sign 401');
    } finally {
      await sandbox.close();
    }
  });

  it('merges credential overrides over the defaults, block by block', async () => {
    // Prepare
    const inspect = { token: 'custom-token', assetIds: ['aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee'] };
    const sandbox = await startSandbox({ credentials: { inspect } });
    try {
      // Act
      const withDefault = await call(`${sandbox.url}/api/inspect/v1/file/upload/complete`, {
        headers: { authorization: `Bearer ${DEFAULT_CREDENTIALS.inspect.token}` },
        json: { id: 'x' },
      });
      const withCustom = await call(`${sandbox.url}/api/inspect/v1/file/upload/complete`, {
        headers: { authorization: 'Bearer custom-token' },
        json: { id: 'x' },
      });

      // Assess
      expect(sandbox.credentials).toEqual({ ...DEFAULT_CREDENTIALS, inspect });
      expect(withDefault.status).toBe(401);
      expect(withCustom.status).toBe(404);
    } finally {
      await sandbox.close();
    }
  });

  it('ships the documented default credentials, frozen', () => {
    // Assess
    expect(DEFAULT_CREDENTIALS).toEqual({
      cleartax: {
        authToken: 'sandbox-cleartax-auth-token',
        clientSecret: 'sandbox-cleartax-client-secret',
        integrationId: '6f1c2a4e-8b7d-4c3e-9a1f-2b3c4d5e6f70',
      },
      clevertap: {
        accountId: 'SANDBOX-ACCOUNT-1',
        token: 'sandbox-clevertap-token',
        catalogIds: [1001, 1002],
      },
      inspect: {
        token: 'sandbox-inspect-token',
        assetIds: ['0b4cf1d2-6a8e-4f3a-9c1b-7d2e5f8a9b10', '9d3e7c1a-2b4f-4e6d-8a0c-1f2e3d4c5b6a'],
      },
      slack: {
        token: 'xoxb-1000000001-2000000001-SandboxSlackBotToken01',
        teamId: 'T0SANDBOX01',
        scopes: ['files:write', 'files:read', 'chat:write'],
        channelIds: ['C0SANDBOX01', 'C0SANDBOX02'],
        notInChannelId: 'C0SANDBOX99',
        otherWorkspace: { teamId: 'T0SANDBOX02', token: 'xoxb-1000000002-2000000002-SandboxOtherWorkspace1' },
      },
    });
    expect(Object.isFrozen(DEFAULT_CREDENTIALS.clevertap.catalogIds)).toBe(true);
  });
});
