import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { RESULT_PREFIX } from '../workers/protocol';
import { pipelineBuildOptions } from './build-options';

const BENCH_DIR = fileURLToPath(new URL('../', import.meta.url));

/** The bench's child programs, bundled like the deployed functions (see build-options.ts). */
export const WORKERS = [
  'upload-worker',
  'baseline-worker',
  'read-worker',
  'import-worker',
  'warm-worker',
  'range-server',
] as const;
export type WorkerName = (typeof WORKERS)[number];

export interface WorkerBundles {
  /** Absolute path of a worker's bundle. */
  file(name: WorkerName): string;
}

/**
 * Bundles every worker into `outDir` (ESM, node22, SDK inside, class names kept, source maps for
 * `--cpu-prof` attribution). Children run the bundles with plain `node`: no TypeScript loader in
 * the measured processes, so their memory and CPU are the uploader's, not tsx's.
 */
export async function bundleWorkers(outDir: string): Promise<WorkerBundles> {
  await build({
    entryPoints: Object.fromEntries(
      WORKERS.map((name) => [name, path.join(BENCH_DIR, 'workers', `${name}.ts`)]),
    ),
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    // The deployed functions' options (not minified: profiles stay readable).
    ...pipelineBuildOptions(),
    minify: false,
  });
  return { file: (name) => path.join(outDir, `${name}.mjs`) };
}

/** A small, explicit environment: nothing of the runner's (tsx's loader, AWS_* variables) leaks in. */
export function childEnv(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

export interface RunOptions {
  /** Kill the child after this long. */
  readonly timeoutMs: number;
  /** Extra node flags (e.g. `--cpu-prof`). */
  readonly nodeArgs?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

/** Runs a worker to completion and returns the result it printed. Rejects on exit ≠ 0 or timeout. */
export function runWorker<I, O>(file: string, input: I, options: RunOptions): Promise<O> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), file, JSON.stringify(input)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? childEnv(),
    });
    let result: O | undefined;
    let stderr = '';
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith(RESULT_PREFIX)) result = JSON.parse(line.slice(RESULT_PREFIX.length)) as O;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 20_000) stderr += chunk.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(file)} did not finish within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && result !== undefined) resolve(result);
      else
        reject(
          new Error(
            `${path.basename(file)} exited (${signal ?? code}) without a result:\n${stderr.slice(-3000)}`,
          ),
        );
    });
  });
}

export interface ServerProcess {
  readonly port: number;
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

const servers = new Set<ChildProcess>();

/** Long-running workers never outlive the bench, however it ends. */
process.once('exit', () => {
  for (const child of servers) child.kill('SIGKILL');
});

/** Starts a long-running worker that prints `BENCH_READY <port>`; `stop()` kills it. */
export function startServerWorker<I>(file: string, input: I, timeoutMs = 15_000): Promise<ServerProcess> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [file, JSON.stringify(input)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: childEnv(),
    });
    servers.add(child);
    child.once('exit', () => servers.delete(child));
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      if (stderr.length < 20_000) stderr += chunk.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(file)} was not ready within ${timeoutMs} ms:\n${stderr}`));
    }, timeoutMs);
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${path.basename(file)} exited (${code}) before it was ready:\n${stderr}`));
    });
    if (!child.stdout) return reject(new Error('no stdout'));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^BENCH_READY (\d+)$/.exec(line);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        port: Number(m[1]),
        pid: child.pid,
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGKILL');
          await exited;
        },
      });
    });
  });
}
