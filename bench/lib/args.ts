import { type BenchOptions, SECTIONS, type SectionName } from './context';
import { GB, MB, parseSize } from './units';

export const USAGE = `npm run bench -- [options]

  --sizes 1MB,100MB,1GB   object sizes for the upload section (default: all three)
  --repeat N              runs per measurement (default 3, at least 1)
  --only SECTION          upload | warm | multipart | overhead | coldstart | hash (repeatable; default all)
  --files N               small files through the whole pipeline (default 200; 50 with --quick)
  --quick                 1MB + 100MB, repeat 3, 50 small files: about a minute
  --cpu-prof              also profile one extra run per transfer kind, the bundle imports and a
                          dispatch sandbox during the burst (raw profiles: bench/results/tmp/profiles)
  --render FILE           measure nothing: re-judge the targets in a results file (rewritten in
                          place) and regenerate bench/results/latest.md from it
  --help                  this text

Results: bench/results/<timestamp>.json, bench/results/latest.json, bench/results/latest.md`;

function isSection(value: string): value is SectionName {
  return (SECTIONS as readonly string[]).includes(value);
}

/** Parses the CLI; throws with a message naming the bad argument. */
export function parseArgs(argv: readonly string[]): BenchOptions | 'help' | { readonly render: string } {
  let sizes: number[] | undefined;
  let repeat: number | undefined;
  let files: number | undefined;
  let quick = false;
  let cpuProf = false;
  const only = new Set<SectionName>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split('=', 2) : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--help':
      case '-h':
        return 'help';
      case '--sizes':
        sizes = value()
          .split(',')
          .filter((s) => s.trim() !== '')
          .map(parseSize);
        break;
      case '--repeat':
        repeat = positiveInt(flag, value());
        break;
      case '--files':
        files = positiveInt(flag, value());
        break;
      case '--only':
        for (const name of value().split(',')) {
          if (!isSection(name)) throw new Error(`--only ${name}: not one of ${SECTIONS.join(', ')}`);
          only.add(name);
        }
        break;
      case '--quick':
        quick = true;
        break;
      case '--render':
        return { render: value() };
      case '--cpu-prof':
        cpuProf = true;
        break;
      default:
        throw new Error(`unknown argument "${arg}"\n\n${USAGE}`);
    }
  }
  const chosenSizes = sizes ?? (quick ? [MB, 100 * MB] : [MB, 100 * MB, GB]);
  if (chosenSizes.length === 0) throw new Error('--sizes lists no size');
  return {
    sizes: [...new Set(chosenSizes)].sort((a, b) => a - b),
    repeat: repeat ?? 3,
    only: only.size > 0 ? only : new Set(SECTIONS),
    quick,
    files: files ?? (quick ? 50 : 200),
    imports: 20,
    cpuProf,
  };
}

function positiveInt(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} ${text}: a positive integer is needed`);
  return n;
}
