import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { BenchContext } from '../lib/context';
import { progress } from '../lib/measured';
import { type ProfileSummary, profileIn, summarizeProfile } from '../lib/profile';
import { sizeLabel } from '../lib/units';
import { runWorker, type WorkerName } from '../lib/workers';
import type { ProcessMetrics, ReadWorkerInput, ReadWorkerOutput } from '../workers/protocol';
import { runBaseline, runPipelineSingle, transferTimeoutMs } from './upload';

/** Where raw profiles are kept for Chrome DevTools (git-ignored). */
export const PROFILE_DIR = path.join('bench', 'results', 'tmp', 'profiles');

/**
 * One extra, unmeasured run per transfer kind under `--cpu-prof` (largest size): the real uploader,
 * the baseline copy, and the hashing pass. Each profile is cut to the job (start-up excluded) and
 * its self time attributed to packages through the worker bundle's source map.
 */
export async function transferProfiles(ctx: BenchContext): Promise<ProfileSummary[]> {
  const fixture = await ctx.fixture();
  const size = Math.max(...ctx.options.sizes);
  const object = await fixture.object(size);
  const label = sizeLabel(size);
  const summaries: ProfileSummary[] = [];
  mkdirSync(PROFILE_DIR, { recursive: true });

  const profiled = async (
    name: string,
    worker: WorkerName,
    run: (nodeArgs: readonly string[]) => Promise<ProcessMetrics>,
  ): Promise<void> => {
    progress(`profiling: ${name}`);
    const dir = path.join(ctx.tmpDir, 'profiles', name);
    mkdirSync(dir, { recursive: true });
    const metrics = await run(['--cpu-prof', '--cpu-prof-interval', '500', '--cpu-prof-dir', dir]);
    const file = profileIn(dir);
    if (!file) return;
    copyFileSync(file, path.join(PROFILE_DIR, `${name}.cpuprofile`));
    summaries.push(
      summarizeProfile(name, file, ctx.workers.file(worker), {
        fromUs: metrics.jobStartUs,
        toUs: metrics.jobEndUs,
      }),
    );
  };

  await profiled(`upload-pipeline-${label}`, 'upload-worker', (nodeArgs) =>
    runPipelineSingle(ctx, fixture, object, `profile-pipeline-${label}.csv`, { nodeArgs }),
  );
  await profiled(`upload-baseline-${label}`, 'baseline-worker', (nodeArgs) =>
    runBaseline(ctx, fixture, object, `profile-baseline-${label}.csv`, nodeArgs),
  );
  if (size >= 100 * 1024 * 1024) {
    for (const mode of ['sha256', 'discard'] as const) {
      await profiled(`read-${mode}-${label}`, 'read-worker', (nodeArgs) =>
        runWorker<ReadWorkerInput, ReadWorkerOutput>(
          ctx.workers.file('read-worker'),
          {
            s3: fixture.s3,
            object: { bucket: object.bucket, key: object.key, eTag: object.eTag },
            size,
            mode,
          },
          { timeoutMs: transferTimeoutMs(size), nodeArgs },
        ),
      );
    }
  }
  return summaries;
}
