import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { type BuildOptions, build, type Metafile } from 'esbuild';

/** The two functions, as the stack deploys them. */
export const FUNCTION_ENTRIES = {
  dispatch: 'functions/dispatch/handler.ts',
  completion: 'functions/completion/handler.ts',
} as const;
export type FunctionName = keyof typeof FUNCTION_ENTRIES;

/**
 * esbuild options of the deployed bundles, as the stack's NodejsFunction sets them
 * (lib/constructs/pipeline-function.ts): ESM, node22, AWS SDK bundled, a `require` shim for CommonJS
 * dependencies, class names kept (errors name themselves after their class), linked source maps.
 * The local pipeline and the benchmarks build from these so they run what is deployed.
 */
export const DEPLOYED_BUILD_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  mainFields: ['module', 'main'],
  banner: {
    js: "import { createRequire as __vendorIngestCreateRequire } from 'node:module'; const require = __vendorIngestCreateRequire(import.meta.url);",
  },
  minify: true,
  keepNames: true,
  sourcemap: 'linked',
  sourcesContent: false,
  logLevel: 'warning',
} as const satisfies BuildOptions;

export interface BuiltFunction {
  readonly name: FunctionName;
  readonly file: string;
  readonly bytes: number;
  /** esbuild's metafile (what each input contributes), when asked for. */
  readonly metafile?: Metafile | undefined;
}

/**
 * Bundles a handler with {@link DEPLOYED_BUILD_OPTIONS}. `minify` defaults to true like the deployed
 * bundle; the local pipeline turns it off for readable stack traces.
 */
export async function bundleFunction(
  root: string,
  name: FunctionName,
  outDir: string,
  options: { minify?: boolean; metafile?: boolean } = {},
): Promise<BuiltFunction> {
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${name}.mjs`);
  const result = await build({
    ...DEPLOYED_BUILD_OPTIONS,
    entryPoints: [path.join(root, FUNCTION_ENTRIES[name])],
    outfile: file,
    minify: options.minify ?? DEPLOYED_BUILD_OPTIONS.minify,
    metafile: options.metafile ?? false,
  });
  return { name, file, bytes: statSync(file).size, metafile: result.metafile };
}
