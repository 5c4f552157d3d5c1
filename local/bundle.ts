import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

/** The two functions, as the stack deploys them. */
export const FUNCTION_ENTRIES = {
  dispatch: 'functions/dispatch/handler.ts',
  completion: 'functions/completion/handler.ts',
} as const;
export type FunctionName = keyof typeof FUNCTION_ENTRIES;

export interface BuiltFunction {
  readonly name: FunctionName;
  readonly file: string;
  readonly bytes: number;
}

/**
 * Bundles a handler the way the stack's NodejsFunction does (lib/constructs/pipeline-function.ts:
 * ESM, node22, AWS SDK bundled, a `require` shim for CommonJS dependencies, class names kept), so the
 * local pipeline and the benchmarks run the same code that is deployed. `minify` defaults to true
 * like the deployed bundle; the local pipeline turns it off for readable stack traces.
 */
export async function bundleFunction(
  root: string,
  name: FunctionName,
  outDir: string,
  options: { minify?: boolean } = {},
): Promise<BuiltFunction> {
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${name}.mjs`);
  await build({
    entryPoints: [path.join(root, FUNCTION_ENTRIES[name])],
    outfile: file,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    mainFields: ['module', 'main'],
    banner: {
      js: "import { createRequire as __vendorIngestCreateRequire } from 'node:module'; const require = __vendorIngestCreateRequire(import.meta.url);",
    },
    minify: options.minify ?? true,
    keepNames: true,
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'warning',
  });
  return { name, file, bytes: statSync(file).size };
}
