import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Which original source produced a position of a bundle: enough to attribute profile samples. */
export interface SourceLookup {
  /** The source file at a 0-based generated line and column, or undefined when unmapped. */
  sourceAt(line: number, column: number): string | undefined;
  readonly sources: readonly string[];
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DIGIT = new Map([...BASE64].map((c, i) => [c, i]));

/** Decodes one base64 VLQ segment into its numbers. */
function decodeSegment(segment: string): number[] {
  const values: number[] = [];
  let value = 0;
  let shift = 0;
  for (const char of segment) {
    const digit = DIGIT.get(char);
    if (digit === undefined) throw new Error(`bad VLQ digit "${char}"`);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      values.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return values;
}

/** Reads a source map (v3, no index maps — what esbuild writes) into a generated-position lookup. */
export function loadSourceMap(file: string): SourceLookup {
  const map = JSON.parse(readFileSync(file, 'utf8')) as { sources: string[]; mappings: string };
  // Per generated line: [generated column, source index] pairs in column order.
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
      return hit === undefined ? undefined : map.sources[hit[1]];
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
