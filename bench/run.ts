/**
 * `npm run bench`: throughput, memory, per-file overhead and cold-start figures of the pipeline on
 * this machine (moto + the vendor sandbox), written to bench/results/. Method: docs/benchmarks.md.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, USAGE } from './lib/args';
import type { BenchContext } from './lib/context';
import { startTransferFixture, type TransferFixture } from './lib/fixture';
import { machineInfo } from './lib/machine';
import { progress } from './lib/measured';
import type { ProfileSummary } from './lib/profile';
import { type BenchResults, evaluateTargets, optionsRecord, renderMarkdown } from './lib/report';
import { round } from './lib/stats';
import { bundleWorkers } from './lib/workers';
import { coldStartSection } from './sections/coldstart';
import { hashSection } from './sections/hash';
import { multipartSection } from './sections/multipart';
import { overheadSection } from './sections/overhead';
import { transferProfiles } from './sections/profiles';
import { uploadSection } from './sections/upload';
import { warmSection } from './sections/warm';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

async function main(): Promise<void> {
  const parsed = parseArgs(process.argv.slice(2));
  if (parsed === 'help') {
    console.log(USAGE);
    return;
  }
  if ('render' in parsed) {
    // A results file of an earlier version renders too: fields since removed are ignored, and
    // fields added since are optional (their figures are left out).
    const saved = JSON.parse(readFileSync(parsed.render, 'utf8')) as BenchResults;
    const { targets: _old, ...rest } = saved;
    const results: BenchResults = { ...rest, targets: evaluateTargets(rest) };
    const markdown = renderMarkdown(results);
    writeFileSync(parsed.render, `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(path.join(RESULTS_DIR, 'latest.md'), markdown);
    process.stdout.write(markdown);
    return;
  }
  const options = parsed;
  if (!process.version.startsWith('v22.')) {
    progress(`warning: Node ${process.version}; the functions run on Node 22 (run through npm)`);
  }
  const startedAt = new Date();
  const machine = machineInfo();
  progress(
    `${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGb} GB, Node ${machine.node}, load ${machine.loadavg.join(' ')}`,
  );
  const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'vendor-ingest-bench-'));
  let fixture: Promise<TransferFixture> | undefined;
  const stopFixture = async () => {
    const running = await fixture?.catch(() => undefined);
    fixture = undefined;
    await running?.stop();
  };
  const onSignal = () => {
    // Children (moto, workers) are killed by their own exit hooks; temp files go with tmpDir.
    rmSync(tmpDir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const workers = await bundleWorkers(path.join(tmpDir, 'workers'));
    const ctx: BenchContext = {
      options,
      workers,
      tmpDir,
      fixture: () => {
        fixture ??= startTransferFixture(tmpDir);
        return fixture;
      },
    };
    const has = (name: Parameters<typeof options.only.has>[0]) => options.only.has(name);
    // Transfer sections share one moto holding the objects; it is stopped before the overhead
    // section starts its own pipeline, so the two never compete.
    const upload = has('upload') ? await uploadSection(ctx) : undefined;
    const warm = has('warm') ? await warmSection(ctx) : undefined;
    const multipart = has('multipart') ? await multipartSection(ctx) : undefined;
    const hash = has('hash') ? await hashSection(ctx) : undefined;
    const profiles: ProfileSummary[] =
      options.cpuProf && (has('upload') || has('hash')) ? await transferProfiles(ctx) : [];
    const coldstart = has('coldstart') ? await coldStartSection(ctx) : undefined;
    await stopFixture();
    const overhead = has('overhead') ? await overheadSection(ctx) : undefined;

    const finishedAt = new Date();
    const partial: Omit<BenchResults, 'targets'> = {
      schema: 1,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationSeconds: round((finishedAt.getTime() - startedAt.getTime()) / 1000),
      command: ['npm run bench --', ...process.argv.slice(2)].join(' ').replace(/ --$/, ''),
      options: optionsRecord(options),
      machine,
      loadavgAtEnd: machineInfo().loadavg,
      upload,
      multipart,
      hash,
      coldstart,
      overhead,
      warm,
      profiles: [
        ...profiles,
        ...(coldstart?.functions.flatMap((f) => (f.profile ? [f.profile] : [])) ?? []),
        ...(overhead?.dispatchProfile ? [overhead.dispatchProfile] : []),
      ],
    };
    const results: BenchResults = { ...partial, targets: evaluateTargets(partial) };
    mkdirSync(RESULTS_DIR, { recursive: true });
    const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
    const json = `${JSON.stringify(results, null, 2)}\n`;
    // Only `latest` is committed; earlier runs stay on this machine (bench/results/history/, ignored).
    mkdirSync(path.join(RESULTS_DIR, 'history'), { recursive: true });
    writeFileSync(path.join(RESULTS_DIR, 'history', `${stamp}.json`), json);
    writeFileSync(path.join(RESULTS_DIR, 'latest.json'), json);
    const markdown = renderMarkdown(results);
    writeFileSync(path.join(RESULTS_DIR, 'latest.md'), markdown);
    process.stdout.write(markdown);
    progress(`results: bench/results/latest.json, bench/results/latest.md (and history/${stamp}.json)`);
  } finally {
    await stopFixture();
    rmSync(tmpDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
