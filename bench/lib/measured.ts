import type { ProcessMetrics } from '../workers/protocol';
import { loadNow } from './machine';
import { round, type Summary, summarize } from './stats';
import { mbPerSecond } from './units';

/** One child-process run, as kept in the results file. */
export interface RunRecord {
  readonly run: number;
  readonly wallMs: number;
  readonly mbPerSec: number;
  readonly cpuMs: number;
  readonly peakRssMb: number;
  readonly rssBeforeMb: number;
  readonly processCpuMs: number;
  /** 1-minute load average when the run ended. */
  readonly load1: number;
}

/** Repeated runs of one transfer: medians and spreads, plus every run. */
export interface Measured {
  readonly mbPerSec: Summary;
  readonly wallMs: Summary;
  readonly cpuMs: Summary;
  readonly peakRssMb: Summary;
  readonly rssBeforeMb: Summary;
  readonly runs: readonly RunRecord[];
}

export function runRecord(run: number, bytes: number, metrics: ProcessMetrics): RunRecord {
  return {
    run,
    wallMs: round(metrics.wallMs),
    mbPerSec: round(mbPerSecond(bytes, metrics.wallMs)),
    cpuMs: round(metrics.cpuMs),
    peakRssMb: round(metrics.peakRssMb),
    rssBeforeMb: round(metrics.rssBeforeMb),
    processCpuMs: round(metrics.processCpuMs),
    load1: loadNow(),
  };
}

function roundSummary(summary: Summary): Summary {
  return {
    n: summary.n,
    median: round(summary.median),
    min: round(summary.min),
    max: round(summary.max),
    spreadPct: round(summary.spreadPct),
  };
}

export function measured(runs: readonly RunRecord[]): Measured {
  const of = (pick: (r: RunRecord) => number) => roundSummary(summarize(runs.map(pick)));
  return {
    mbPerSec: of((r) => r.mbPerSec),
    wallMs: of((r) => r.wallMs),
    cpuMs: of((r) => r.cpuMs),
    peakRssMb: of((r) => r.peakRssMb),
    rssBeforeMb: of((r) => r.rssBeforeMb),
    runs,
  };
}

/** Prints one progress line to stderr (results go to files; stdout stays quiet). */
export function progress(text: string): void {
  process.stderr.write(`[bench] ${text}\n`);
}
