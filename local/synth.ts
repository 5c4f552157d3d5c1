import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ContextKey, createApp } from '../lib/app';
import { PROJECT_ROOT } from '../lib/config/stage-config';

/**
 * Synthesizes the real CDK app (lib/app.ts, what `cdk deploy` runs) in this process, for a stage
 * and the synth-time context a local run or a test needs. Nothing here edits a template: every
 * difference from a deployed stage enters as CDK context.
 */

/** The CDK context of one synth (the keys of {@link ContextKey}). */
export interface SynthContext {
  readonly stage: string;
  readonly instance?: string;
  readonly stageOverrides?: Readonly<Record<string, unknown>>;
  readonly routeOverrides?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly vendorSandboxUrl?: string;
}

/** A synthesized stack in a cloud assembly directory. */
export interface SynthesizedStack {
  /** The cloud assembly directory (`cdk.out`-like). */
  readonly dir: string;
  readonly stackName: string;
  readonly account: string;
  readonly region: string;
  readonly templateFile: string;
  readonly assetsFile: string;
  /** Whether this came from the per-run cache. */
  readonly cached: boolean;
}

/** The feature flags and settings cdk.json gives the CLI; an in-process App must get them too. */
function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
}

function contextOf(input: SynthContext): Record<string, unknown> {
  return {
    ...cdkJsonContext(),
    [ContextKey.stage]: input.stage,
    ...(input.instance ? { [ContextKey.instance]: input.instance } : {}),
    ...(input.stageOverrides ? { [ContextKey.stageOverrides]: input.stageOverrides } : {}),
    ...(input.routeOverrides ? { [ContextKey.routeOverrides]: input.routeOverrides } : {}),
    ...(input.vendorSandboxUrl ? { [ContextKey.vendorSandboxUrl]: input.vendorSandboxUrl } : {}),
  };
}

function readStack(dir: string, cached: boolean): SynthesizedStack {
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as {
    artifacts: Record<string, { type: string; environment?: string; properties?: Record<string, unknown> }>;
  };
  const entry = Object.entries(manifest.artifacts).find(([, a]) => a.type === 'aws:cloudformation:stack');
  if (!entry) throw new Error(`no stack in the cloud assembly at ${dir}`);
  const [stackName, artifact] = entry;
  const [account = '', region = ''] = (artifact.environment ?? '').replace('aws://', '').split('/');
  const templateFile = path.join(
    dir,
    String(artifact.properties?.templateFile ?? `${stackName}.template.json`),
  );
  return {
    dir,
    stackName,
    account,
    region,
    templateFile,
    assetsFile: path.join(dir, `${stackName}.assets.json`),
    cached,
  };
}

/**
 * Synthesizes into `outDir` (created). With `cacheDir`, an assembly already synthesized for the
 * same context in that directory is reused: tests synthesize each variant once per run.
 */
export function synthesize(
  input: SynthContext,
  options: { readonly outDir?: string; readonly cacheDir?: string } = {},
): SynthesizedStack {
  const context = contextOf(input);
  const cacheDir = options.cacheDir;
  if (cacheDir) {
    const key = createHash('sha256').update(JSON.stringify(context)).digest('hex').slice(0, 20);
    const dir = path.join(cacheDir, key);
    if (existsSync(path.join(dir, 'manifest.json'))) return readStack(dir, true);
    // Synthesize beside the cache entry, then rename: concurrent test files never see half a dir.
    const scratch = `${dir}.tmp-${process.pid}-${Date.now()}`;
    mkdirSync(scratch, { recursive: true });
    createApp({ outdir: scratch, context }).app.synth();
    try {
      renameSync(scratch, dir);
    } catch {
      rmSync(scratch, { recursive: true, force: true }); // another worker finished first
    }
    return readStack(dir, false);
  }
  const dir = options.outDir ?? path.join(PROJECT_ROOT, '.local', 'cdk.out');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  createApp({ outdir: dir, context }).app.synth();
  return readStack(dir, false);
}

/** The env variable that names the per-run synth cache (set by the test setup). */
export const SYNTH_CACHE_ENV = 'VENDOR_INGEST_SYNTH_CACHE';
