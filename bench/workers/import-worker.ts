/**
 * Bench child: module initialisation of a deployed bundle — the time `import()` takes with the
 * function's environment set (env validation, route parsing, SDK clients, Powertools), without
 * invoking the handler. One import per process, so every sample is a cold start.
 */
import { pathToFileURL } from 'node:url';
import { monotonicUs, readInput, report, runMain } from './measure';
import type { ImportWorkerInput, ImportWorkerOutput } from './protocol';

runMain(async () => {
  const input = readInput<ImportWorkerInput>();
  const url = pathToFileURL(input.bundle).href;
  const importStartUs = monotonicUs();
  const started = performance.now();
  let output: ImportWorkerOutput;
  try {
    const mod = (await import(url)) as { handler?: unknown };
    output = {
      importMs: performance.now() - started,
      importStartUs,
      importEndUs: monotonicUs(),
      ok: true,
      exportsHandler: typeof mod.handler === 'function',
      rssMb: process.memoryUsage.rss() / 1024 / 1024,
    };
  } catch (error) {
    output = {
      importMs: performance.now() - started,
      importStartUs,
      importEndUs: monotonicUs(),
      ok: false,
      error: error instanceof Error ? error.message : String(error),
      exportsHandler: false,
      rssMb: process.memoryUsage.rss() / 1024 / 1024,
    };
  }
  report(output);
});
