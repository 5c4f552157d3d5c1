import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { PROJECT_ROOT } from '../../lib/config/stage-config';
import { PIPELINE_ALIASES, PIPELINE_BUNDLING } from '../../lib/constructs/pipeline-function';

/**
 * esbuild options equal to the stack's bundling of the functions (lib/constructs/pipeline-function.ts
 * is the one definition), for the bench's own programs and for a metafile of the functions' build.
 * The functions themselves are measured from the synthesized assets, never rebuilt here.
 */
export function pipelineBuildOptions(): BuildOptions {
  const b = PIPELINE_BUNDLING;
  return {
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: b.target ?? 'node22',
    mainFields: b.mainFields ? [...b.mainFields] : undefined,
    banner: b.banner ? { js: b.banner } : undefined,
    minify: b.minify ?? false,
    keepNames: b.keepNames ?? false,
    sourcemap: b.sourceMap ? 'linked' : false,
    sourcesContent: b.sourcesContent ?? true,
    alias: Object.fromEntries(
      Object.entries(PIPELINE_ALIASES).map(([module, file]) => [module, path.join(PROJECT_ROOT, file)]),
    ),
    logLevel: 'warning',
  };
}

/** Bundle code without its trailing `//# sourceMappingURL=…` line (the file names differ). */
function codeOf(file: string): string {
  return readFileSync(file, 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '');
}

/**
 * The function `entry` rebuilt the stack's way into `outFile`, with its metafile and, when the
 * rebuilt code is byte for byte the deployed bundle's, the path of a source map of every package:
 * the deployed map covers only the project's own code (trim-source-map.ts), so profiles of a
 * deployed bundle name the SDK or zod through this one.
 */
export async function rebuildFunction(
  entry: string,
  outFile: string,
  deployedBundle: string,
): Promise<{ metafile: Metafile; fullMap: string | undefined }> {
  const result = await build({
    ...pipelineBuildOptions(),
    entryPoints: [path.join(PROJECT_ROOT, entry)],
    outfile: outFile,
    metafile: true,
  });
  return {
    metafile: result.metafile,
    fullMap: codeOf(outFile) === codeOf(deployedBundle) ? `${outFile}.map` : undefined,
  };
}
