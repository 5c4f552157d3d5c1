import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ACTIONS_LOG_ENV } from '../../cli/audit';
import { SYNTH_CACHE_ENV } from '../../local/synth';
import { SCRATCH_ENV } from './scratch';

/** How many local pipelines one e2e file may run at once. */
export const SANDBOX_PORTS_PER_FILE = 4;
/** Names the first of {@link SANDBOX_PORTS_PER_FILE} loopback ports reserved for e2e vendor sandboxes. */
export const SANDBOX_PORT_ENV = 'VENDOR_INGEST_E2E_SANDBOX_PORT';

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A run of free loopback ports below Linux's ephemeral range (32768+), so no port-0 listener of
 * another test takes one while an e2e file is between pipelines.
 */
async function reservePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 10_000);
    const free = await Promise.all(Array.from({ length: count }, (_, i) => isFree(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no free loopback ports for the e2e vendor sandboxes');
}

/** What the first setup of a run made, shared by the setups of the other projects (one process). */
interface RunDirs {
  /** Setups that have not torn down yet. */
  users: number;
  /** Directories this run created (removed after the last teardown, or at exit). */
  readonly created: string[];
  readonly restore: Record<string, string | undefined>;
  readonly removeAtExit: () => void;
}
const RUN_DIRS = Symbol.for('vendor-ingest.test-run-dirs');
const shared = globalThis as { [RUN_DIRS]?: RunDirs };

function removeRunDirs(dirs: RunDirs): void {
  for (const dir of dirs.created.splice(0)) rmSync(dir, { recursive: true, force: true });
  for (const [name, value] of Object.entries(dirs.restore)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  process.off('exit', dirs.removeAtExit);
}

/**
 * The run's scratch root and synth cache, made by the first setup. Vitest runs a global setup once per
 * project (and for the root one), all in this process: the later setups reuse what the first made, and
 * the last teardown removes it, as does process exit if a teardown never runs. A scratch root or synth
 * cache given in the environment is used and left alone. A directory in the scratch root is the run's
 * TMPDIR, so what tests and the code they run put in `os.tmpdir()` (the run directory of a pipeline
 * whose worker was killed before its exit hook ran, moto, Chromium) goes with the run.
 */
async function runDirs(): Promise<RunDirs> {
  const existing = shared[RUN_DIRS];
  if (existing) {
    existing.users++;
    return existing;
  }
  const created: string[] = [];
  const restore: Record<string, string | undefined> = {};
  const set = (name: string, value: string) => {
    if (!(name in restore)) restore[name] = process.env[name];
    process.env[name] = value;
  };
  if (!process.env[SCRATCH_ENV]) {
    const scratch = mkdtempSync(path.join(os.tmpdir(), 'vendor-ingest-test-'));
    created.push(scratch);
    set(SCRATCH_ENV, scratch);
  }
  const scratch = process.env[SCRATCH_ENV] as string;
  if (!process.env[SYNTH_CACHE_ENV]) {
    const cache = mkdtempSync(path.join(scratch, 'synth-'));
    created.push(cache);
    set(SYNTH_CACHE_ENV, cache);
  }
  const tmp = mkdtempSync(path.join(scratch, 'tmp-'));
  created.push(tmp);
  set('TMPDIR', tmp);
  // Operator actions taken by tests are logged here, not in the clone's .local/logs.
  if (!process.env[ACTIONS_LOG_ENV]) set(ACTIONS_LOG_ENV, path.join(tmp, 'operator-actions.log'));
  if (!process.env[SANDBOX_PORT_ENV])
    set(SANDBOX_PORT_ENV, String(await reservePorts(SANDBOX_PORTS_PER_FILE)));
  const dirs: RunDirs = { users: 1, created, restore, removeAtExit: () => removeRunDirs(dirs) };
  process.on('exit', dirs.removeAtExit);
  shared[RUN_DIRS] = dirs;
  return dirs;
}

/**
 * Once per `vitest run` (per project, sharing one set of directories; see {@link runDirs}): fail at
 * once on a Node major other than Lambda's (see scripts/check-node.mjs), and give every test file one
 * synth cache, so each variant of the stack (a context) is synthesized once per run however many files
 * deploy it. The vendor sandbox's URL is part of a local stack's context, so e2e sandboxes listen on
 * ports fixed for the run.
 */
export default async function setup(): Promise<() => void> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major !== 22) {
    throw new Error(
      `vendor-ingest tests need Node 22 (Lambda nodejs22.x); this is ${process.versions.node}. Run them with \`npm test\`.`,
    );
  }
  const dirs = await runDirs();
  let tornDown = false;
  return () => {
    if (tornDown) return;
    tornDown = true;
    if (--dirs.users > 0) return;
    removeRunDirs(dirs);
    delete shared[RUN_DIRS];
  };
}
