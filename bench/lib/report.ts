import type { ColdStartSectionResult } from '../sections/coldstart';
import type { HashSectionResult } from '../sections/hash';
import type { MultipartSectionResult } from '../sections/multipart';
import type { OverheadSectionResult } from '../sections/overhead';
import type { UploadSectionResult } from '../sections/upload';
import { renderWarm, type WarmSectionResult, warmTargets } from '../sections/warm';
import type { BenchOptions } from './context';
import type { MachineInfo } from './machine';
import type { ProfileSummary } from './profile';
import { round, type Summary } from './stats';
import { GB, MB, sizeLabel } from './units';

export interface BenchResults {
  readonly schema: 1;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationSeconds: number;
  readonly command: string;
  readonly options: {
    readonly sizes: readonly string[];
    readonly repeat: number;
    readonly only: readonly string[];
    readonly quick: boolean;
    readonly files: number;
    readonly imports: number;
    readonly cpuProf: boolean;
  };
  readonly machine: MachineInfo;
  /** 1, 5 and 15 minute load averages when the run ended. */
  readonly loadavgAtEnd: readonly number[];
  readonly upload?: UploadSectionResult | undefined;
  readonly multipart?: MultipartSectionResult | undefined;
  readonly hash?: HashSectionResult | undefined;
  readonly coldstart?: ColdStartSectionResult | undefined;
  readonly overhead?: OverheadSectionResult | undefined;
  readonly warm?: WarmSectionResult | undefined;
  readonly profiles: readonly ProfileSummary[];
  readonly targets: readonly TargetResult[];
}

export type TargetStatus = 'met' | 'missed' | 'not measured';

export interface TargetResult {
  readonly id: string;
  readonly target: string;
  readonly status: TargetStatus;
  readonly detail: string;
}

export function optionsRecord(options: BenchOptions): BenchResults['options'] {
  return {
    sizes: options.sizes.map(sizeLabel),
    repeat: options.repeat,
    only: [...options.only],
    quick: options.quick,
    files: options.files,
    imports: options.imports,
    cpuProf: options.cpuProf,
  };
}

const pct = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;

/** Judges every target the run has figures for. */
export function evaluateTargets(r: Omit<BenchResults, 'targets'>): TargetResult[] {
  const targets: TargetResult[] = [];

  const bySize = new Map((r.upload?.sizes ?? []).map((s) => [s.size, s]));
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

  for (const source of ['moto', 'range-stub'] as const) {
    const s = r.multipart?.sources.find((x) => x.source === source);
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
  const allParallel =
    r.multipart?.sources.flatMap((s) => s.parallel.map((p) => ({ source: s.source, ...p }))) ?? [];
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

  for (const fn of r.coldstart?.functions ?? []) {
    targets.push({
      id: `init-${fn.name}`,
      target: `Module init ≤ 100 ms median (${fn.name})`,
      status: fn.initMs.median <= 100 ? 'met' : 'missed',
      detail: `${fn.initMs.median} ms median of ${fn.initMs.n} (range ${fn.initMs.min}–${fn.initMs.max}); ${fn.initNoSourceMapsMs.median} ms without --enable-source-maps`,
    });
  }
  if (!r.coldstart) {
    targets.push({
      id: 'init',
      target: 'Module init ≤ 100 ms median per function',
      status: 'not measured',
      detail: 'coldstart section not run',
    });
  }
  const fns = r.coldstart?.functions ?? [];
  targets.push({
    id: 'sdk-clients',
    target: 'No unused SDK clients in a bundle',
    status:
      fns.length === 0
        ? 'not measured'
        : fns.every((f) => f.unexpectedClients.length === 0)
          ? 'met'
          : 'missed',
    detail:
      fns.length === 0
        ? 'coldstart section not run'
        : fns
            .map(
              (f) =>
                `${f.name}: ${f.sdkClients.join(', ')}${f.unexpectedClients.length > 0 ? ` — unexpected: ${f.unexpectedClients.join(', ')}` : ''}${f.nestedClients.length > 0 ? ` (+ nested-clients ${f.nestedClients.join(', ')} from the credential chain)` : ''}`,
            )
            .join('; '),
  });

  const hashBySize = new Map((r.hash?.sizes ?? []).map((s) => [s.size, s]));
  for (const size of [100 * MB, GB]) {
    const s = hashBySize.get(size);
    targets.push({
      id: `hash-${sizeLabel(size)}`,
      target: `Hashing ≥ 0.9 × S3 read rate at ${sizeLabel(size)}`,
      status: s === undefined ? 'not measured' : s.ratio >= 0.9 ? 'met' : 'missed',
      detail:
        s === undefined
          ? `${sizeLabel(size)} not measured`
          : `sha256OfObject ${s.sha256.mbPerSec.median} MB/s vs read ${s.read.mbPerSec.median} MB/s = ${pct(s.ratio)}`,
    });
  }
  targets.push(...warmTargets(r.warm));
  targets.push(...callTargets(r.overhead));
  return targets;
}

/** AWS calls of the functions per delivered file, from the overhead section's timing proxy. */
export function callsPerFile(o: OverheadSectionResult): { writes: number; all: number } {
  const perFile = (calls: number) => calls / Math.max(1, o.completed);
  const fromFunctions = o.awsCalls.filter((t) => t.caller === 'dispatch' || t.caller === 'completion');
  const writes = fromFunctions
    .filter((t) => /DynamoDB (UpdateItem|PutItem|DeleteItem|TransactWriteItems)/.test(t.operation))
    .reduce((sum, t) => sum + t.calls, 0);
  const all = fromFunctions.reduce((sum, t) => sum + t.calls, 0);
  return { writes: round(perFile(writes), 2), all: round(perFile(all), 2) };
}

function callTargets(o: OverheadSectionResult | undefined): TargetResult[] {
  if (!o) {
    return [
      {
        id: 'writes-per-file',
        target: 'DynamoDB writes per delivered file ≤ 3',
        status: 'not measured',
        detail: 'overhead section not run',
      },
      {
        id: 'calls-per-file',
        target: 'AWS calls per delivered file ≤ 8',
        status: 'not measured',
        detail: 'overhead section not run',
      },
    ];
  }
  const { writes, all } = callsPerFile(o);
  if (all === 0) {
    // The timing proxy attributed no call to a function process: nothing was measured.
    return ['writes-per-file', 'calls-per-file'].map((id) => ({
      id,
      target:
        id === 'writes-per-file'
          ? 'DynamoDB writes per delivered file ≤ 3'
          : 'AWS calls per delivered file ≤ 8',
      status: 'not measured' as const,
      detail: 'the timing proxy attributed no AWS call to the function processes',
    }));
  }
  return [
    {
      id: 'writes-per-file',
      target: 'DynamoDB writes per delivered file ≤ 3',
      status: writes <= 3 ? 'met' : 'missed',
      detail: `${writes} writes per file over ${o.completed} files (every route, burst)`,
    },
    {
      id: 'calls-per-file',
      target: 'AWS calls per delivered file ≤ 8',
      status: all <= 8 ? 'met' : 'missed',
      detail: `${all} calls per file over ${o.completed} files (every route, burst)`,
    },
  ];
}

function sm(s: Summary, digits = 1): string {
  const spread = s.n > 1 ? ` ±${Math.round(s.spreadPct / 2)}%` : '';
  return `${s.median.toFixed(digits)}${spread}`;
}

function table(header: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.map(String).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;

/** The results as the markdown that bench/results/latest.md and docs/benchmarks.md show. */
export function renderMarkdown(r: BenchResults): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(`## Results of ${r.startedAt}`);
  out.push('');
  out.push(
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGb} GB, ${m.platform} (kernel ${m.kernel}), Node ${m.node}. ` +
      `Load average at start ${m.loadavg.join(' / ')}, at end ${r.loadavgAtEnd.join(' / ')} (1 / 5 / 15 min). ` +
      `Command: \`${r.command}\` (${r.durationSeconds.toFixed(0)} s). Medians of ${r.options.repeat} runs; ±x% is half the spread (max − min) / median. ` +
      'MB = 2^20 bytes.',
  );

  out.push('', '### Targets', '');
  out.push(
    table(
      ['Target', 'Status', 'Figures'],
      r.targets.map((t) => [
        t.target,
        t.status === 'met' ? '**met**' : t.status === 'missed' ? '**missed**' : t.status,
        t.detail,
      ]),
    ),
  );

  if (r.upload) {
    out.push('', '### Single-stream delivery: real uploader vs baseline copy', '');
    out.push(
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
        r.upload.sizes.map((s) => [
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
    );
    const moto = r.upload.motoMemory;
    out.push(
      '',
      `moto took the objects in ${r.upload.sizes.map((s) => `${s.label} ${(s.motoPutMs / 1000).toFixed(1)} s`).join(', ')}` +
        (moto ? `; moto RSS now ${moto.rssMb.toFixed(0)} MB, peak ${moto.peakRssMb.toFixed(0)} MB.` : '.'),
    );
  }

  out.push(...renderWarm(r.warm));
  if (r.multipart) {
    const mp = r.multipart;
    out.push(
      '',
      `### CleverTap multipart, ${mp.label} in ${mp.parts} parts of ${sizeLabel(mp.partSizeBytes)}`,
      '',
    );
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
  }

  if (r.hash) {
    out.push('', '### Inspect hashing pass vs raw S3 read', '');
    out.push(
      table(
        ['Size', 'sha256OfObject MB/s', 'Read + discard MB/s', 'Ratio', 'Hash CPU ms', 'Read CPU ms'],
        r.hash.sizes.map((s) => [
          s.label,
          sm(s.sha256.mbPerSec),
          sm(s.read.mbPerSec),
          s.ratio.toFixed(2),
          sm(s.sha256.cpuMs, 0),
          sm(s.read.cpuMs, 0),
        ]),
      ),
    );
  }

  if (r.coldstart) {
    out.push(
      '',
      `### Cold-start proxy (deployed bundles, ${r.coldstart.samples} fresh-process imports each)`,
      '',
    );
    out.push(
      table(
        [
          'Function',
          'Bundle',
          'gzip',
          'Source map',
          'Init ms (deployed env)',
          'Init ms without source maps',
          'RSS after init MB',
          'SDK clients',
          'Largest parts of the bundle',
        ],
        r.coldstart.functions.map((f) => [
          f.name,
          kb(f.bundleBytes),
          kb(f.gzipBytes),
          kb(f.sourceMapBytes),
          `${f.initMs.median.toFixed(1)} (${f.initMs.min.toFixed(0)}–${f.initMs.max.toFixed(0)})`,
          `${f.initNoSourceMapsMs.median.toFixed(1)} (${f.initNoSourceMapsMs.min.toFixed(0)}–${f.initNoSourceMapsMs.max.toFixed(0)})`,
          f.rssAfterInitMb.toFixed(0),
          f.sdkClients.join(', '),
          f.topPackages
            .slice(0, 4)
            .map((p) => `${p.name} ${p.pct.toFixed(0)}%`)
            .join(', '),
        ]),
      ),
    );
  }

  if (r.overhead) {
    const o = r.overhead;
    out.push('', `### Per-file overhead: ${o.files} small files through the whole local pipeline`, '');
    out.push(
      table(
        [
          'Files',
          'Completed',
          'Files/s',
          'Latency p50 ms',
          'Latency p95 ms',
          'Max ms',
          'Isolated p50 ms',
          'Isolated p95 ms',
        ],
        [
          [
            o.files,
            o.completed,
            o.filesPerSecond.toFixed(2),
            o.latency.p50Ms.toFixed(0),
            o.latency.p95Ms.toFixed(0),
            o.latency.maxMs.toFixed(0),
            o.isolatedLatency.p50Ms.toFixed(0),
            o.isolatedLatency.p95Ms.toFixed(0),
          ],
        ],
      ),
    );
    out.push('', 'Latency by route (burst):', '');
    out.push(
      table(
        ['Route', 'n', 'p50 ms', 'p95 ms'],
        Object.entries(o.latencyByRoute).map(([id, l]) => [id, l.n, l.p50Ms.toFixed(0), l.p95Ms.toFixed(0)]),
      ),
    );
    out.push('', "Where a file's time goes (medians of ledger timestamps, burst):", '');
    out.push(
      table(
        ['Drop → dispatch starts', 'Dispatch (lease → uploaded)', 'Uploaded → COMPLETED'],
        [
          [
            o.legs.dropToDispatchStartMs.toFixed(0),
            o.legs.dispatchMs.toFixed(0),
            o.legs.uploadedToCompletedMs.toFixed(0),
          ],
        ],
      ),
    );
    out.push('', 'Split of function time per file (ms):', '');
    out.push(
      table(
        [
          'Function',
          'Invocation wall',
          'Vendor API calls',
          'AWS calls (moto)',
          'Rest: our code, SDK, Node, PUT',
        ],
        (['dispatch', 'completion'] as const).map((fn) => {
          const s = o.split[fn];
          return [fn, s.wallMs.toFixed(0), s.vendorApiMs.toFixed(0), s.awsMs.toFixed(0), s.restMs.toFixed(0)];
        }),
      ),
    );
    out.push(
      '',
      `CPU per file: functions ${o.cpuMsPerFile.functions.toFixed(0)} ms, moto ${o.cpuMsPerFile.moto.toFixed(0)} ms, ` +
        `host process (sandbox, event-source emulation, log relay, proxy) ${o.cpuMsPerFile.host.toFixed(0)} ms; ` +
        `cores kept busy during the burst: functions ${o.coresBusy.functions}, moto ${o.coresBusy.moto}, host ${o.coresBusy.host}. ` +
        `The functions wrote ${o.logLinesPerFile} log lines (${(o.logBytesPerFile / 1024).toFixed(1)} KB) per file. ` +
        `Invocations: ${o.invocations.dispatch} dispatch (warm median ${o.invocations.medianWarmDispatchMs.toFixed(0)} ms), ${o.invocations.completion} completion, ${o.invocations.coldStarts} cold starts. ` +
        `moto answers one GetItem in ${o.motoGetItemMs} ms when idle; the timing proxy adds ${o.proxyOverheadMs} ms per call. ` +
        `moto's DynamoDB writes timed directly: ${o.motoWriteProbe.map((p) => `${p.concurrency} writer${p.concurrency > 1 ? 's' : ''} p50 ${p.p50Ms} ms, ${p.opsPerSecond} writes/s`).join('; ')}.`,
    );
    out.push('', 'AWS calls of the functions during the burst:', '');
    out.push(
      table(
        ['Caller', 'Operation', 'Calls', 'Per file', 'Mean ms'],
        o.awsCalls
          .filter((c) => c.caller === 'dispatch' || c.caller === 'completion')
          .map((c) => [
            c.caller,
            c.operation,
            c.calls,
            (c.calls / Math.max(o.completed, 1)).toFixed(2),
            c.meanMs.toFixed(1),
          ]),
      ),
    );
  }

  if (r.profiles.length > 0) {
    out.push(
      '',
      '### CPU profiles (self time of the busy part; transfers and imports cut to the measured job)',
      '',
    );
    for (const p of r.profiles) {
      const list = (items: ProfileSummary['byPackage'], n: number) =>
        items
          .slice(0, n)
          .map((x) => `${x.what} ${x.pct.toFixed(0)}%`)
          .join(', ');
      out.push(
        `- **${p.name}** (${p.busyMs.toFixed(0)} ms busy of ${p.totalMs.toFixed(0)} ms sampled; project code ${p.projectPct.toFixed(0)}%): ` +
          `${list(p.byPackage, 6)}. Top functions: ${list(p.byFunction, 4)}.`,
      );
    }
  }
  return `${out.join('\n')}\n`;
}
