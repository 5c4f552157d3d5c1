import type { TransferFixture } from './fixture';
import type { WorkerBundles } from './workers';

export const SECTIONS = ['upload', 'warm', 'multipart', 'overhead', 'coldstart', 'hash'] as const;
export type SectionName = (typeof SECTIONS)[number];

export interface BenchOptions {
  readonly sizes: readonly number[];
  readonly repeat: number;
  readonly only: ReadonlySet<SectionName>;
  readonly quick: boolean;
  /** Small files pushed through the whole pipeline by the overhead section. */
  readonly files: number;
  /** Import samples per function in the cold-start section. */
  readonly imports: number;
  /** Also take `--cpu-prof` profiles (extra, unmeasured runs) and summarise their hot spots. */
  readonly cpuProf: boolean;
}

/** What every section gets from the runner. */
export interface BenchContext {
  readonly options: BenchOptions;
  readonly workers: WorkerBundles;
  /** Scratch directory under os.tmpdir(), removed at the end. */
  readonly tmpDir: string;
  /** The shared moto + sandbox + objects, started on first use. */
  fixture(): Promise<TransferFixture>;
}
