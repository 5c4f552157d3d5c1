import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../lib/config/stage-config';
import { startLocalPipeline } from '../../../local/pipeline';
import { scratchDir } from '../../support/scratch';
import { useEmbeddedStack } from '../../support/stack';

/**
 * The local pipeline's temporary run directory (function code, its logs by default) is removed by
 * stop(), and the exit hook that would remove it otherwise goes with it; a process that ends without
 * stop() — here its output is piped to a reader that went away — removes it on exit. The pipeline attaches to the
 * stack deployed on this file's moto, so nothing is synthesized or deployed twice.
 */

const stack = useEmbeddedStack();
const tmpBefore = process.env.TMPDIR;
afterEach(() => {
  if (tmpBefore === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = tmpBefore;
});

describe('the local pipeline run directory', () => {
  it('exists while the pipeline runs and is gone after stop()', async () => {
    // Its own temporary directory, so only this pipeline's run directory is in it.
    const tmp = scratchDir('pipeline-tmp-');
    process.env.TMPDIR = tmp;
    const exitHooks = process.listenerCount('exit');

    const pipeline = await startLocalPipeline({
      awsEndpoint: stack.moto.endpoint,
      attachTo: stack.deployed.stackName,
      pollWaitSeconds: 1,
    });
    try {
      expect(readdirSync(tmp).filter((n) => n.startsWith('vendor-ingest-run-'))).toHaveLength(1);
      expect(pipeline.logFile.startsWith(tmp)).toBe(true);
      expect(process.listenerCount('exit')).toBeGreaterThan(exitHooks);
    } finally {
      await pipeline.stop();
    }
    expect(readdirSync(tmp)).toEqual([]);
    expect(process.listenerCount('exit')).toBe(exitHooks);
  });

  it('is removed on exit when stop() never ran: the reader of piped output went away', async () => {
    const tmp = scratchDir('pipeline-tmp-');
    const pipelineModule = pathToFileURL(path.join(PROJECT_ROOT, 'local/pipeline.ts')).href;
    // Prints its log file, then keeps writing to a pipe nobody reads: EPIPE ends it, uncaught.
    const script = `
      const { startLocalPipeline } = await import(${JSON.stringify(pipelineModule)});
      const p = await startLocalPipeline(${JSON.stringify({
        awsEndpoint: stack.moto.endpoint,
        attachTo: stack.deployed.stackName,
        pollWaitSeconds: 1,
      })});
      console.log(p.logFile);
      setInterval(() => process.stdout.write('still running\\n'), 20);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const first = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve);
        exited.then(() => reject(new Error(`the child ended before starting the pipeline:\n${stderr}`)));
      });
      expect(first.startsWith(tmp), first).toBe(true);
      expect(readdirSync(tmp).filter((n) => n.startsWith('vendor-ingest-run-'))).toHaveLength(1);
      child.stdout?.destroy();
      expect(await exited).not.toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
    // (tsx, which ran the child, keeps its cache there too)
    expect(readdirSync(tmp).filter((n) => n.startsWith('vendor-ingest-run-'))).toEqual([]);
  }, 60_000);
});
