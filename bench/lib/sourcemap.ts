import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeSegment } from '../../lib/constructs/trim-source-map';

/** Which original source produced a position of a bundle: enough to attribute profile samples. */
export interface SourceLookup {
  /**
   * The source file at a 0-based generated line and column; null where the map says "unmapped" (the
   * deployed maps say so of dependency code), undefined where it has no mapping at all (esbuild's own
   * module wrappers, left of a line's first mapping).
   */
  sourceAt(line: number, column: number): string | null | undefined;
  readonly sources: readonly string[];
}

/** Reads a source map (v3, no index maps — what esbuild writes) into a generated-position lookup. */
export function loadSourceMap(file: string): SourceLookup {
  const map = JSON.parse(readFileSync(file, 'utf8')) as { sources: string[]; mappings: string };
  // Per generated line: [generated column, source index] pairs in column order; -1 marks a segment
  // that maps nowhere (the deployed maps mark dependency code so: lib/constructs/trim-source-map.ts).
  const lines: Array<Array<[number, number]>> = [];
  let source = 0;
  for (const lineText of map.mappings.split(';')) {
    const segments: Array<[number, number]> = [];
    let column = 0;
    if (lineText !== '') {
      for (const text of lineText.split(',')) {
        const [dc = 0, ds] = decodeSegment(text);
        column += dc;
        if (ds !== undefined) {
          source += ds;
          segments.push([column, source]);
        } else {
          segments.push([column, -1]);
        }
      }
    }
    lines.push(segments);
  }
  return {
    sources: map.sources,
    sourceAt(line, column) {
      const segments = lines[line];
      if (!segments || segments.length === 0) return undefined;
      let low = 0;
      let high = segments.length - 1;
      let found = -1;
      while (low <= high) {
        const mid = (low + high) >> 1;
        const at = segments[mid];
        if (at && at[0] <= column) {
          found = mid;
          low = mid + 1;
        } else {
          high = mid - 1;
        }
      }
      // Left of the line's first mapping: code esbuild wrote itself (its module wrappers), no source.
      const hit = found === -1 ? undefined : segments[found];
      if (hit === undefined) return undefined;
      return hit[1] === -1 ? null : map.sources[hit[1]];
    },
  };
}

/** The repository root as a source map path leaves it once its leading `../` are gone. */
const ROOT_TAIL = fileURLToPath(new URL('../../', import.meta.url)).replace(/^\/+/, '');

/**
 * `@aws-sdk/client-s3`, `zod`, or `project:functions/shared/env.ts` for a source map path. Paths are
 * relative to the bundle, which may sit outside the repository (`../../../<root>/functions/…`): the
 * repository's own location never reaches a result.
 */
export function packageOf(source: string): string {
  const at = source.lastIndexOf('node_modules/');
  if (at === -1) {
    const relative = source.replace(/^(\.\.\/)+/, '');
    return `project:${relative.startsWith(ROOT_TAIL) ? relative.slice(ROOT_TAIL.length) : relative}`;
  }
  const parts = source.slice(at + 'node_modules/'.length).split('/');
  const [first = '', second = ''] = parts;
  return first.startsWith('@') ? `${first}/${second}` : first;
}
