import http from 'node:http';
import type { BenchContext } from '../lib/context';
import type { BenchObject, TransferFixture } from '../lib/fixture';
import { type Measured, measured, progress, type RunRecord, runRecord } from '../lib/measured';
import { presignGet } from '../lib/presign-get';
import { memoryOf, resetPeakRss } from '../lib/proc';
import { startRangeStub } from '../lib/range-stub';
import { pct, sm, table } from '../lib/render';
import { median, round } from '../lib/stats';
import type { TargetResult } from '../lib/targets';
import { GB, MB, mbPerSecond, sizeLabel } from '../lib/units';
import { runWorker } from '../lib/workers';
import type { S3Access, UploadWorkerInput, UploadWorkerOutput } from '../workers/protocol';
import { runPipelineSingle, transferTimeoutMs } from './upload';

export const PARALLELISM = [1, 2, 4] as const;

/** Where the parts' ranged GETs go. */
export type PartSource = 'moto' | 'range-stub';

export interface ParallelResult {
  readonly partConcurrency: number;
  readonly result: Measured;
  /** Median MB/s ÷ the single-stream median on the same source. */
  readonly vsSingle: number;
  /** Median growth of the worker's RSS during the upload (peak − before), MB. */
  readonly rssGrowthMb: number;
  /**
   * Median peak RSS minus the single-stream median peak on the same source, MB: what running parts
   * in parallel costs on top of streaming (the fixed cost of the runtime, SDK and sockets cancels out).
   */
  readonly overSingleMb: number;
  /** Part size × parallelism, MB: what buffering whole parts would cost. */
  readonly rssBoundMb: number;
}

export interface SourceResult {
  readonly source: PartSource;
  readonly single: Measured;
  readonly parallel: readonly ParallelResult[];
  /** moto only: its peak RSS during these runs, MB. */
  readonly motoPeakRssMb?: number | undefined;
}

/** moto timed directly: one part-sized ranged GET against a GET of the whole object. */
export interface MotoRangeProbe {
  readonly rangeBytes: number;
  /** Medians of 3, ms. */
  readonly rangeMs: number;
  readonly fullMs: number;
  readonly rangeMbPerSec: number;
  readonly fullMbPerSec: number;
}

export interface MultipartSectionResult {
  readonly size: number;
  readonly label: string;
  readonly partSizeBytes: number;
  readonly parts: number;
  /** Absent in results files written before it existed. */
  readonly motoRangeProbe?: MotoRangeProbe | undefined;
  readonly sources: readonly SourceResult[];
}

/** Time of one GET (optionally ranged), body read and dropped in this process, ms. */
function timedGet(url: string, range?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    http
      .get(url, { headers: range ? { range } : {} }, (res) => {
        if (res.statusCode !== 200 && res.statusCode !== 206)
          reject(new Error(`GET answered ${res.statusCode}`));
        res.on('data', () => undefined);
        res.once('end', () => resolve(performance.now() - started));
        res.once('error', reject);
      })
      .once('error', reject);
  });
}

async function probeMotoRange(
  fixture: TransferFixture,
  object: BenchObject,
  partSizeBytes: number,
): Promise<MotoRangeProbe> {
  const url = () => presignGet({ ...fixture.s3, bucket: object.bucket, key: object.key });
  const range: number[] = [];
  const full: number[] = [];
  for (let i = 0; i < 3; i++) {
    range.push(await timedGet(url(), `bytes=0-${partSizeBytes - 1}`));
    full.push(await timedGet(url()));
  }
  const rangeMs = median(range);
  const fullMs = median(full);
  return {
    rangeBytes: partSizeBytes,
    rangeMs: round(rangeMs),
    fullMs: round(fullMs),
    rangeMbPerSec: round(mbPerSecond(partSizeBytes, rangeMs)),
    fullMbPerSec: round(mbPerSecond(object.size, fullMs)),
  };
}

/** The CleverTap default (64 MB) on 1 GB; smaller objects get about 16 parts, never under S3's 5 MB. */
export function partSizeFor(size: number): number {
  const sixteenth = Math.round(size / 16 / MB) * MB;
  return Math.min(64 * MB, Math.max(5 * MB, sixteenth));
}

async function runMultipart(
  ctx: BenchContext,
  fixture: TransferFixture,
  object: BenchObject,
  s3: S3Access,
  partSizeBytes: number,
  partConcurrency: number,
  fileName: string,
  nodeArgs: readonly string[] = [],
): Promise<UploadWorkerOutput> {
  const plan = await fixture.presign(object, fileName, { partSizeBytes });
  if (plan.kind !== 'multipart') throw new Error('expected a multipart plan');
  const input: UploadWorkerInput = {
    s3,
    object: { bucket: object.bucket, key: object.key, eTag: object.eTag },
    size: object.size,
    plan: { kind: 'multipart', parts: plan.parts },
    uploadHostAllowList: fixture.route.uploadHostAllowList,
    partConcurrency,
  };
  const output = await runWorker<UploadWorkerInput, UploadWorkerOutput>(
    ctx.workers.file('upload-worker'),
    input,
    {
      timeoutMs: transferTimeoutMs(object.size) * 3,
      nodeArgs,
    },
  );
  const uploads = fixture.sandbox.log.uploads({ vendor: 'clevertap-catalog', fileName });
  const received = uploads.reduce((sum, u) => sum + u.size, 0);
  if (uploads.length !== plan.parts.length || received !== object.size) {
    throw new Error(`${fileName}: the sandbox got ${uploads.length} parts, ${received} bytes`);
  }
  // complete-multipart checks every part's ETag, the order and the 5 MB minimum; complete checks fileSize.
  await fixture.complete(plan, { kind: 'multipart', url: '', parts: output.parts ?? [] });
  return output;
}

/**
 * CleverTap multipart on the largest object (1 GB by default) with 1, 2 and 4 parts in flight, next
 * to a single-stream upload of the same object from the same source. Runs on moto, and again on a
 * file-backed range stub, because moto reads the whole object for each ranged GET.
 */
export async function multipartSection(ctx: BenchContext): Promise<MultipartSectionResult> {
  const fixture = await ctx.fixture();
  const size = ctx.options.sizes.includes(GB) ? GB : Math.max(...ctx.options.sizes);
  const label = sizeLabel(size);
  const partSizeBytes = partSizeFor(size);
  const parts = Math.ceil(size / partSizeBytes);
  if (size < 2 * 5 * MB)
    throw new Error(`multipart needs an object of at least 10 MB; the largest is ${label}`);
  progress(`multipart: ${label} in ${parts} parts of ${sizeLabel(partSizeBytes)}`);
  const object = await fixture.object(size);
  const motoRangeProbe = await probeMotoRange(fixture, object, partSizeBytes);
  progress(
    `multipart: moto serves a ${sizeLabel(partSizeBytes)} range of the ${label} object in ${motoRangeProbe.rangeMs} ms, the whole object in ${motoRangeProbe.fullMs} ms`,
  );
  const stub = await startRangeStub(ctx, object);
  const sources: SourceResult[] = [];
  try {
    for (const source of ['moto', 'range-stub'] as const) {
      const s3 = source === 'moto' ? fixture.s3 : stub.s3;
      if (source === 'moto' && fixture.motoPid !== undefined) resetPeakRss(fixture.motoPid);
      const singleRuns: RunRecord[] = [];
      const parallelRuns = new Map<number, RunRecord[]>(PARALLELISM.map((p) => [p, []]));
      for (let run = 1; run <= ctx.options.repeat; run++) {
        const single = await runPipelineSingle(ctx, fixture, object, `mp-${source}-single-${run}.csv`, {
          s3,
        });
        singleRuns.push(runRecord(run, size, single));
        for (const p of PARALLELISM) {
          const out = await runMultipart(
            ctx,
            fixture,
            object,
            s3,
            partSizeBytes,
            p,
            `mp-${source}-p${p}-${run}.csv`,
          );
          parallelRuns.get(p)?.push(runRecord(run, size, out));
        }
        progress(
          `multipart ${source} run ${run}/${ctx.options.repeat}: single ${singleRuns.at(-1)?.mbPerSec} MB/s, ` +
            PARALLELISM.map((p) => `p${p} ${parallelRuns.get(p)?.at(-1)?.mbPerSec} MB/s`).join(', '),
        );
      }
      const single = measured(singleRuns);
      const parallel = PARALLELISM.map((p): ParallelResult => {
        const runs = parallelRuns.get(p) ?? [];
        const result = measured(runs);
        return {
          partConcurrency: p,
          result,
          vsSingle: round(result.mbPerSec.median / single.mbPerSec.median, 3),
          rssGrowthMb: round(median(runs.map((r) => r.peakRssMb - r.rssBeforeMb))),
          overSingleMb: round(result.peakRssMb.median - single.peakRssMb.median),
          rssBoundMb: round((partSizeBytes / MB) * p),
        };
      });
      const motoPeak =
        source === 'moto' && fixture.motoPid !== undefined ? memoryOf(fixture.motoPid) : undefined;
      sources.push({
        source,
        single,
        parallel,
        motoPeakRssMb: motoPeak ? round(motoPeak.peakRssMb) : undefined,
      });
    }
  } finally {
    await stub.stop();
  }
  return { size, label, partSizeBytes, parts, motoRangeProbe, sources };
}

/** Parallel parts never slower than single-stream (per part source), and their RSS bounded. */
export function multipartTargets(r: MultipartSectionResult | undefined): TargetResult[] {
  const targets: TargetResult[] = [];
  for (const source of ['moto', 'range-stub'] as const) {
    const s = r?.sources.find((x) => x.source === source);
    const parallel = s?.parallel.filter((p) => p.partConcurrency >= 2) ?? [];
    // "Slower" = the median is below single-stream by more than the run-to-run noise (the larger
    // half-spread of the two): a 2% gap between two ±5% measurements is a tie, not a regression.
    const tolerance = (p: (typeof parallel)[number]) =>
      s ? Math.max(p.result.mbPerSec.spreadPct, s.single.mbPerSec.spreadPct) / 200 : 0;
    const slower = parallel.filter((p) => p.vsSingle < 1 - tolerance(p));
    // And the best parallelism must reach single-stream (≥ 1.0 × its median).
    const best = Math.max(0, ...parallel.map((p) => p.vsSingle));
    targets.push({
      id: `multipart-speed-${source}`,
      target: `Multipart with parallel parts ≥ 1.0 × single-stream, never slower (parts read from ${source === 'moto' ? 'moto' : 'the range-efficient stub'})`,
      status: !s ? 'not measured' : slower.length === 0 && best >= 1 ? 'met' : 'missed',
      detail: !s
        ? 'multipart section not run'
        : `single ${s.single.mbPerSec.median} MB/s; ${s.parallel
            .map(
              (p) =>
                `×${p.partConcurrency} ${p.result.mbPerSec.median} MB/s (${pct(p.vsSingle)}${p.partConcurrency >= 2 && p.vsSingle < 1 && !slower.includes(p) ? `, a tie within ±${(tolerance(p) * 100).toFixed(0)}%` : ''})`,
            )
            .join(', ')}`,
    });
  }
  const allParallel = r?.sources.flatMap((s) => s.parallel.map((p) => ({ source: s.source, ...p }))) ?? [];
  const over = allParallel.filter((p) => p.overSingleMb > p.rssBoundMb);
  targets.push({
    id: 'multipart-rss',
    target: 'Multipart RSS bounded by part size × parallelism (peak over the single-stream peak)',
    status: allParallel.length === 0 ? 'not measured' : over.length === 0 ? 'met' : 'missed',
    detail:
      allParallel.length === 0
        ? 'multipart section not run'
        : allParallel
            .map(
              (p) =>
                `${p.source} ×${p.partConcurrency}: ${p.overSingleMb >= 0 ? '+' : ''}${p.overSingleMb} MB over single-stream (bound ${p.rssBoundMb} MB)`,
            )
            .join('; '),
  });
  return targets;
}

export function renderMultipart(mp: MultipartSectionResult | undefined): string[] {
  if (!mp) return [];
  const out: string[] = [
    '',
    `### CleverTap multipart, ${mp.label} in ${mp.parts} parts of ${sizeLabel(mp.partSizeBytes)}`,
    '',
  ];
  const rows: Array<Array<string | number>> = [];
  for (const s of mp.sources) {
    rows.push([
      s.source,
      'single stream',
      sm(s.single.mbPerSec),
      '1.00',
      sm(s.single.wallMs, 0),
      sm(s.single.cpuMs, 0),
      sm(s.single.peakRssMb),
      '',
      '',
      '',
    ]);
    for (const p of s.parallel) {
      rows.push([
        s.source,
        `${p.partConcurrency} part${p.partConcurrency > 1 ? 's' : ''} in flight`,
        sm(p.result.mbPerSec),
        p.vsSingle.toFixed(2),
        sm(p.result.wallMs, 0),
        sm(p.result.cpuMs, 0),
        sm(p.result.peakRssMb),
        p.rssGrowthMb.toFixed(1),
        p.overSingleMb.toFixed(1),
        p.rssBoundMb.toFixed(0),
      ]);
    }
  }
  out.push(
    table(
      [
        'Parts read from',
        'Mode',
        'MB/s',
        'vs single',
        'Wall ms',
        'CPU ms',
        'Peak RSS MB',
        'Growth in run MB',
        'Peak over single MB',
        'Bound MB',
      ],
      rows,
    ),
  );
  const probe = mp.motoRangeProbe;
  if (probe) {
    out.push(
      '',
      `moto timed directly: a ${sizeLabel(probe.rangeBytes)} ranged GET of the ${mp.label} object takes ${probe.rangeMs.toFixed(0)} ms ` +
        `(${probe.rangeMbPerSec.toFixed(0)} MB/s), the whole object ${probe.fullMs.toFixed(0)} ms (${probe.fullMbPerSec.toFixed(0)} MB/s).`,
    );
  }
  const motoPeak = mp.sources.find((s) => s.source === 'moto')?.motoPeakRssMb;
  if (motoPeak !== undefined)
    out.push('', `moto's peak RSS during the moto-sourced multipart runs: ${motoPeak.toFixed(0)} MB.`);
  return out;
}
