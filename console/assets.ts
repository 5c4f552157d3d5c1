import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * The console's front end (console/web/, Preact and uPlot from node_modules), bundled by esbuild in
 * memory when the console starts: nothing is fetched at run time, nothing is written to disk.
 */

export interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
}

const ENTRY = fileURLToPath(new URL('./web/main.tsx', import.meta.url));

let bundled: Promise<ReadonlyMap<string, Asset>> | undefined;

const INDEX = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vendor-ingest console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/main.css">
<script type="module" src="/assets/main.js"></script>
</head>
<body>
<div id="app"><p>Loading the console…</p></div>
<noscript>The console needs JavaScript.</noscript>
</body>
</html>
`;

/** `/`, `/assets/main.js`, `/assets/main.css`: bundled once per process. */
export function consoleAssets(): Promise<ReadonlyMap<string, Asset>> {
  bundled ??= build({
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    outdir: 'assets',
    entryNames: '[name]',
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    logLevel: 'silent',
  }).then((out) => {
    const assets = new Map<string, Asset>([
      ['/', { body: Buffer.from(INDEX), contentType: 'text/html; charset=utf-8' }],
    ]);
    for (const file of out.outputFiles) {
      const name = file.path.slice(file.path.lastIndexOf('/') + 1);
      assets.set(`/assets/${name}`, {
        body: Buffer.from(file.contents),
        contentType: name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8',
      });
    }
    return assets;
  });
  return bundled;
}
