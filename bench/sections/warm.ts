import type { BenchContext } from '../lib/context';
import { progress } from '../lib/measured';
import { presignGet } from '../lib/presign-get';
import { median, percentile, round } from '../lib/stats';
import type { TargetResult } from '../lib/targets';
import { MB, sizeLabel } from '../lib/units';
import { runWorker } from '../lib/workers';
import type { WarmWorkerInput, WarmWorkerOutput } from '../workers/protocol';
import { transferTimeoutMs, verifySingleUpload } from './upload';

/**
 * Per-file overhead in a warm process: N deliveries of one small object, one after another in one
 * process (as a warm Lambda sandbox makes them), through the real uploader and through the baseline
 * copy, alternating; the first {@link WARM_UP} of each kind are not counted. The figure is the median
 * delivery time of the uploader minus that of the baseline: what the uploader adds per file once
 * nothing is cold.
 */

const SIZES = [10 * 1024, MB] as const;
const WARM_UP = 5;
/** Counted deliveries of each kind per size. */
const COUNTED = 40;
/** The target: at most this many ms per file over the baseline. */
const MAX_OVERHEAD_MS = 5;

export interface WarmSizeResult {
  readonly size: number;
  readonly label: string;
  readonly n: number;
  readonly pipelineMedianMs: number;
  readonly pipelineP95Ms: number;
  readonly baselineMedianMs: number;
  readonly baselineP95Ms: number;
  /** Median uploader delivery − median baseline copy, ms. */
  readonly overheadMs: number;
}

export interface WarmSectionResult {
  readonly sizes: readonly WarmSizeResult[];
}

export async function warmSection(ctx: BenchContext): Promise<WarmSectionResult> {
  const fixture = await ctx.fixture();
  const results: WarmSizeResult[] = [];
  for (const size of SIZES) {
    const label = sizeLabel(size);
    const object = await fixture.object(size);
    const deliveries: WarmWorkerInput['deliveries'][number][] = [];
    const fileNames: string[] = [];
    for (let i = 0; i < WARM_UP + COUNTED; i++) {
      for (const kind of i % 2 === 0
        ? (['pipeline', 'baseline'] as const)
        : (['baseline', 'pipeline'] as const)) {
        const fileName = `warm-${label}-${kind}-${i}.csv`;
        const plan = await fixture.presign(object, fileName);
        if (plan.kind !== 'single') throw new Error('expected a single plan');
        fileNames.push(fileName);
        deliveries.push({
          kind,
          put: plan.target,
          ...(kind === 'baseline'
            ? { getUrl: presignGet({ ...fixture.s3, bucket: object.bucket, key: object.key }) }
            : {}),
        });
      }
    }
    progress(`warm: ${deliveries.length} deliveries of ${label} in one process`);
    const out = await runWorker<WarmWorkerInput, WarmWorkerOutput>(
      ctx.workers.file('warm-worker'),
      {
        s3: fixture.s3,
        object: { bucket: object.bucket, key: object.key, eTag: object.eTag },
        size: object.size,
        uploadHostAllowList: fixture.route.uploadHostAllowList,
        deliveries,
      },
      { timeoutMs: transferTimeoutMs(object.size) * deliveries.length },
    );
    for (const fileName of fileNames) verifySingleUpload(fixture, fileName, object);
    const pipeline = out.pipelineMs.slice(WARM_UP);
    const baseline = out.baselineMs.slice(WARM_UP);
    const result: WarmSizeResult = {
      size,
      label,
      n: pipeline.length,
      pipelineMedianMs: round(median(pipeline), 2),
      pipelineP95Ms: round(percentile(pipeline, 95), 2),
      baselineMedianMs: round(median(baseline), 2),
      baselineP95Ms: round(percentile(baseline, 95), 2),
      overheadMs: round(median(pipeline) - median(baseline), 2),
    };
    progress(
      `warm ${label}: uploader ${result.pipelineMedianMs} ms, baseline ${result.baselineMedianMs} ms per file: +${result.overheadMs} ms`,
    );
    results.push(result);
  }
  return { sizes: results };
}

export function warmTargets(r: WarmSectionResult | undefined): TargetResult[] {
  return SIZES.map((size) => {
    const s = r?.sizes.find((x) => x.size === size);
    return {
      id: `warm-overhead-${sizeLabel(size)}`,
      target: `Per-file overhead in a warm process ≤ ${MAX_OVERHEAD_MS} ms over the baseline at ${sizeLabel(size)}`,
      status: s === undefined ? 'not measured' : s.overheadMs <= MAX_OVERHEAD_MS ? 'met' : 'missed',
      detail:
        s === undefined
          ? 'warm section not run'
          : `uploader ${s.pipelineMedianMs} ms vs baseline ${s.baselineMedianMs} ms per file (median of ${s.n}): ${s.overheadMs >= 0 ? '+' : ''}${s.overheadMs} ms`,
    };
  });
}

export function renderWarm(r: WarmSectionResult | undefined): string[] {
  if (!r) return [];
  return [
    '',
    `### Per-file overhead in a warm process (${COUNTED} deliveries of each kind after ${WARM_UP} warm-up, one process)`,
    '',
    '| Size | Uploader median ms | Uploader p95 ms | Baseline median ms | Baseline p95 ms | Overhead ms |',
    '| --- | --- | --- | --- | --- | --- |',
    ...r.sizes.map(
      (s) =>
        `| ${s.label} | ${s.pipelineMedianMs} | ${s.pipelineP95Ms} | ${s.baselineMedianMs} | ${s.baselineP95Ms} | ${s.overheadMs >= 0 ? '+' : ''}${s.overheadMs} |`,
    ),
  ];
}
