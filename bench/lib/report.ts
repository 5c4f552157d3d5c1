import { type ColdStartSectionResult, coldStartTargets, renderColdStart } from '../sections/coldstart';
import { type HashSectionResult, hashTargets, renderHash } from '../sections/hash';
import { type MultipartSectionResult, multipartTargets, renderMultipart } from '../sections/multipart';
import { type OverheadSectionResult, overheadTargets, renderOverhead } from '../sections/overhead';
import { renderUpload, type UploadSectionResult, uploadTargets } from '../sections/upload';
import { renderWarm, type WarmSectionResult, warmTargets } from '../sections/warm';
import type { BenchOptions } from './context';
import type { MachineInfo } from './machine';
import type { ProfileSummary } from './profile';
import { table } from './render';
import type { TargetResult } from './targets';
import { sizeLabel } from './units';

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

/** Judges every target the run has figures for (each section judges its own). */
export function evaluateTargets(r: Omit<BenchResults, 'targets'>): TargetResult[] {
  return [
    ...uploadTargets(r.upload),
    ...multipartTargets(r.multipart),
    ...coldStartTargets(r.coldstart),
    ...hashTargets(r.hash),
    ...warmTargets(r.warm),
    ...overheadTargets(r.overhead),
  ];
}

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

  out.push(
    ...renderUpload(r.upload),
    ...renderWarm(r.warm),
    ...renderMultipart(r.multipart),
    ...renderHash(r.hash),
    ...renderColdStart(r.coldstart),
    ...renderOverhead(r.overhead),
  );

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
