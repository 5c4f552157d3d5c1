import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
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

/**
 * Once per `vitest run`: fail at once on a Node major other than Lambda's (see
 * scripts/check-node.mjs), and give every test file one synth cache, so each variant of the stack
 * (a context) is synthesized once per run however many files deploy it. The vendor sandbox's URL is
 * part of a local stack's context, so e2e sandboxes listen on ports fixed for the run.
 */
export default async function setup(): Promise<() => void> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major !== 22) {
    throw new Error(
      `vendor-ingest tests need Node 22 (Lambda nodejs22.x); this is ${process.versions.node}. Run them with \`npm test\`.`,
    );
  }
  const cache = mkdtempSync(path.join(os.tmpdir(), 'vendor-ingest-synth-'));
  process.env[SYNTH_CACHE_ENV] = cache;
  // Tests' temporary files (test/support/scratch.ts) live here and go with the run.
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'vendor-ingest-test-'));
  process.env[SCRATCH_ENV] = scratch;
  process.env[SANDBOX_PORT_ENV] = String(await reservePorts(SANDBOX_PORTS_PER_FILE));
  return () => {
    rmSync(cache, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  };
}
