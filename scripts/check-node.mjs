#!/usr/bin/env node
// Lambda runs nodejs22.x; the project brings Node 22 from the npm registry (devDependency `node`)
// and npm scripts put node_modules/.bin first on PATH. Anything else is a setup error: stop now.
const REQUIRED_MAJOR = 22;
const major = Number(process.versions.node.split('.')[0]);
if (major !== REQUIRED_MAJOR) {
  console.error(
    `vendor-ingest: Node ${REQUIRED_MAJOR}.x is required (Lambda runtime nodejs${REQUIRED_MAJOR}.x) but this is Node ${process.versions.node} (${process.execPath}).\n` +
      'Run the command through npm (npm test / npm start), which uses the Node 22 that `npm ci` installs into node_modules/.bin.',
  );
  process.exit(1);
}
