/**
 * The vendor sandbox: a loopback HTTP server that speaks the vendor upload contracts of
 * `docs/vendor-contracts.md` (and S3's presigned-URL rules) as strictly as the vendors do, with
 * a call log and fault injection for contract, end-to-end and benchmark runs.
 */
export { DEFAULT_CREDENTIALS } from './credentials';
export { startSandbox } from './server';
export type {
  CallFilter,
  CallLog,
  CallRecord,
  Sandbox,
  SandboxOperation,
  SandboxOptions,
  SandboxVendor,
} from './types';
