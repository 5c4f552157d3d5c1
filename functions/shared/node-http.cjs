// How the functions' bundles load node:http (an esbuild alias: PIPELINE_ALIASES in
// lib/constructs/pipeline-function.ts). An ES-module import of a Node built-in makes Node build a
// facade that reads every export once, and reading node:http's WebSocket, fetch and friends loads
// undici: about 10 ms of every cold start for an HTTP client the functions never use.
// process.getBuiltinModule hands over the CommonJS exports with their lazy getters untouched.
module.exports = process.getBuiltinModule('node:http');
