import type { BenchContext } from '../lib/context';
import { type Measured, measured, progress, type RunRecord, runRecord } from '../lib/measured';
import { pct, sm, table } from '../lib/render';
import { round } from '../lib/stats';
import type { TargetResult } from '../lib/targets';
import { GB, MB, sizeLabel } from '../lib/units';
import { runWorker } from '../lib/workers';
import type { ReadWorkerInput, ReadWorkerOutput } from '../workers/protocol';
import { transferTimeoutMs } from './upload';

export interface HashSizeResult {
  readonly size: number;
  readonly label: string;
  /** `sha256OfObject`: the inspect route's hashing pass. */
  readonly sha256: Measured;
  /** `openObject` read and discarded: the raw S3 read rate. */
  readonly read: Measured;
  /** Median hashing MB/s ÷ median raw read MB/s (target ≥ 0.8). */
  readonly ratio: number;
}

export interface HashSectionResult {
  readonly sizes: readonly HashSizeResult[];
}

/** The hashing pass against a plain read of the same object, 100 MB and up, alternating. */
export async function hashSection(ctx: BenchContext): Promise<HashSectionResult> {
  const fixture = await ctx.fixture();
  const sizes = ctx.options.sizes.filter((size) => size >= 100 * MB);
  const results: HashSizeResult[] = [];
  for (const size of sizes) {
    const label = sizeLabel(size);
    const object = await fixture.object(size);
    const expected = Buffer.from(object.sha256Hex, 'hex').toString('base64');
    const hashRuns: RunRecord[] = [];
    const readRuns: RunRecord[] = [];
    for (let run = 1; run <= ctx.options.repeat; run++) {
      const order = run % 2 === 1 ? (['sha256', 'discard'] as const) : (['discard', 'sha256'] as const);
      for (const mode of order) {
        const input: ReadWorkerInput = {
          s3: fixture.s3,
          object: { bucket: object.bucket, key: object.key, eTag: object.eTag },
          size: object.size,
          mode,
        };
        const out = await runWorker<ReadWorkerInput, ReadWorkerOutput>(
          ctx.workers.file('read-worker'),
          input,
          {
            timeoutMs: transferTimeoutMs(size),
          },
        );
        if (mode === 'sha256') {
          if (out.sha256Base64 !== expected)
            throw new Error(`sha256OfObject gave ${out.sha256Base64}, expected ${expected}`);
          hashRuns.push(runRecord(run, size, out));
        } else {
          if (out.bytes !== size) throw new Error(`read ${out.bytes} of ${size} bytes`);
          readRuns.push(runRecord(run, size, out));
        }
      }
      progress(
        `hash ${label} run ${run}/${ctx.options.repeat}: sha256 ${hashRuns.at(-1)?.mbPerSec} MB/s, read ${readRuns.at(-1)?.mbPerSec} MB/s`,
      );
    }
    const sha256 = measured(hashRuns);
    const read = measured(readRuns);
    results.push({
      size,
      label,
      sha256,
      read,
      ratio: round(sha256.mbPerSec.median / read.mbPerSec.median, 3),
    });
  }
  return { sizes: results };
}

/** The hashing pass against the raw read at 100 MB and 1 GB. */
export function hashTargets(r: HashSectionResult | undefined): TargetResult[] {
  const bySize = new Map((r?.sizes ?? []).map((s) => [s.size, s]));
  return [100 * MB, GB].map((size) => {
    const s = bySize.get(size);
    return {
      id: `hash-${sizeLabel(size)}`,
      target: `Hashing ≥ 0.9 × S3 read rate at ${sizeLabel(size)}`,
      status: s === undefined ? 'not measured' : s.ratio >= 0.9 ? 'met' : 'missed',
      detail:
        s === undefined
          ? `${sizeLabel(size)} not measured`
          : `sha256OfObject ${s.sha256.mbPerSec.median} MB/s vs read ${s.read.mbPerSec.median} MB/s = ${pct(s.ratio)}`,
    };
  });
}

export function renderHash(r: HashSectionResult | undefined): string[] {
  if (!r) return [];
  return [
    '',
    '### Inspect hashing pass vs raw S3 read',
    '',
    table(
      ['Size', 'sha256OfObject MB/s', 'Read + discard MB/s', 'Ratio', 'Hash CPU ms', 'Read CPU ms'],
      r.sizes.map((s) => [
        s.label,
        sm(s.sha256.mbPerSec),
        sm(s.read.mbPerSec),
        s.ratio.toFixed(2),
        sm(s.sha256.cpuMs, 0),
        sm(s.read.cpuMs, 0),
      ]),
    ),
  ];
}
