import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireLocalLock } from '../../../cli/target';
import { scratchDir } from '../../support/scratch';

const lockFile = (root: string) => path.join(root, '.local', 'pipeline.lock');
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

describe('one npm start per clone', () => {
  it('takes the lock with its pid and gives it back', () => {
    const root = scratchDir('lock-');
    const release = acquireLocalLock(root);
    expect(JSON.parse(readFileSync(lockFile(root), 'utf8'))).toMatchObject({ pid: process.pid });
    release();
    expect(existsSync(lockFile(root))).toBe(false);
  });

  it('refuses a second start while the first runs, saying which', async () => {
    const root = scratchDir('lock-');
    // A process that looks like a running `npm start` (its command line runs cli/main.ts).
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', 'cli/main.ts', 'start'], {
      stdio: 'ignore',
    });
    children.push(holder);
    await new Promise((r) => setTimeout(r, 200));
    mkdirSync(path.dirname(lockFile(root)), { recursive: true });
    writeFileSync(lockFile(root), JSON.stringify({ pid: holder.pid, startedAt: '2026-03-01T00:00:00Z' }));
    expect(() => acquireLocalLock(root)).toThrow(
      new RegExp(`already running from this clone \\(pid ${holder.pid}`),
    );
  });

  it('takes over a stale lock: its process is gone, or the pid now belongs to another program', async () => {
    const root = scratchDir('lock-');
    const gone = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await new Promise((r) => gone.once('exit', r));
    mkdirSync(path.dirname(lockFile(root)), { recursive: true });
    writeFileSync(lockFile(root), JSON.stringify({ pid: gone.pid, startedAt: 'earlier' }));
    acquireLocalLock(root)();

    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    children.push(other);
    writeFileSync(lockFile(root), JSON.stringify({ pid: other.pid, startedAt: 'earlier' }));
    const release = acquireLocalLock(root);
    expect(JSON.parse(readFileSync(lockFile(root), 'utf8')).pid).toBe(process.pid);
    release();
  });
});
