import { redactor } from './redact';

/**
 * The error taxonomy, as one table: each reason code decides whether the failure is retryable (the
 * message comes back later with backoff) or permanent (straight to the dead-letter queue with its
 * reason), and says what it means and what an operator does about it. The README's DLQ runbook is
 * generated from this table (`npm run docs:runbook`) and a test keeps the two equal. Anything unknown
 * is `INTERNAL`, which is retryable: the bounded retries and the DLQ catch it.
 */

export interface ErrorSpec {
  readonly retryable: boolean;
  /**
   * A vendor-side condition (down, unreachable, throttling): the message waits, re-enqueued with a
   * delay and its attempt count carried, without spending the queue's receive budget, up to the
   * stage's outage horizon. Other retryable codes retry through the queue's receives.
   */
  readonly waits?: true;
  /**
   * The delivery this ends needs a person rather than a new file: announced as "Delivery Needs
   * Attention" instead of "Delivery Failed" (bad credentials, an uncertain completion …).
   */
  readonly attention?: true;
  /** What happened, for the runbook. */
  readonly meaning: string;
  /** What an operator does about a parked message with this code. */
  readonly action: string;
}

export const ERROR_TABLE = {
  // input and routing
  MALFORMED_MESSAGE: {
    retryable: false,
    meaning: 'the body is not an S3 notification, or a completion message of an unknown version',
    action:
      'look at the body; for a newer message version, deploy the completion function that reads it, then redrive; otherwise delete',
  },
  NO_ROUTE: {
    retryable: false,
    meaning: 'the key is under no route prefix (a hand-sent or misrouted notification)',
    action: 'add a route or move the file; replay',
  },
  ROUTE_CONFIG_INVALID: {
    retryable: false,
    meaning:
      "the route's options fail for this key (e.g. `clevertap/abc/` where `catalogId` must be a number), or the route was removed",
    action: 'fix the key or the route; redrive',
  },
  OBJECT_NOT_FOUND: {
    retryable: false,
    meaning: 'the object (version) was deleted before dispatch',
    action: 'nothing to deliver; delete the message',
  },
  OBJECT_CHANGED: {
    retryable: false,
    meaning: 'an unversioned object was replaced before dispatch',
    action: 'nothing to deliver (the new object has its own notification); delete the message',
  },
  OBJECT_ACCESS_DENIED: {
    retryable: false,
    meaning:
      'S3 refused to let dispatch read the object (a bucket or key policy, or a KMS key it may not use)',
    action: "fix the bucket policy or the key's grants for the dispatch role; redrive",
  },
  EMPTY_FILE: {
    retryable: false,
    meaning: 'zero-byte object',
    action: 'upload the right file (a new version is a new delivery)',
  },
  FILE_REJECTED: {
    retryable: false,
    meaning: "the file breaks the vendor's rule named in the message (extension, type, size, name length)",
    action: 'fix the file and drop it again',
  },
  // secrets and auth
  SECRET_NOT_FOUND: {
    retryable: false,
    attention: true,
    meaning: "the route's secret does not exist",
    action: 'create the secret (docs/deploy.md §3); redrive',
  },
  SECRET_ACCESS_DENIED: {
    retryable: false,
    attention: true,
    meaning:
      "the function may not read the route's secret (no permission, or its KMS key refused to decrypt it)",
    action:
      "grant the function's role `secretsmanager:GetSecretValue` (and `kms:Decrypt` on the secret's key); redrive",
  },
  SECRET_INVALID: {
    retryable: false,
    attention: true,
    meaning: "the route's secret is not the vendor's JSON shape (the message names the fields, never values)",
    action: 'fix the secret; redrive',
  },
  AUTH_FAILED: {
    retryable: false,
    attention: true,
    meaning: 'the vendor refused the credentials (401/403, `AUTHORIZATION_FAILED`, `PERMISSION_DENIED`)',
    action: 'fix the credentials or the vendor account; redrive',
  },
  // vendor answers
  VENDOR_REJECTED: {
    retryable: false,
    meaning: 'a 4xx or a named refusal from the vendor API (e.g. `LICENSE_EXPIRED`, an unknown catalog)',
    action: 'read `errorMessage`; fix the route option, the vendor account or the file; redrive',
  },
  VENDOR_FAILED_UNKNOWN: {
    retryable: true,
    meaning:
      'the vendor answered FAILED with an error code the adapter does not know (ClearTax 200 `FAILED`); retried in case it is transient',
    action:
      'if it keeps failing, read `errorMessage` and the vendor code; add the code to the adapter; redrive',
  },
  VENDOR_UNAVAILABLE: {
    retryable: true,
    waits: true,
    meaning:
      'the vendor answered 5xx or an internal error for longer than the outage horizon (`outage.horizonHours`); until then files wait',
    action: 'once the vendor is healthy, redrive',
  },
  VENDOR_UNREACHABLE: {
    retryable: true,
    waits: true,
    meaning:
      'the vendor API or its upload host could not be reached, reset the connection, stopped sending or answering, for longer than the outage horizon',
    action:
      'check the network path to the vendor (DNS, egress, the upload host allow-list); once reachable, redrive',
  },
  VENDOR_DOWN: {
    retryable: true,
    waits: true,
    meaning:
      "the vendor account's circuit breaker stayed open (consecutive failures, or the token mint budget spent) past the outage horizon; files waited without calling the vendor",
    action:
      '`status` shows since when; once the vendor answers again (or the next UTC day for the mint budget), redrive',
  },
  VENDOR_THROTTLED: {
    retryable: true,
    waits: true,
    meaning: 'the vendor answered 429 or a quota error for longer than the outage horizon',
    action: "once the vendor's quota allows, redrive; lower the route's concurrency if it recurs",
  },
  TOKEN_BUDGET_EXHAUSTED: {
    retryable: true,
    waits: true,
    meaning:
      "the day's token mint budget of the vendor secret is spent (ClearTax: 288 a day); deliveries wait for the next UTC day",
    action:
      'find what minted so often (the `TokenMintsToday` metric, the logs); files resume by themselves the next UTC day',
  },
  VENDOR_BAD_RESPONSE: {
    retryable: true,
    meaning: "the vendor's answer did not have the documented shape (malformed JSON, a missing field)",
    action:
      "if it persists, compare the answer with docs/vendor-contracts.md; fix the route's field paths; redrive",
  },
  UNSAFE_UPLOAD_TARGET: {
    retryable: false,
    attention: true,
    meaning:
      "the vendor handed out an upload URL not on the route's allow-list (or not https); nothing was sent",
    action:
      'confirm the host with the vendor; if legitimate add it to `uploadHostAllowList`, deploy, redrive',
  },
  UPLOAD_REJECTED: {
    retryable: false,
    meaning:
      'the presigned upload refused the bytes (e.g. `SignatureDoesNotMatch`: a content type the vendor did not sign)',
    action: "read `errorMessage`; fix the route's content-type option or the file; redrive",
  },
  UPLOAD_URL_EXPIRED: {
    retryable: true,
    meaning: 'the presigned URL expired before or during the upload',
    action:
      'redrive (a fresh URL is asked for); raise the function memory if large uploads keep outliving URLs',
  },
  // transport and time
  NETWORK: {
    retryable: true,
    meaning: 'a call to AWS (S3, SQS, Secrets Manager, DynamoDB) failed or was reset',
    action: 'once the network path is healthy, redrive',
  },
  TIMEOUT: {
    retryable: true,
    meaning:
      'the work would not finish in the time the function had left, or an S3 body stopped flowing (`stallTimeoutSeconds`)',
    action: 'redrive; if a large file keeps timing out, raise the function timeout and memory',
  },
  // exactly-once machinery
  LEASE_HELD: {
    retryable: true,
    meaning: 'another worker holds this delivery (a duplicate notification arrived while it ran)',
    action: 'redrive; it settles once the other worker finishes or its lease lapses',
  },
  LEASE_LOST: {
    retryable: true,
    meaning: 'another worker took this delivery over while this one was writing its outcome',
    action: 'nothing usually: the other worker finishes it; check `status`, redrive if it is not settled',
  },
  CONCURRENCY_LIMIT: {
    retryable: true,
    meaning: "every vendor call slot of the route's account was busy for too long",
    action: 'redrive; lower the route concurrency if it recurs',
  },
  TOKEN_BUSY: {
    retryable: true,
    meaning: 'another function was minting the vendor token and did not finish in time',
    action: 'redrive; if it recurs, look at the mint calls in the logs (the mint may be failing)',
  },
  STATE_INCONSISTENT: {
    retryable: false,
    attention: true,
    meaning:
      'the ledger lacks what this step needs (no ledger entry, no vendor id or completion message recorded)',
    action: 'run `status <key>`; replay the version to deliver it afresh',
  },
  PIPELINE_DEFECT: {
    retryable: false,
    attention: true,
    meaning:
      'the pipeline broke one of its own rules (an adapter planned parts that miss bytes, a hash the core owed was not computed); retrying cannot help',
    action: 'report it with the message and logs; redrive once a fixed version is deployed',
  },
  VENDOR_JOB_FAILED: {
    retryable: false,
    meaning:
      "the vendor took the file and its own processing rejected it (ClearTax `SYSTEM_FEEDBACK`, `ACTIVITY_DISCARDED`, a `FAILED` workflow); nothing is parked, the ledger and the delivery's result say why",
    action:
      "read the result document and the vendor's error file next to it; fix the file and drop it again (a new version is a new delivery)",
  },
  VENDOR_STATUS_UNKNOWN: {
    retryable: false,
    attention: true,
    meaning:
      "the vendor's job was still running when status polling reached its deadline (`statusPollMaxSeconds`); the file was delivered, its verdict is unknown",
    action:
      'check the job at the vendor with the ids in `status`; raise `statusPollMaxSeconds` if jobs routinely take longer',
  },
  COMPLETION_UNCERTAIN: {
    retryable: false,
    attention: true,
    meaning: 'the completion call was sent and never answered; the vendor has no idempotency key',
    action:
      'check the vendor (does the activity/job exist?), then `resolve <key> --as completed` or `--as retry`. A redrive before resolving parks it again',
  },
  INTERNAL: {
    retryable: true,
    meaning: 'unexpected; the message says what',
    action: 'read the logs for the key; fix; redrive',
  },
} as const satisfies Record<string, ErrorSpec>;

type ErrorTable = typeof ERROR_TABLE;
export type ErrorCode = keyof ErrorTable;

/** Machine-readable reasons. They appear in DLQ message attributes, the ledger and metrics. */
export const ErrorCode = Object.fromEntries(Object.keys(ERROR_TABLE).map((code) => [code, code])) as {
  readonly [K in ErrorCode]: K;
};

/** Codes worth trying again later. */
export type RetryableCode = {
  [K in ErrorCode]: ErrorTable[K]['retryable'] extends true ? K : never;
}[ErrorCode];
/** Codes that trying again cannot fix. */
export type PermanentCode = Exclude<ErrorCode, RetryableCode>;

export interface PipelineErrorOptions {
  readonly cause?: unknown;
  /** Vendor's own error code (e.g. `API_QUOTA_EXCEEDED`), kept for operators. */
  readonly vendorCode?: string | undefined;
  /** HTTP status of the answer that caused this, if any. */
  readonly status?: number | undefined;
  /** Server-suggested wait before retrying, in milliseconds. */
  readonly retryAfterMs?: number | undefined;
  /** The vendor account (breaker key) a waiting delivery waits for. */
  readonly waitingFor?: string | undefined;
}

/**
 * Base class: `retryable` (from the table) is the only thing the queue boundary needs to decide.
 * Every concrete class states its `name`: the deployed bundles are minified without keeping class
 * names (esbuild keepNames costs cold-start time), so `new.target.name` would log a mangled name.
 */
export abstract class PipelineError extends Error {
  readonly code: ErrorCode;
  readonly vendorCode: string | undefined;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly waitingFor: string | undefined;

  constructor(code: ErrorCode, message: string, options: PipelineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.vendorCode = options.vendorCode;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.waitingFor = options.waitingFor;
  }

  get retryable(): boolean {
    return ERROR_TABLE[this.code].retryable;
  }
}

/** Worth trying again later: network, 5xx, 429, timeouts, expired URLs, a lease held by another worker. */
export class RetryableError extends PipelineError {
  override readonly name: string = 'RetryableError';

  constructor(code: RetryableCode, message: string, options: PipelineErrorOptions = {}) {
    super(code, message, options);
  }
}

/** Trying again cannot help: bad input, unknown route, a vendor's 4xx rejection, a missing object. */
export class PermanentError extends PipelineError {
  override readonly name: string = 'PermanentError';

  constructor(code: PermanentCode, message: string, options: PipelineErrorOptions = {}) {
    super(code, message, options);
  }
}

/** The error a code calls for: retryable or permanent as the table says. */
export function pipelineError(
  code: ErrorCode,
  message: string,
  options: PipelineErrorOptions = {},
): PipelineError {
  return ERROR_TABLE[code].retryable
    ? new RetryableError(code as RetryableCode, message, options)
    : new PermanentError(code as PermanentCode, message, options);
}

/** The vendor answered 429 or an equivalent quota error. */
export class ThrottledError extends RetryableError {
  override readonly name: string = 'ThrottledError';

  constructor(message: string, options: PipelineErrorOptions = {}) {
    super(ErrorCode.VENDOR_THROTTLED, message, options);
  }
}

/** A presigned URL the vendor handed out has expired (S3 403 `AccessDenied` "Request has expired"). */
export class UploadUrlExpiredError extends RetryableError {
  override readonly name: string = 'UploadUrlExpiredError';

  constructor(message: string, options: PipelineErrorOptions = {}) {
    super(ErrorCode.UPLOAD_URL_EXPIRED, message, options);
  }
}

/** The work would not finish before the Lambda's remaining time runs out, or a call timed out. */
export class TimeoutError extends RetryableError {
  override readonly name: string = 'TimeoutError';

  constructor(message: string, options: PipelineErrorOptions = {}) {
    super(ErrorCode.TIMEOUT, message, options);
  }
}

/** The route matched no key prefix. */
export class NoRouteError extends PermanentError {
  override readonly name: string = 'NoRouteError';

  constructor(message: string) {
    super(ErrorCode.NO_ROUTE, message);
  }
}

/** A file breaks a vendor's file-type rule (extension, MIME type, size). The message names the rule. */
export class FileRejectedError extends PermanentError {
  override readonly name: string = 'FileRejectedError';

  constructor(message: string, options: PipelineErrorOptions = {}) {
    super(ErrorCode.FILE_REJECTED, message, options);
  }
}

/** An upload URL failed the safety check (scheme, host allow-list) before any byte was sent. */
export class UnsafeUploadTargetError extends PermanentError {
  override readonly name: string = 'UnsafeUploadTargetError';

  constructor(message: string) {
    super(ErrorCode.UNSAFE_UPLOAD_TARGET, message);
  }
}

/** The route's secret does not exist. */
export class SecretNotFoundError extends PermanentError {
  override readonly name: string = 'SecretNotFoundError';

  constructor(
    readonly secretId: string,
    cause?: unknown,
  ) {
    super(ErrorCode.SECRET_NOT_FOUND, `secret "${secretId}" does not exist or has no value`, { cause });
  }
}

/** Lost a lease between reading and writing: another worker took over. */
export class LeaseLostError extends RetryableError {
  override readonly name: string = 'LeaseLostError';

  constructor(what: string) {
    super(ErrorCode.LEASE_LOST, `lease lost while ${what}: another worker took over this delivery`);
  }
}

/**
 * A request was sent and no answer came back (timeout or reset after sending). For a vendor call
 * without an idempotency key it is unknown whether the vendor acted on it.
 */
export class AmbiguousOutcomeError extends RetryableError {
  override readonly name: string = 'AmbiguousOutcomeError';

  constructor(message: string, options: PipelineErrorOptions = {}) {
    super(ErrorCode.VENDOR_UNREACHABLE, message, options);
  }
}

/** The outcome a delivery ending with `code` is announced as. */
export function outcomeOfCode(code: string | undefined): 'failed' | 'attention' {
  const spec = code === undefined ? undefined : (ERROR_TABLE as Record<string, ErrorSpec | undefined>)[code];
  return spec?.attention ? 'attention' : 'failed';
}

/** True for codes that wait out a vendor-side condition instead of spending receives (see {@link ErrorSpec.waits}). */
export function waitsForVendor(error: unknown): boolean {
  return error instanceof PipelineError && (ERROR_TABLE[error.code] as ErrorSpec).waits === true;
}

/**
 * Every problem found in a configuration document (a route file, a packaged routes document),
 * reported at once. Not a delivery failure: it stops a synth or a cold start.
 */
export class RouteConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(
      `route configuration is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n- ${problems.join('\n- ')}`,
    );
    this.name = 'RouteConfigError';
  }
}

/** True for errors the queue boundary should retry. Unknown errors are retryable. */
export function isRetryable(error: unknown): boolean {
  return error instanceof PipelineError ? error.retryable : true;
}

/** The reason code for any error; unknown errors are `INTERNAL`. */
export function errorCodeOf(error: unknown): ErrorCode {
  return error instanceof PipelineError ? error.code : ErrorCode.INTERNAL;
}

/**
 * A short message for any thrown value, with registered secrets and URL credentials removed
 * (see redact.ts): safe for logs, the ledger and DLQ attributes.
 */
export function errorMessageOf(error: unknown): string {
  return redactor.text(error instanceof Error ? error.message : String(error));
}
