import { copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { PROJECT_ROOT } from '../../lib/config/stage-config';
import { trimSourceMapFile } from '../../lib/constructs/trim-source-map';
import { StackOutput } from '../../lib/stack-outputs';
import { type DeployedFunction, loadDeployedFunction } from '../../local/lambda-service';
import { pipelineBuildOptions, rebuildFunction } from '../lib/build-options';
import type { BenchContext } from '../lib/context';
import { progress } from '../lib/measured';
import { type ProfileSummary, profileIn, summarizeProfile } from '../lib/profile';
import { kb, table } from '../lib/render';
import { packageOf } from '../lib/sourcemap';
import { round, type Summary, summarize } from '../lib/stats';
import type { TargetResult } from '../lib/targets';
import { childEnv, runWorker } from '../lib/workers';
import type { ImportWorkerInput, ImportWorkerOutput } from '../workers/protocol';
import { PROFILE_DIR } from './profiles';

/** The two functions and their handler sources (rebuilt for a metafile and a full source map). */
export const FUNCTION_ENTRIES = {
  dispatch: { output: StackOutput.DispatchFunctionName, entry: 'functions/dispatch/handler.ts' },
  completion: { output: StackOutput.CompletionFunctionName, entry: 'functions/completion/handler.ts' },
} as const;
type FunctionName = keyof typeof FUNCTION_ENTRIES;

/** The SDK clients each function calls; any other `@aws-sdk/client-*` in its bundle is dead weight. */
export const EXPECTED_CLIENTS: Readonly<Record<FunctionName, readonly string[]>> = {
  // Both announce outcomes (EventBridge) and write results back (S3: result documents, the vendor's
  // error file, the outcome tags).
  dispatch: ['client-s3', 'client-sqs', 'client-dynamodb', 'client-secrets-manager', 'client-eventbridge'],
  completion: ['client-s3', 'client-sqs', 'client-dynamodb', 'client-secrets-manager', 'client-eventbridge'],
};

export interface FunctionColdStart {
  readonly name: FunctionName;
  /** The deployed bundle (minified, ESM, SDK inside), bytes. */
  readonly bundleBytes: number;
  readonly sourceMapBytes: number;
  /** gzip -6 of the bundle: about what the deployment zip holds for it. */
  readonly gzipBytes: number;
  /** `import()` time with the deployed environment (NODE_OPTIONS=--enable-source-maps), ms. */
  readonly initMs: Summary;
  /** The same without --enable-source-maps, to show what the flag costs at start-up. */
  readonly initNoSourceMapsMs: Summary;
  /**
   * `import()` of the SDK clients and Powertools alone (bench/fixtures/sdk-floor.ts, bundled the same
   * way), alternating with this function's imports: the part of its init that is not ours. Absent in
   * results from before it was measured.
   */
  readonly sdkFloorMs?: Summary;
  readonly rssAfterInitMb: number;
  /** `@aws-sdk/client-*` packages in the bundle. */
  readonly sdkClients: readonly string[];
  /** Found but not in {@link EXPECTED_CLIENTS}. */
  readonly unexpectedClients: readonly string[];
  /** Expected but missing (the check itself would be broken). */
  readonly missingClients: readonly string[];
  /** Clients inside `@aws-sdk/nested-clients` (pulled in by the default credential chain). */
  readonly nestedClients: readonly string[];
  /** Largest contributors to the bundle, from an esbuild metafile of the same build. */
  readonly topPackages: ReadonlyArray<{
    readonly name: string;
    readonly bytes: number;
    readonly pct: number;
  }>;
  readonly profile?: ProfileSummary | undefined;
}

export interface ColdStartSectionResult {
  readonly functions: readonly FunctionColdStart[];
  readonly samples: number;
}

/** Clients named by the bundle's own source map: exactly the files esbuild put in. */
function clientsOf(mapFile: string): { clients: string[]; nested: string[] } {
  const { sources } = JSON.parse(readFileSync(mapFile, 'utf8')) as { sources: string[] };
  const clients = new Set<string>();
  const nested = new Set<string>();
  for (const source of sources) {
    const pkg = packageOf(source);
    if (pkg.startsWith('@aws-sdk/client-')) clients.add(pkg.slice('@aws-sdk/'.length));
    const inner = /@aws-sdk\/nested-clients\/dist-[a-z]+\/submodules\/([^/]+)\//.exec(source);
    if (inner?.[1]) nested.add(inner[1]);
  }
  return { clients: [...clients].sort(), nested: [...nested].sort() };
}

/** Bytes per package of the deployed bundle, from the metafile of the build that produced it. */
function packageBytes(metafile: Metafile | undefined): Array<{ name: string; bytes: number; pct: number }> {
  const output = Object.entries(metafile?.outputs ?? {}).find(([file]) => file.endsWith('.mjs'))?.[1];
  if (!output) return [];
  const bytes = new Map<string, number>();
  for (const [input, info] of Object.entries(output.inputs)) {
    const pkg = packageOf(input).replace(/^project:.*/, 'project code');
    bytes.set(pkg, (bytes.get(pkg) ?? 0) + info.bytesInOutput);
  }
  return [...bytes.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10)
    .map(([pkg, n]) => ({ name: pkg, bytes: n, pct: round((n / output.bytes) * 100) }));
}

/** The SDK-and-Powertools floor bundled as the stack bundles a function (map trimmed alike). */
async function buildSdkFloor(outFile: string): Promise<string> {
  await build({
    ...pipelineBuildOptions(),
    entryPoints: [path.join(PROJECT_ROOT, 'bench/fixtures/sdk-floor.ts')],
    outfile: outFile,
  });
  trimSourceMapFile(`${outFile}.map`);
  return outFile;
}

/** A deployed function's own environment plus what Lambda's runtime adds, AWS pointed at moto. */
function functionEnv(
  fn: DeployedFunction,
  region: string,
  motoEndpoint: string,
  sourceMaps: boolean,
): Record<string, string> {
  const { NODE_OPTIONS: nodeOptions, ...rest } = fn.environment;
  return childEnv({
    ...rest,
    ...(sourceMaps && nodeOptions !== undefined ? { NODE_OPTIONS: nodeOptions } : {}),
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ENDPOINT_URL: motoEndpoint,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    LAMBDA_TASK_ROOT: fn.codeDir,
  });
}

/**
 * Cold-start proxy per function: the deployed bundle's size and what is in it (the package the
 * stack deployed onto the bench's moto, downloaded as the local pipeline does), and the median time
 * of `import()` in a fresh process (module initialisation: env validation, routes, SDK clients,
 * Powertools), with and without --enable-source-maps, alternating.
 */
export async function coldStartSection(ctx: BenchContext): Promise<ColdStartSectionResult> {
  const fixture = await ctx.fixture();
  const outDir = path.join(ctx.tmpDir, 'bundles');
  const functions: FunctionColdStart[] = [];
  const floorBundle = await buildSdkFloor(path.join(outDir, 'sdk-floor', 'index.mjs'));
  for (const name of Object.keys(FUNCTION_ENTRIES) as FunctionName[]) {
    progress(`coldstart: downloading the deployed ${name} package`);
    const fn = await loadDeployedFunction(
      fixture.clients,
      fixture.stack.outputs[FUNCTION_ENTRIES[name].output] ?? '',
      outDir,
    );
    const bundle = { file: fn.handlerFile, bytes: statSync(fn.handlerFile).size };
    // The same build again: its metafile (what each package adds) and a source map of everything.
    const rebuilt = await rebuildFunction(
      FUNCTION_ENTRIES[name].entry,
      path.join(outDir, 'rebuilt', `${name}.mjs`),
      bundle.file,
    );
    if (!rebuilt.fullMap) progress(`coldstart ${name}: the rebuilt bundle differs from the deployed one`);
    const mapFile = `${bundle.file}.map`;
    const { clients, nested } = clientsOf(mapFile);
    const expected = EXPECTED_CLIENTS[name];
    const withMaps: ImportWorkerOutput[] = [];
    const withoutMaps: ImportWorkerOutput[] = [];
    const floor: ImportWorkerOutput[] = [];
    const kinds = ['deployed', 'no source maps', 'sdk floor'] as const;
    for (let i = 0; i < ctx.options.imports; i++) {
      // Rotated order, so a slow moment of the machine falls on each kind alike.
      for (const kind of [...kinds.slice(i % 3), ...kinds.slice(0, i % 3)]) {
        const out = await runWorker<ImportWorkerInput, ImportWorkerOutput>(
          ctx.workers.file('import-worker'),
          { bundle: kind === 'sdk floor' ? floorBundle : bundle.file },
          {
            timeoutMs: 30_000,
            env: functionEnv(fn, fixture.clients.region, fixture.moto.endpoint, kind !== 'no source maps'),
          },
        );
        if (!out.ok || !out.exportsHandler)
          throw new Error(
            `importing ${kind === 'sdk floor' ? 'the SDK floor' : name} failed: ${out.error ?? 'no handler export'}`,
          );
        (kind === 'deployed' ? withMaps : kind === 'no source maps' ? withoutMaps : floor).push(out);
      }
    }
    let profile: ProfileSummary | undefined;
    if (ctx.options.cpuProf) {
      const dir = path.join(ctx.tmpDir, 'profiles', `import-${name}`);
      mkdirSync(dir, { recursive: true });
      const profiled = await runWorker<ImportWorkerInput, ImportWorkerOutput>(
        ctx.workers.file('import-worker'),
        { bundle: bundle.file },
        {
          timeoutMs: 30_000,
          env: functionEnv(fn, fixture.clients.region, fixture.moto.endpoint, true),
          nodeArgs: ['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', dir],
        },
      );
      const file = profileIn(dir);
      if (file) {
        mkdirSync(PROFILE_DIR, { recursive: true });
        copyFileSync(file, path.join(PROFILE_DIR, `import-${name}.cpuprofile`));
        profile = summarizeProfile(
          `import ${name}`,
          file,
          { file: bundle.file, map: rebuilt.fullMap ?? mapFile },
          {
            fromUs: profiled.importStartUs,
            toUs: profiled.importEndUs,
          },
        );
      }
    }
    const initMs = summarize(withMaps.map((o) => o.importMs));
    const initNoSourceMapsMs = summarize(withoutMaps.map((o) => o.importMs));
    progress(
      `coldstart ${name}: ${bundle.bytes} bytes, init median ${round(initMs.median)} ms (${round(initNoSourceMapsMs.median)} ms without source maps)`,
    );
    functions.push({
      name,
      bundleBytes: bundle.bytes,
      sourceMapBytes: statSync(mapFile).size,
      gzipBytes: gzipSync(readFileSync(bundle.file)).length,
      initMs: roundSummary(initMs),
      initNoSourceMapsMs: roundSummary(initNoSourceMapsMs),
      sdkFloorMs: roundSummary(summarize(floor.map((o) => o.importMs))),
      rssAfterInitMb: round(summarize(withMaps.map((o) => o.rssMb)).median),
      sdkClients: clients,
      unexpectedClients: clients.filter((c) => !expected.includes(c)),
      missingClients: expected.filter((c) => !clients.includes(c)),
      nestedClients: nested,
      topPackages: packageBytes(rebuilt.metafile),
      profile,
    });
  }
  return { functions, samples: ctx.options.imports };
}

function roundSummary(s: Summary): Summary {
  return {
    n: s.n,
    median: round(s.median),
    min: round(s.min),
    max: round(s.max),
    spreadPct: round(s.spreadPct),
  };
}

/** Module init per function, and no unused SDK client in a bundle. */
export function coldStartTargets(r: ColdStartSectionResult | undefined): TargetResult[] {
  const targets: TargetResult[] = [];
  const fns = r?.functions ?? [];
  for (const fn of fns) {
    targets.push({
      id: `init-${fn.name}`,
      target: `Module init ≤ 100 ms median (${fn.name})`,
      status: fn.initMs.median <= 100 ? 'met' : 'missed',
      detail: `${fn.initMs.median} ms median of ${fn.initMs.n} (range ${fn.initMs.min}–${fn.initMs.max}); ${fn.initNoSourceMapsMs.median} ms without --enable-source-maps${fn.sdkFloorMs ? `; the SDK clients and Powertools alone ${fn.sdkFloorMs.median} ms` : ''}`,
    });
  }
  if (!r) {
    targets.push({
      id: 'init',
      target: 'Module init ≤ 100 ms median per function',
      status: 'not measured',
      detail: 'coldstart section not run',
    });
  }
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
  return targets;
}

export function renderColdStart(r: ColdStartSectionResult | undefined): string[] {
  if (!r) return [];
  return [
    '',
    `### Cold-start proxy (deployed bundles, ${r.samples} fresh-process imports each)`,
    '',
    table(
      [
        'Function',
        'Bundle',
        'gzip',
        'Source map',
        'Init ms (deployed env)',
        'Init ms without source maps',
        'SDK + Powertools alone ms',
        'RSS after init MB',
        'SDK clients',
        'Largest parts of the bundle',
      ],
      r.functions.map((f) => [
        f.name,
        kb(f.bundleBytes),
        kb(f.gzipBytes),
        kb(f.sourceMapBytes),
        `${f.initMs.median.toFixed(1)} (${f.initMs.min.toFixed(0)}–${f.initMs.max.toFixed(0)})`,
        `${f.initNoSourceMapsMs.median.toFixed(1)} (${f.initNoSourceMapsMs.min.toFixed(0)}–${f.initNoSourceMapsMs.max.toFixed(0)})`,
        f.sdkFloorMs
          ? `${f.sdkFloorMs.median.toFixed(1)} (${f.sdkFloorMs.min.toFixed(0)}–${f.sdkFloorMs.max.toFixed(0)})`
          : '',
        f.rssAfterInitMb.toFixed(0),
        f.sdkClients.join(', '),
        f.topPackages
          .slice(0, 4)
          .map((p) => `${p.name} ${p.pct.toFixed(0)}%`)
          .join(', '),
      ]),
    ),
  ];
}
