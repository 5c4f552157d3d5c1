import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Names the per-run directory the global setup makes for tests' temporary files (and removes after the run). */
export const SCRATCH_ENV = 'VENDOR_INGEST_TEST_SCRATCH';

/**
 * A fresh temporary directory for a test, inside the run's scratch directory: it goes when the run
 * ends, whichever test made it and however that test ended.
 */
export function scratchDir(prefix: string): string {
  return mkdtempSync(path.join(process.env[SCRATCH_ENV] ?? os.tmpdir(), prefix));
}
