import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Shown when no moto server can be found. */
export const MOTO_HINT =
  'moto_server not found: install it with `pip install "moto[server]"` (or set MOTO_SERVER to its path)';

export interface MotoServer {
  readonly endpoint: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** A free loopback TCP port. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Finds moto_server: $MOTO_SERVER, then PATH, then pyenv's shims (moto is often installed under
 * pyenv, whose shims are only on a login shell's PATH), then a login shell's own lookup.
 */
export function findMotoServer(): string | undefined {
  const explicit = process.env.MOTO_SERVER;
  if (explicit && existsSync(explicit)) return explicit;
  const found = onPath('moto_server');
  if (found) return found;
  const pyenvRoot = process.env.PYENV_ROOT ?? path.join(os.homedir(), '.pyenv');
  const shim = path.join(pyenvRoot, 'shims', 'moto_server');
  if (existsSync(shim)) return shim;
  try {
    const viaLogin = execFileSync('bash', ['-lc', 'command -v moto_server'], {
      encoding: 'utf8',
      timeout: 10_000,
    }).trim();
    if (viaLogin && existsSync(viaLogin)) return viaLogin;
  } catch {
    // not found in a login shell either
  }
  return undefined;
}

const running = new Set<ChildProcess>();
let hooksInstalled = false;

/** Kills every moto this process started, however the process ends (no orphans). */
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

/**
 * Starts moto_server on a free loopback port and waits until it answers. The server runs as a child
 * of this process and is killed when this process exits.
 */
export async function startMoto(
  options: { port?: number; log?: (line: string) => void } = {},
): Promise<MotoServer> {
  const binary = findMotoServer();
  if (!binary) throw new Error(MOTO_HINT);
  const port = options.port ?? (await freePort());
  const child = spawn(binary, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  running.add(child);
  installExitHooks();
  let output = '';
  const collect = (chunk: Buffer) => {
    const text = chunk.toString();
    if (output.length < 20_000) output += text;
    options.log?.(text);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exited: number | null | undefined;
  child.once('exit', (code) => {
    exited = code;
    running.delete(child);
  });

  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited !== undefined)
      throw new Error(`moto_server exited (${exited}) before it was ready:\n${output.slice(-2000)}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`moto_server did not answer on ${endpoint} within 30 s:\n${output.slice(-2000)}`);
    }
    await sleep(100);
  }

  return {
    endpoint,
    port,
    async stop() {
      if (exited !== undefined) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(timer);
    },
  };
}
