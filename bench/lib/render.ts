/** Markdown helpers shared by the sections' renderers and the report. */
import type { Summary } from './stats';

/** A median with ±half its spread when repeated: `412.3 ±4%`. */
export function sm(s: Summary, digits = 1): string {
  const spread = s.n > 1 ? ` ±${Math.round(s.spreadPct / 2)}%` : '';
  return `${s.median.toFixed(digits)}${spread}`;
}

export function table(header: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.map(String).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;

export const pct = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;

/**
 * A figure with `digits` decimals, or `—` when there is none: NaN (a median of nothing) is saved
 * as `null` in the results file, and fields newer than a saved file are absent.
 */
export function fixed(value: number | null | undefined, digits = 0): string {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : '—';
}
