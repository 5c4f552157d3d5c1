// `npm run synth [-- -c stage=<name> …]`: `cdk synth` of the app (bin/app.ts), quiet, then one line
// per stack saying which stage it built and where its template is.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PROJECT_ROOT } from '../lib/config/stage-config';

const args = process.argv.slice(2);
// The pinned CDK CLI, run with this Node.
const cdk = createRequire(import.meta.url).resolve('aws-cdk/bin/cdk');
const result = spawnSync(process.execPath, [cdk, 'synth', '--no-notices', '-q', ...args], {
  stdio: 'inherit',
  cwd: PROJECT_ROOT,
  env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' },
});
if (result.status !== 0) process.exit(result.status ?? 1);

/** The value of `-c key=value` / `--context key=value` in the arguments. */
function context(key: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const value =
      arg === '-c' || arg === '--context'
        ? args[i + 1]
        : arg.startsWith('--context=')
          ? arg.slice(10)
          : undefined;
    if (value?.startsWith(`${key}=`)) return value.slice(key.length + 1);
  }
  return undefined;
}

const outputArg = args.findIndex((a) => a === '-o' || a === '--output');
const outDir = path.resolve(PROJECT_ROOT, outputArg >= 0 ? (args[outputArg + 1] ?? 'cdk.out') : 'cdk.out');
const manifestFile = path.join(outDir, 'manifest.json');
if (!existsSync(manifestFile)) {
  console.log(`synthesized into ${path.relative(process.cwd(), outDir) || '.'}`);
  process.exit(0);
}
const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as {
  artifacts?: Record<string, { type: string; properties?: { templateFile?: string } }>;
};
const stage = context('stage') ?? 'dev';
for (const [name, artifact] of Object.entries(manifest.artifacts ?? {})) {
  if (artifact.type !== 'aws:cloudformation:stack') continue;
  const template = path.join(outDir, artifact.properties?.templateFile ?? `${name}.template.json`);
  const resources = Object.keys(
    (JSON.parse(readFileSync(template, 'utf8')) as { Resources?: object }).Resources ?? {},
  ).length;
  console.log(
    `synthesized stage "${stage}": stack ${name}, ${resources} resources, template ${path.relative(process.cwd(), template)}`,
  );
}
