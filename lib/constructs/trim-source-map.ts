/**
 * Cuts a bundle's source map down to the project's own code. Runs after esbuild, as a command
 * hook of the functions' bundling (see pipeline-function.ts), directly under Node's type
 * stripping: no imports outside `node:`, no TypeScript-only syntax.
 *
 * Why: Lambda starts the functions with `--enable-source-maps`, and Node reads and decodes the
 * whole map while it compiles the bundle, before the handler's first line runs. The full map is
 * 1.4 MB, 85% of it the AWS SDK, zod and Powertools: about 10 ms of every cold start for frames an
 * operator rarely needs mapped. Stack frames in our own code keep their file and line; frames in
 * dependencies keep the bundle position, marked explicitly as unmapped (not attributed to the
 * nearest project line, which would be wrong).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The parts of a v3 source map this reads and writes (esbuild writes no index maps). */
export interface RawSourceMap {
  readonly version: number;
  readonly sources: readonly string[];
  readonly sourcesContent?: ReadonlyArray<string | null>;
  readonly names: readonly string[];
  readonly mappings: string;
  readonly [other: string]: unknown;
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DIGIT = new Map([...BASE64].map((char, i) => [char, i]));

/** The numbers of one base64-VLQ mapping segment (one to five fields). */
export function decodeSegment(text: string): number[] {
  const values: number[] = [];
  let value = 0;
  let shift = 0;
  for (const char of text) {
    const digit = DIGIT.get(char);
    if (digit === undefined) throw new Error(`source map: bad base64 VLQ digit "${char}"`);
    value += (digit & 31) * 2 ** shift;
    if (digit & 32) {
      shift += 5;
    } else {
      values.push(value % 2 === 1 ? -((value - 1) / 2) : value / 2);
      value = 0;
      shift = 0;
    }
  }
  if (shift !== 0) throw new Error(`source map: segment "${text}" ends inside a number`);
  return values;
}

function encodeNumber(n: number): string {
  let value = n < 0 ? -n * 2 + 1 : n * 2;
  let text = '';
  do {
    let digit = value % 32;
    value = Math.floor(value / 32);
    if (value > 0) digit += 32;
    text += BASE64[digit];
  } while (value > 0);
  return text;
}

/** Mapped segment fields as absolute values, carried across segments and lines as in the format. */
interface Position {
  source: number;
  line: number;
  column: number;
  name: number;
}

/**
 * The same map with positions only in the sources `keep` accepts. `sources` stays whole (it is small
 * and says what the bundle holds); every run of generated code from a dropped source starts with a
 * one-field (unmapped) segment, so a lookup inside it finds nothing instead of the previous kept
 * position. Kept positions are unchanged; names no kept position uses are dropped.
 */
export function trimSourceMap(map: RawSourceMap, keep: (source: string) => boolean): RawSourceMap {
  if (map.version !== 3) throw new Error(`source map: version ${map.version}, expected 3`);
  const kept = map.sources.map((source) => keep(source));
  const names: string[] = [];
  const nameIndex = new Map<string, number>();
  const read: Position = { source: 0, line: 0, column: 0, name: 0 };
  const written: Position = { source: 0, line: 0, column: 0, name: 0 };
  const lines = map.mappings.split(';').map((lineText) => {
    if (lineText === '') return '';
    const out: string[] = [];
    let column = 0;
    let writtenColumn = 0;
    let inDropped = false;
    for (const text of lineText.split(',')) {
      const fields = decodeSegment(text);
      column += fields[0] ?? 0;
      let mapped = false;
      if (fields.length >= 4) {
        read.source += fields[1] ?? 0;
        read.line += fields[2] ?? 0;
        read.column += fields[3] ?? 0;
        if (fields.length >= 5) read.name += fields[4] ?? 0;
        mapped = kept[read.source] === true;
      }
      if (mapped) {
        let segment =
          encodeNumber(column - writtenColumn) +
          encodeNumber(read.source - written.source) +
          encodeNumber(read.line - written.line) +
          encodeNumber(read.column - written.column);
        written.source = read.source;
        written.line = read.line;
        written.column = read.column;
        if (fields.length >= 5) {
          const text = map.names[read.name] ?? '';
          let name = nameIndex.get(text);
          if (name === undefined) {
            name = names.length;
            names.push(text);
            nameIndex.set(text, name);
          }
          segment += encodeNumber(name - written.name);
          written.name = name;
        }
        out.push(segment);
        writtenColumn = column;
        inDropped = false;
      } else if (!inDropped) {
        // Unmapped from here (a dropped source, or a segment that was unmapped already).
        out.push(encodeNumber(column - writtenColumn));
        writtenColumn = column;
        inDropped = true;
      }
    }
    return out.join(',');
  });
  // Node 22's parser misreads a one-field segment that ends the whole string (as zero deltas from
  // the last mapped position); an empty last line after it reads correctly.
  const lastSegment = lines.at(-1)?.split(',').at(-1);
  if (lastSegment && decodeSegment(lastSegment).length === 1) lines.push('');
  return {
    ...map,
    ...(map.sourcesContent ? { sourcesContent: map.sourcesContent.map((c, i) => (kept[i] ? c : null)) } : {}),
    names,
    mappings: lines.join(';'),
  };
}

/** This file: the bundling hook runs it with the synth's Node (22 strips the types). */
export const TRIM_SOURCE_MAP_SCRIPT = fileURLToPath(import.meta.url);

/** Sources of the project itself: anything not under a node_modules directory. */
export function isProjectSource(source: string): boolean {
  return !/(^|\/)node_modules\//.test(source);
}

/** Rewrites a source map file in place with positions only in the project's own sources. */
export function trimSourceMapFile(file: string): void {
  const map = JSON.parse(readFileSync(file, 'utf8')) as RawSourceMap;
  writeFileSync(file, JSON.stringify(trimSourceMap(map, isProjectSource)));
}

// `node trim-source-map.ts <bundle.js.map>` (the bundling hook).
if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const file = process.argv[2];
  if (file === undefined) {
    console.error('usage: node trim-source-map.ts <file.map>');
    process.exit(2);
  }
  trimSourceMapFile(file);
}
