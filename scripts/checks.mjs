// The static checks of `npm test` (typecheck, lint, unused code), run side by side: each is
// single-threaded, and together they take a third of the time one after another. Every check's
// output is kept and printed whole; the run fails if any check fails.
import { spawn } from 'node:child_process';

const checks = ['typecheck', 'lint', 'unused'];
const results = await Promise.all(
  checks.map(
    (name) =>
      new Promise((resolve) => {
        const child = spawn('npm', ['run', '--silent', name], { stdio: ['ignore', 'pipe', 'pipe'] });
        let output = '';
        child.stdout.on('data', (chunk) => {
          output += chunk;
        });
        child.stderr.on('data', (chunk) => {
          output += chunk;
        });
        child.on('close', (code) => resolve({ name, code, output }));
      }),
  ),
);
for (const { name, code, output } of results) {
  process.stdout.write(`\n> ${name}: ${code === 0 ? 'ok' : `failed (exit ${code})`}\n${output}`);
}
process.exit(results.some((r) => r.code !== 0) ? 1 : 0);
