#!/usr/bin/env node
// `vendor-ingest …` from any directory (after `npm link` in the clone, or through an alias to this
// file): runs the TypeScript CLI of the clone this file is in, with that clone's Node 22 (the `node`
// devDependency) and its tsx loader, whatever Node and packages the current directory has. The
// command keeps the current directory, so file arguments are relative to where it is typed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
const cli = fileURLToPath(new URL('cli/main.ts', root));
const node22 = fileURLToPath(new URL('node_modules/node/bin/node', root));
let tsx;
try {
  tsx = import.meta.resolve('tsx');
} catch {
  console.error(`vendor-ingest: run \`npm ci\` in ${fileURLToPath(root)} first (tsx is not installed there)`);
  process.exit(1);
}
const node = existsSync(node22) ? node22 : process.execPath;
const result = spawnSync(node, ['--import', tsx, cli, ...process.argv.slice(2)], { stdio: 'inherit' });
if (result.signal) process.kill(process.pid, result.signal);
process.exit(result.status ?? 1);
