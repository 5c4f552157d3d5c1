import type { BenchContext } from '../lib/context';
import type { BenchObject } from '../lib/fixture';
import { type Measured, measured, progress, type RunRecord, runRecord } from '../lib/measured';
import { startRangeStub } from '../lib/range-stub';
import { pct, sm, table } from '../lib/render';
import { round } from '../lib/stats';
import type { TargetResult } from '../lib/targets';
import { GB, MB, sizeLabel } from '../lib/units';
import { runWorker } from '../lib/workers';
import type { ReadWorkerInput, ReadWorkerOutput, S3Access } from '../workers/protocol';
import { transferTimeoutMs } from './upload';

/** Where the object is read from: moto (a core of this box) or the file-backed stub (almost none). */
export type HashSource = 'moto' | 'range-stub';
const SOURCES: readonly HashSource[] = ['moto', 'range-stub'];

export interface HashSizeResult {
  readonly size: number;
  readonly label: string;
  /** Absent in results recorded before the stub was measured: moto. */
  readonly source?: HashSource;
  /** `sha256OfObject`: the inspect route's hashing pass. */
  readonly sha256: Measured;
  /** `openObject` read and discarded: the raw S3 read rate. */
  readonly read: Measured;
  /** Median hashing MB/s ÷ median raw read MB/s. */
  readonly ratio: number;
}

export interface HashSectionResult {
  readonly sizes: readonly HashSizeResult[];
}

/** Hashing pass and plain read of one object from one source, alternating which goes first. */
async function measureSource(
  ctx: BenchContext,
  object: BenchObject,
  s3: S3Access,
  source: HashSource,
): Promise<HashSizeResult> {
  const { size } = object;
  const label = sizeLabel(size);
  const expected = Buffer.from(object.sha256Hex, 'hex').toString('base64');
  const hashRuns: RunRecord[] = [];
  const readRuns: RunRecord[] = [];
  for (let run = 1; run <= ctx.options.repeat; run++) {
    const order = run % 2 === 1 ? (['sha256', 'discard'] as const) : (['discard', 'sha256'] as const);
    for (const mode of order) {
      const input: ReadWorkerInput = {
        s3,
        object: { bucket: object.bucket, key: object.key, eTag: object.eTag },
        size,
        mode,
      };
      const out = await runWorker<ReadWorkerInput, ReadWorkerOutput>(ctx.workers.file('read-worker'), input, {
        timeoutMs: transferTimeoutMs(size),
      });
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
      `hash ${label} from ${source} run ${run}/${ctx.options.repeat}: sha256 ${hashRuns.at(-1)?.mbPerSec} MB/s, read ${readRuns.at(-1)?.mbPerSec} MB/s`,
    );
  }
  const sha256 = measured(hashRuns);
  const read = measured(readRuns);
  return {
    size,
    label,
    source,
    sha256,
    read,
    ratio: round(sha256.mbPerSec.median / read.mbPerSec.median, 3),
  };
}

/**
 * The hashing pass against a plain read of the same object, 100 MB and up: from moto, and from the
 * file-backed stub. On this 2-core box moto serving a read takes a core, so reader, hasher and server
 * share two; S3 serves from its own machines, which the stub stands in for.
 */
export async function hashSection(ctx: BenchContext): Promise<HashSectionResult> {
  const fixture = await ctx.fixture();
  const sizes = ctx.options.sizes.filter((size) => size >= 100 * MB);
  const results: HashSizeResult[] = [];
  for (const size of sizes) {
    const object = await fixture.object(size);
    results.push(await measureSource(ctx, object, fixture.s3, 'moto'));
    const stub = await startRangeStub(ctx, object);
    try {
      results.push(await measureSource(ctx, object, stub.s3, 'range-stub'));
    } finally {
      await stub.stop();
    }
  }
  return { sizes: results };
}

const sourceOf = (s: HashSizeResult): HashSource => s.source ?? 'moto';
const sourceName = (source: HashSource) => (source === 'moto' ? 'moto' : 'the file-backed stub');

/** The hashing pass against the raw read at 100 MB and 1 GB, from each source. */
export function hashTargets(r: HashSectionResult | undefined): TargetResult[] {
  const found = (size: number, source: HashSource) =>
    (r?.sizes ?? []).find((s) => s.size === size && sourceOf(s) === source);
  return SOURCES.flatMap((source) =>
    [100 * MB, GB].map((size) => {
      const s = found(size, source);
      return {
        id: source === 'moto' ? `hash-${sizeLabel(size)}` : `hash-${sizeLabel(size)}-${source}`,
        target: `Hashing ≥ 0.9 × S3 read rate at ${sizeLabel(size)} (read from ${sourceName(source)})`,
        status: s === undefined ? 'not measured' : s.ratio >= 0.9 ? 'met' : 'missed',
        detail:
          s === undefined
            ? `${sizeLabel(size)} not measured`
            : `sha256OfObject ${s.sha256.mbPerSec.median} MB/s vs read ${s.read.mbPerSec.median} MB/s = ${pct(s.ratio)}`,
      } satisfies TargetResult;
    }),
  );
}

export function renderHash(r: HashSectionResult | undefined): string[] {
  if (!r) return [];
  return [
    '',
    '### Inspect hashing pass vs raw S3 read',
    '',
    table(
      [
        'Size',
        'Read from',
        'sha256OfObject MB/s',
        'Read + discard MB/s',
        'Ratio',
        'Hash CPU ms',
        'Read CPU ms',
      ],
      r.sizes.map((s) => [
        s.label,
        sourceOf(s),
        sm(s.sha256.mbPerSec),
        sm(s.read.mbPerSec),
        s.ratio.toFixed(2),
        sm(s.sha256.cpuMs, 0),
        sm(s.read.cpuMs, 0),
      ]),
    ),
    '',
    'moto serving a read takes one of this box’s two cores, so reading, hashing and serving share two; the',
    'file-backed stub serves from the page cache at little CPU, as S3 serves from machines of its own.',
  ];
}
