import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** Shown when no Python with moto can be found. */
export const MOTO_HINT = [
  'no Python with moto found: the embedded AWS is moto 5.2.1, run through local/moto_server.py.',
  'Install it with `pip install "moto[server]==5.2.1"`; where pip refuses (an externally managed',
  'Python), use a virtual environment and point MOTO_PYTHON at it:',
  '  python3 -m venv ~/.venvs/moto && ~/.venvs/moto/bin/pip install "moto[server]==5.2.1"',
  '  export MOTO_PYTHON=~/.venvs/moto/bin/python3',
  'With pipx (`pipx install "moto[server]==5.2.1"`), point MOTO_PYTHON at the Python of its venv:',
  '  export MOTO_PYTHON="$(pipx environment --value PIPX_LOCAL_VENVS)/moto/bin/python3"',
  'Either way the pipeline runs local/moto_server.py with that Python, never a bare moto_server',
  "binary: the wrapper is what makes DynamoDB conditional writes atomic (the ledger's exactly-once",
  'rests on them) and lets moto deploy the stack.',
].join('\n');

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

/** A command that runs a Python interpreter able to import moto's server, with our wrapper. */
export interface MotoCommand {
  readonly command: string;
  readonly args: readonly string[];
}

const WRAPPER = fileURLToPath(new URL('./moto_server.py', import.meta.url));

function canImportMoto(python: string): boolean {
  try {
    execFileSync(python, ['-c', 'import moto.server, moto.dynamodb.models'], {
      stdio: 'ignore',
      timeout: 30_000,
    });
    return true;
  } catch {
    return false;
  }
}

let cached: MotoCommand | undefined;

/**
 * Finds a Python with moto installed, to run our wrapper (moto_server.py). Looks at $MOTO_PYTHON,
 * then PATH, then pyenv's shims (pyenv puts them only on a login shell's PATH), then a login shell's
 * own lookup.
 */
export function findMoto(): MotoCommand | undefined {
  if (cached) return cached;
  const pyenvShims = path.join(process.env.PYENV_ROOT ?? path.join(os.homedir(), '.pyenv'), 'shims');
  const pythons = [
    process.env.MOTO_PYTHON,
    onPath('python3'),
    path.join(pyenvShims, 'python3'),
    loginShellLookup('python3'),
  ];
  for (const python of pythons) {
    if (python && existsSync(python) && canImportMoto(python)) {
      cached = { command: python, args: [WRAPPER] };
      return cached;
    }
  }
  return undefined;
}

function loginShellLookup(name: string): string | undefined {
  try {
    return (
      execFileSync('bash', ['-lc', `command -v ${name}`], { encoding: 'utf8', timeout: 10_000 }).trim() ||
      undefined
    );
  } catch {
    return undefined;
  }
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
  const moto = findMoto();
  if (!moto) throw new Error(MOTO_HINT);
  const port = options.port ?? (await freePort());
  const child = spawn(moto.command, [...moto.args, '-H', '127.0.0.1', '-p', String(port)], {
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
