import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../lib/config/stage-config';

const run = promisify(execFile);
const BIN = path.join(PROJECT_ROOT, 'scripts/vendor-ingest.mjs');

/** The CLI as a user runs it: through its bin script, from a directory outside the clone. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const out = await run(process.execPath, [BIN, ...args], {
      cwd: os.tmpdir(),
      env: { ...process.env, NO_COLOR: '1' },
    });
    return { code: 0, ...out };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('vendor-ingest help, from any directory', () => {
  it('--help lists the commands and exits 0', async () => {
    const out = await cli('--help');
    expect(out.code).toBe(0);
    for (const command of [
      'start',
      'demo',
      'console',
      'drop',
      'status',
      'dlq list',
      'dlq delete',
      'dlq purge',
      'redrive',
      'replay',
      'resolve',
    ])
      expect(out.stdout).toContain(`  ${command}`);
  });

  it('every command has its own help, exit 0', async () => {
    const outs = await Promise.all(
      [['drop'], ['status'], ['dlq', 'list'], ['dlq', 'purge'], ['console'], ['redrive']].map((c) =>
        cli(...c, '--help'),
      ),
    );
    for (const out of outs) {
      expect(out.code).toBe(0);
      expect(out.stdout).toMatch(/^Usage: vendor-ingest /);
    }
    expect(outs[0]?.stdout).toContain('--part-size');
    expect(outs[2]?.stdout).toContain('--full');
    expect(outs[2]?.stdout).toContain('--json');
  });

  it('usage mistakes exit 2 with the usage', async () => {
    expect((await cli()).code).toBe(2);
    const unknown = await cli('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    const badOption = await cli('drop', 'x.csv', '--colour');
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toContain("Unknown option '--colour'");
    const dlq = await cli('dlq');
    expect(dlq.code).toBe(2);
    expect(dlq.stderr).toContain('vendor-ingest dlq <list|delete|purge>');
  });
});
