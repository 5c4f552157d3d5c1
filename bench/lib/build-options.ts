import type { BuildOptions } from 'esbuild';
import path from 'node:path';
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
