import type { BenchContext } from '../lib/context';
import type { BenchObject, TransferFixture } from '../lib/fixture';
import { motoMemory } from '../lib/fixture';
import { type Measured, measured, progress, type RunRecord, runRecord } from '../lib/measured';
import { presignGet } from '../lib/presign-get';
import { pct, sm, table } from '../lib/render';
import { round } from '../lib/stats';
import type { TargetResult } from '../lib/targets';
import { GB, MB, sizeLabel } from '../lib/units';
import { runWorker } from '../lib/workers';
import type {
  BaselineWorkerInput,
  BaselineWorkerOutput,
  S3Access,
  UploadWorkerInput,
  UploadWorkerOutput,
} from '../workers/protocol';

export interface UploadSizeResult {
  readonly size: number;
  readonly label: string;
  /** moto's time to take the object (streamed PutObject), ms. */
  readonly motoPutMs: number;
  readonly pipeline: Measured;
  readonly baseline: Measured;
  /** Median MB/s of the pipeline ÷ median MB/s of the baseline. */
  readonly throughputRatio: number;
  /** Median CPU ms of the pipeline ÷ that of the baseline. */
  readonly cpuRatio: number;
}

export interface UploadSectionResult {
  readonly sizes: readonly UploadSizeResult[];
  readonly motoMemory: { rssMb: number; peakRssMb: number } | undefined;
}

/** Generous per-run limit: 60 s plus 10 MB/s. */
export function transferTimeoutMs(size: number): number {
  return 60_000 + (size / MB / 10) * 1000;
}

/** The sandbox must hold exactly the bytes of the object: same size, same SHA-256. */
export function verifySingleUpload(fixture: TransferFixture, fileName: string, object: BenchObject): void {
  const uploads = fixture.sandbox.log.uploads({ vendor: 'clevertap-catalog', fileName });
  const last = uploads.at(-1);
  if (!last || last.size !== object.size || last.sha256Hex !== object.sha256Hex) {
    throw new Error(
      `${fileName}: the sandbox holds ${last ? `${last.size} bytes, sha256 ${last.sha256Hex}` : 'nothing'}; expected ${object.size} bytes, sha256 ${object.sha256Hex}`,
    );
  }
}

export interface RunExtras {
  /** Read the object from here instead of moto (the range-efficient stand-in). */
  readonly s3?: S3Access;
  readonly nodeArgs?: readonly string[];
}

export async function runPipelineSingle(
  ctx: BenchContext,
  fixture: TransferFixture,
  object: BenchObject,
  fileName: string,
  extras: RunExtras = {},
): Promise<UploadWorkerOutput> {
  const plan = await fixture.presign(object, fileName);
  if (plan.kind !== 'single') throw new Error('expected a single plan');
  const input: UploadWorkerInput = {
    s3: extras.s3 ?? fixture.s3,
    object: { bucket: object.bucket, key: object.key, eTag: object.eTag },
    size: object.size,
    plan: { kind: 'single', target: plan.target },
    uploadHostAllowList: fixture.route.uploadHostAllowList,
    partConcurrency: 1,
  };
  const output = await runWorker<UploadWorkerInput, UploadWorkerOutput>(
    ctx.workers.file('upload-worker'),
    input,
    {
      timeoutMs: transferTimeoutMs(object.size),
      nodeArgs: extras.nodeArgs ?? [],
    },
  );
  verifySingleUpload(fixture, fileName, object);
  return output;
}

export async function runBaseline(
  ctx: BenchContext,
  fixture: TransferFixture,
  object: BenchObject,
  fileName: string,
  nodeArgs: readonly string[] = [],
): Promise<BaselineWorkerOutput> {
  const plan = await fixture.presign(object, fileName);
  if (plan.kind !== 'single') throw new Error('expected a single plan');
  const input: BaselineWorkerInput = {
    getUrl: presignGet({ ...fixture.s3, bucket: object.bucket, key: object.key }),
    put: plan.target,
    size: object.size,
  };
  const output = await runWorker<BaselineWorkerInput, BaselineWorkerOutput>(
    ctx.workers.file('baseline-worker'),
    input,
    { timeoutMs: transferTimeoutMs(object.size), nodeArgs },
  );
  verifySingleUpload(fixture, fileName, object);
  return output;
}

/**
 * Single-stream delivery of each size through the real uploader and through the baseline copy, each
 * run in a fresh child process. The two alternate (ABAB, then BABA) so drift in background load
 * falls on both alike.
 */
export async function uploadSection(ctx: BenchContext): Promise<UploadSectionResult> {
  const fixture = await ctx.fixture();
  const results: UploadSizeResult[] = [];
  for (const size of ctx.options.sizes) {
    const label = sizeLabel(size);
    progress(`upload: putting the ${label} object into moto`);
    const object = await fixture.object(size);
    const pipelineRuns: RunRecord[] = [];
    const baselineRuns: RunRecord[] = [];
    for (let run = 1; run <= ctx.options.repeat; run++) {
      const order = run % 2 === 1 ? (['pipeline', 'baseline'] as const) : (['baseline', 'pipeline'] as const);
      for (const variant of order) {
        const fileName = `upload-${label}-${variant}-${run}.csv`;
        if (variant === 'pipeline') {
          const out = await runPipelineSingle(ctx, fixture, object, fileName);
          pipelineRuns.push(runRecord(run, object.size, out));
        } else {
          const out = await runBaseline(ctx, fixture, object, fileName);
          baselineRuns.push(runRecord(run, object.size, out));
        }
      }
      progress(
        `upload ${label} run ${run}/${ctx.options.repeat}: pipeline ${pipelineRuns.at(-1)?.mbPerSec} MB/s, baseline ${baselineRuns.at(-1)?.mbPerSec} MB/s`,
      );
    }
    const pipeline = measured(pipelineRuns);
    const baseline = measured(baselineRuns);
    results.push({
      size,
      label,
      motoPutMs: round(object.putMs),
      pipeline,
      baseline,
      throughputRatio: round(pipeline.mbPerSec.median / baseline.mbPerSec.median, 3),
      cpuRatio: round(pipeline.cpuMs.median / baseline.cpuMs.median, 3),
    });
  }
  const memory = motoMemory(fixture);
  return {
    sizes: results,
    motoMemory: memory ? { rssMb: round(memory.rssMb), peakRssMb: round(memory.peakRssMb) } : undefined,
  };
}

/** Throughput against the baseline at 1 MB, 100 MB and 1 GB, and the 1 GB RSS bound. */
export function uploadTargets(r: UploadSectionResult | undefined): TargetResult[] {
  const targets: TargetResult[] = [];
  const bySize = new Map((r?.sizes ?? []).map((s) => [s.size, s]));
  for (const [size, floor] of [
    [MB, 0.85],
    [100 * MB, 0.95],
    [GB, 0.95],
  ] as const) {
    const s = bySize.get(size);
    targets.push({
      id: `throughput-${sizeLabel(size)}`,
      target: `Throughput ≥ ${floor} × baseline at ${sizeLabel(size)}${size === MB ? ' (fresh process)' : ''}`,
      status: s === undefined ? 'not measured' : s.throughputRatio >= floor ? 'met' : 'missed',
      detail:
        s === undefined
          ? `${sizeLabel(size)} not in --sizes`
          : `pipeline ${s.pipeline.mbPerSec.median} MB/s vs baseline ${s.baseline.mbPerSec.median} MB/s = ${pct(s.throughputRatio)}`,
    });
  }

  const small = bySize.get(MB);
  const big = bySize.get(GB);
  targets.push({
    id: 'rss-1GB',
    target: '1 GB peak RSS ≤ 1 MB peak RSS + 64 MB (real uploader)',
    status:
      !small || !big
        ? 'not measured'
        : big.pipeline.peakRssMb.median <= small.pipeline.peakRssMb.median + 64
          ? 'met'
          : 'missed',
    detail:
      !small || !big
        ? 'needs 1MB and 1GB in --sizes'
        : `1 GB ${big.pipeline.peakRssMb.median} MB vs 1 MB ${small.pipeline.peakRssMb.median} MB: +${(big.pipeline.peakRssMb.median - small.pipeline.peakRssMb.median).toFixed(1)} MB (limit +64 MB)`,
  });
  return targets;
}

export function renderUpload(r: UploadSectionResult | undefined): string[] {
  if (!r) return [];
  const moto = r.motoMemory;
  return [
    '',
    '### Single-stream delivery: real uploader vs baseline copy',
    '',
    table(
      [
        'Size',
        'Pipeline MB/s',
        'Baseline MB/s',
        'Ratio',
        'Pipeline wall ms',
        'Baseline wall ms',
        'Pipeline CPU ms',
        'Baseline CPU ms',
        'Pipeline peak RSS MB',
        'Baseline peak RSS MB',
      ],
      r.sizes.map((s) => [
        s.label,
        sm(s.pipeline.mbPerSec),
        sm(s.baseline.mbPerSec),
        s.throughputRatio.toFixed(2),
        sm(s.pipeline.wallMs, 0),
        sm(s.baseline.wallMs, 0),
        sm(s.pipeline.cpuMs, 0),
        sm(s.baseline.cpuMs, 0),
        sm(s.pipeline.peakRssMb),
        sm(s.baseline.peakRssMb),
      ]),
    ),
    '',
    `moto took the objects in ${r.sizes.map((s) => `${s.label} ${(s.motoPutMs / 1000).toFixed(1)} s`).join(', ')}` +
      (moto ? `; moto RSS now ${moto.rssMb.toFixed(0)} MB, peak ${moto.peakRssMb.toFixed(0)} MB.` : '.'),
  ];
}
