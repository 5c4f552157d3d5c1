import type { DownloadFilter, PublishedFile } from './downloads';
/**
 * Public types of the vendor sandbox. `index.ts` re-exports them; the modules behind it share them.
 */
import type { RegisteredCredentials, RegisteredVendor } from './vendors/index';

/**
 * The vendor flows the sandbox speaks (same names as the adapters in `functions/vendors/`): the names
 * of the modules in the registry, `sandbox/vendors/index.ts`.
 */
export type SandboxVendor = RegisteredVendor;

/**
 * One step of a vendor flow, as recorded in the call log and targeted by fault injection. `download` is
 * the GET of a link a vendor handed out (a ClearTax error file).
 */
export type SandboxOperation =
  | 'token'
  | 'presign'
  | 'upload'
  | 'complete-multipart'
  | 'complete'
  | 'status'
  | 'download';

/**
 * What the sandbox accepts as valid credentials, one block per vendor account; each block is declared
 * (with its defaults) by the vendor module that owns it.
 */
export type SandboxCredentials = RegisteredCredentials;

/** Options of {@link startSandbox}; every field has a default. */
export interface SandboxOptions {
  /** Address the vendor APIs listen on. @default '127.0.0.1' */
  host?: string;
  /** @default 0 (a free port) */
  port?: number;
  /**
   * Second listener standing for "somebody else's server"; it records every request it gets, so a test
   * can prove nothing was sent there. @default '127.0.0.2'
   */
  foreignHost?: string;
  /** Time for a vendor job to go from queued to its terminal state. @default 3000 */
  jobDurationMs?: number;
  /**
   * Lifetime of the signed error-file links in ClearTax status answers, in seconds, 1 to 604800 (signed
   * afresh on every status call). @default 3600
   */
  errorFileTtlSeconds?: number;
  /** Lifetime of a minted ClearTax token (`valid_till`). @default 3_600_000 */
  tokenTtlMs?: number;
  /** ClearTax token mints allowed per client secret per UTC day. @default 288 */
  mintDailyLimit?: number;
  /** Concurrent CleverTap API calls allowed per account. @default 3 */
  clevertapMaxConcurrent?: number;
  /** Each CleverTap API call takes at least this long, so overlap is observable. @default 25 */
  clevertapLatencyMs?: number;
  /** Bytes; a single (non-multipart) CleverTap upload must be smaller. @default 100 MiB */
  clevertapSingleUploadLimit?: number;
  /** S3 rule: every multipart part but the last is at least this big. @default 5 MiB */
  minPartSize?: number;
  /**
   * Slack Web API calls accepted per workspace and method in any minute; beyond, 429 `ratelimited`.
   * Both upload methods are Tier 4, "100+ per minute". @default 100
   */
  slackCallsPerMinute?: number;
  /** Merged over `DEFAULT_CREDENTIALS`, block by block (fields of a block over that block's defaults). */
  credentials?: { [Block in keyof SandboxCredentials]?: Partial<SandboxCredentials[Block]> };
  /** Request log sink, one line per request. @default silent */
  log?: (line: string) => void;
}

/** One request to a vendor path (accepted or refused). */
export interface CallRecord {
  /** Arrival order, from 1. */
  seq: number;
  /** Arrival time, ISO-8601. */
  at: string;
  vendor: SandboxVendor;
  operation: SandboxOperation;
  method: string;
  /** Path without the query string. */
  path: string;
  /** HTTP status answered; `0` while unanswered, or when the socket was destroyed without an answer. */
  status: number;
  fileName?: string;
  /** activityId | taskId | jobId | fileId | uploadId created or referenced by the call. */
  ref?: string;
  /** Kind of the fault applied to this call, if any. */
  fault?: string;
  /** Why the call was refused (`<code>: <message>`). */
  error?: string;
}

/** One successful PUT to a presigned URL (a part of a multipart upload is one record). */
export interface UploadRecord {
  vendor: SandboxVendor;
  objectId: string;
  fileName: string;
  partNumber?: number;
  size: number;
  sha256Hex: string;
  sha256Base64: string;
  md5Hex: string;
  contentType: string;
  at: string;
}

/** A request seen by the foreign listener. */
export interface ForeignRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** Body bytes received. */
  bytes: number;
}

/** What an injected fault does instead of (or before) the normal behaviour. */
export type FaultAction =
  /** Answer this instead (`body` JSON, or sent as is when a string; a vendor-shaped error when absent). */
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  /** Wait, then behave normally. */
  | { kind: 'delay'; ms: number }
  /** API: destroy the socket before acting. Upload: destroy after about half of the body, storing nothing. */
  | { kind: 'reset' }
  /** Do the real work (create the activity, store the bytes …), then destroy the socket without answering. */
  | { kind: 'reset-after-commit' }
  /** Accept and never answer (until `close()`). */
  | { kind: 'hang' }
  /** 200 with a truncated JSON body, acting on nothing. */
  | { kind: 'malformed-json' }
  /** Presign only: hand out a URL whose expiry has already passed. */
  | { kind: 'expired-url' }
  /** Presign only: hand out a URL on `foreignUrl` instead. */
  | { kind: 'foreign-host' };

/** A fault to inject into the next matching calls. */
export interface FaultSpec {
  vendor: SandboxVendor;
  operation: SandboxOperation;
  /** How many matching calls it hits. @default 1 */
  times?: number;
  /** Only calls for this file name, so concurrent tests do not disturb each other. */
  match?: { fileName?: string };
  action: FaultAction;
}

/** An injected fault with its id and the number of hits left. */
export interface ActiveFault extends FaultSpec {
  id: string;
  remaining: number;
}

/** Fault injection, also reachable over HTTP at `/_sandbox/faults`. */
export interface FaultApi {
  /** Validates and registers `spec`; returns its id. Throws on an invalid spec. */
  inject(spec: FaultSpec): string;
  clear(): void;
  list(): ActiveFault[];
}

/** Filter of {@link CallLog.calls}: every given field must match. */
export type CallFilter = Partial<Pick<CallRecord, 'vendor' | 'operation' | 'fileName'>>;

/** Filter of {@link CallLog.uploads}: every given field must match. */
export type UploadFilter = Partial<Pick<UploadRecord, 'vendor' | 'fileName' | 'objectId'>>;

/** What the sandbox saw. Every method returns copies. */
export interface CallLog {
  calls(filter?: CallFilter): CallRecord[];
  uploads(filter?: UploadFilter): UploadRecord[];
  foreignRequests(): ForeignRequest[];
  /**
   * Completion calls (`operation: 'complete'`) for `fileName` that the vendor accepted: answered 2xx and
   * not refused in the body (Slack refuses with HTTP 200).
   */
  completions(vendor: SandboxVendor, fileName: string): CallRecord[];
}

/** A running sandbox. */
export interface Sandbox {
  /** e.g. `http://127.0.0.1:43121`; every vendor API lives under it, presigned URLs point here too. */
  readonly url: string;
  readonly port: number;
  /** `http://127.0.0.2:<port>`: the foreign listener. */
  readonly foreignUrl: string;
  readonly credentials: SandboxCredentials;
  readonly faults: FaultApi;
  readonly log: CallLog;
  /** Files the vendors serve over signed links (error files), as they would be served. */
  downloads(filter?: DownloadFilter): PublishedFile[];
  /** Forget calls, uploads, jobs, faults and minted tokens (not credentials). */
  reset(): void;
  /** Close both listeners and destroy open sockets, hung ones included. */
  close(): Promise<void>;
}
