import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import path from 'node:path';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  isProjectSource,
  type RawSourceMap,
  TRIM_SOURCE_MAP_SCRIPT,
  trimSourceMap,
} from '../../../lib/constructs/trim-source-map';
import { scratchDir } from '../../support/scratch';

/**
 * A minified bundle of a project file calling into a dependency that throws, built the way the
 * functions are (ESM, minified, linked source map), in a scratch directory.
 */
async function bundleWithDependency(): Promise<{ dir: string; bundle: string; map: string }> {
  const dir = scratchDir('trim-map-');
  mkdirSync(path.join(dir, 'node_modules', 'dep'), { recursive: true });
  writeFileSync(
    path.join(dir, 'node_modules', 'dep', 'index.js'),
    [
      'export function depWork(n) {',
      '  const doubled = n * 2;',
      '  if (doubled > 2) throw new Error("dep failed at " + doubled);',
      '  return doubled;',
      '}',
      '',
    ].join('\n'),
  );
  // A project module bundled before the dependency: the dependency's code follows project code on
  // the same minified line, where a map without an unmapped segment would wrongly say "helper.ts".
  writeFileSync(
    path.join(dir, 'helper.ts'),
    'export function helper(n: number): number {\n  return Math.abs(n) + 0.5;\n}\n',
  );
  writeFileSync(
    path.join(dir, 'app.ts'),
    [
      "import { helper } from './helper';",
      "import { depWork } from 'dep';",
      '',
      'export function projectCall(n: number): number {',
      '  const result = depWork(Math.round(helper(n)));',
      '  return result + 1;',
      '}',
      '',
      'try {',
      '  projectCall(Number(process.argv[2] ?? 5));',
      '} catch (error) {',
      '  console.log((error as Error).stack);',
      '}',
      '',
    ].join('\n'),
  );
  const bundle = path.join(dir, 'out', 'index.mjs');
  await build({
    entryPoints: [path.join(dir, 'app.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'esm',
    minify: true,
    sourcemap: 'linked',
    sourcesContent: false,
    absWorkingDir: dir,
    nodePaths: [path.join(dir, 'node_modules')],
    logLevel: 'silent',
  });
  return { dir, bundle, map: `${bundle}.map` };
}

/** Line and column (0-based) of the first occurrence of `text` in `code`. */
function positionOf(code: string, text: string): { line: number; column: number } {
  const at = code.indexOf(text);
  if (at === -1) throw new Error(`"${text}" not in the bundle`);
  const before = code.slice(0, at);
  const line = before.split('\n').length - 1;
  return { line, column: at - (before.lastIndexOf('\n') + 1) };
}

describe('trimSourceMap', () => {
  let fixture: { dir: string; bundle: string; map: string };
  let full: RawSourceMap;
  let trimmed: RawSourceMap;

  beforeAll(async () => {
    fixture = await bundleWithDependency();
    full = JSON.parse(readFileSync(fixture.map, 'utf8')) as RawSourceMap;
    trimmed = trimSourceMap(full, isProjectSource);
  });

  it('keeps every position in project code and maps none in a dependency', () => {
    // Prepare
    const code = readFileSync(fixture.bundle, 'utf8');
    // esbuild writes neither `file` nor `sourceRoot`, which Node's payload type insists on.
    const before = new SourceMap(full as unknown as SourceMapPayload);
    const after = new SourceMap(trimmed as unknown as SourceMapPayload);
    const inProject = positionOf(code, '+1');
    const inDependency = positionOf(code, '"dep failed at "');

    // Act
    const entry = (map: SourceMap, at: { line: number; column: number }) =>
      map.findEntry(at.line, at.column) as { originalSource?: string };
    const projectBefore = entry(before, inProject);
    const projectAfter = entry(after, inProject);
    const dependencyBefore = entry(before, inDependency);
    const dependencyAfter = entry(after, inDependency);

    // Assess
    expect(projectBefore.originalSource).toMatch(/app\.ts$/);
    expect(projectAfter).toEqual(projectBefore);
    expect(dependencyBefore.originalSource).toMatch(/node_modules\/dep\/index\.js$/);
    expect(dependencyAfter.originalSource).toBeUndefined();
  });

  it('lists every source still, and only the names project positions use', () => {
    expect(trimmed.sources).toEqual(full.sources);
    expect(trimmed.names.length).toBeLessThanOrEqual(full.names.length);
    expect(trimmed.mappings.length).toBeLessThan(full.mappings.length);
  });

  it('keeps dependency code unmapped when it ends the bundle (Node misreads a final one-field segment)', () => {
    // Prepare: a project position, then dependency code to the end of the only line.
    const map: RawSourceMap = {
      version: 3,
      sources: ['app.ts', 'node_modules/dep/index.js'],
      names: [],
      mappings: 'AAKA,KCAA',
    };

    // Act
    const trimmed = trimSourceMap(map, isProjectSource);
    const entry = new SourceMap(trimmed as unknown as SourceMapPayload).findEntry(0, 7) as {
      originalSource?: string;
    };

    // Assess
    expect(trimmed.mappings).toBe('AAKA,K;');
    expect(entry.originalSource).toBeUndefined();
  });

  it('leaves a map of project code only as it was', () => {
    // Act: trimming twice changes nothing the second time.
    const again = trimSourceMap(trimmed, isProjectSource);

    // Assess
    expect(again).toEqual(trimmed);
  });

  it('rejects what it cannot read', () => {
    expect(() => trimSourceMap({ ...full, version: 2 }, isProjectSource)).toThrow(/version 2/);
    expect(() => trimSourceMap({ ...full, mappings: 'A!' }, isProjectSource)).toThrow(/bad base64/);
  });

  it('runs as the bundling hook runs it, and Node still maps the project frames of a stack', () => {
    // Act: the hook's command (the script under Node's type stripping), then the bundle with source maps.
    execFileSync(process.execPath, ['--experimental-strip-types', TRIM_SOURCE_MAP_SCRIPT, fixture.map]);
    const stack = execFileSync(process.execPath, ['--enable-source-maps', fixture.bundle], {
      encoding: 'utf8',
    });

    // Assess: the throwing frame stays in the bundle; the caller is mapped to app.ts, line 5.
    const frames = stack.split('\n').filter((line) => line.trimStart().startsWith('at '));
    expect(stack).toContain('dep failed at 12');
    expect(frames[0]).toContain('out/index.mjs:');
    expect(frames[1]).toMatch(/app\.ts:5:\d+/);
    expect(JSON.parse(readFileSync(fixture.map, 'utf8'))).toEqual(trimmed);
  });
});
