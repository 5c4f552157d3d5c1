import type { z } from 'zod';
import type { ResolvedRoute } from '../shared/routes/schema';

/** Vendor-issued identifiers worth keeping (activityId, taskId, jobId, fileId, uploadId …). */
export type VendorRefs = Record<string, string | number | boolean | null>;

/** The S3 object being delivered, as the adapter sees it. */
export interface FileDescriptor {
  readonly bucket: string;
  readonly key: string;
  readonly versionId: string | undefined;
  readonly eTag: string;
  /** Bytes. */
  readonly size: number;
  /** Last path segment of the key, e.g. `march.xlsx`. */
  readonly fileName: string;
  /** Lower-case extension without the dot, `''` when there is none. */
  readonly extension: string;
  /** The object's stored Content-Type, if S3 has one. */
  readonly contentType: string | undefined;
  /** SHA-256 of the bytes, base64 of the raw digest; present only when the adapter declares `needsSha256`. */
  readonly sha256Base64?: string | undefined;
}

/** Where and how to PUT bytes. Every URL is checked against the route's allow-list before use. */
export interface UploadTarget {
  readonly url: string;
  /** PUT for S3-style presigned URLs; POST for upload URLs that take the raw bytes so (Slack). */
  readonly method: 'PUT' | 'POST';
  /** Headers the URL was signed for (at least `Content-Type`). `Content-Length` is added by the uploader. */
  readonly headers: Readonly<Record<string, string>>;
  /** Epoch ms after which the URL no longer works, when the vendor says. */
  readonly expiresAt?: number | undefined;
}

export interface UploadPart {
  readonly partNumber: number;
  /** Inclusive byte range of the object. */
  readonly start: number;
  readonly end: number;
  readonly target: UploadTarget;
}

/** What the vendor wants done with the bytes. */
export type UploadPlan =
  | { readonly kind: 'single'; readonly target: UploadTarget; readonly refs: VendorRefs }
  | { readonly kind: 'multipart'; readonly parts: readonly UploadPart[]; readonly refs: VendorRefs }
  /** The vendor already holds these bytes (inspect answers 200): no upload, no completion. */
  | { readonly kind: 'already-present'; readonly refs: VendorRefs };

export interface UploadedPart {
  readonly partNumber: number;
  readonly eTag: string;
}

/** What the uploader reports back, carried to the completion step. */
export interface UploadResult {
  readonly kind: 'single' | 'multipart';
  /** The URL uploaded to, without its query string. */
  readonly url: string;
  /** The URL exactly as signed. Only for vendors whose completion call wants it whole (ClearTax GST). */
  readonly signedUrl?: string | undefined;
  readonly eTag?: string | undefined;
  readonly parts?: readonly UploadedPart[] | undefined;
}

/** A vendor JSON API answer. */
export interface VendorResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Parsed JSON when the body is JSON, else the raw text (`''` for an empty body). */
  readonly body: unknown;
  /** The body as text, redacted and cut to 2,000 characters: for error messages only. */
  readonly text: string;
}

export interface VendorRequest {
  /** Short operation name for logs, metrics and fault injection: `presign`, `complete`, `status`, `token`. */
  readonly operation: string;
  readonly method: 'GET' | 'POST' | 'PUT';
  /** Path relative to the route's base URL, or an absolute URL on the same origin. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly headers?: Readonly<Record<string, string>>;
  /** A JSON body (`Content-Type: application/json` unless the headers say otherwise). */
  readonly json?: unknown;
  /** A form-encoded body (`application/x-www-form-urlencoded`). */
  readonly form?: Readonly<Record<string, string>>;
  /** Per-call timeout in ms (default from the client). */
  readonly timeoutMs?: number;
  /**
   * Repeating the call is harmless (it changes nothing at the vendor, or the vendor deduplicates).
   * Only such calls are sent again at once when a reused keep-alive connection turns out to have been
   * closed by the server before any byte of the answer came. @default true for GET, false otherwise
   */
  readonly idempotent?: boolean;
}

/**
 * The HTTP client an adapter uses for its vendor's JSON API. It applies timeouts, the per-account
 * concurrency limit and redaction, and turns transport failures into the error taxonomy (a failure
 * after the request was sent is an `AmbiguousOutcomeError`). It does **not** judge HTTP statuses:
 * each vendor has its own error shapes, so the adapter classifies the answer.
 */
export interface VendorHttp {
  request(request: VendorRequest): Promise<VendorResponse>;
}

/** A token shared by every function that uses the same credentials (see README, "Token sharing"). */
export interface MintedToken {
  readonly token: string;
  /** Epoch ms; `null` = never expires. */
  readonly validUntil: number | null;
}

/** How a vendor's tokens may be minted. */
export interface MintPolicy {
  /** Mints allowed per secret per UTC day (ClearTax: 288); at the limit, deliveries wait for the next day. */
  readonly dailyLimit?: number;
}

export interface TokenCache {
  /**
   * The current token for `key`, minting it with `mint` only when no valid token exists anywhere.
   * At most one mint runs at a time across all functions; mints are counted per UTC day against
   * `policy.dailyLimit` (`TOKEN_BUDGET_EXHAUSTED` beyond it).
   */
  get(key: string, mint: () => Promise<MintedToken>, policy?: MintPolicy): Promise<string>;
  /**
   * The vendor refused `token`. `remint`: it is forgotten and the next `get` mints a fresh one (once
   * per token, however many functions saw the refusal). `refused`: the token refused was itself minted
   * to replace a refused one, so the credentials are bad: no more mints, the caller fails `AUTH_FAILED`.
   */
  refused(key: string, token: string): Promise<'remint' | 'refused'>;
}

export interface AdapterLogger {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
}

/** Everything an adapter call may use. Built per record by the dispatch/completion core. */
export interface VendorContext<TSecret, TOptions> {
  readonly route: ResolvedRoute;
  /** Route options merged with named prefix segments, validated by the adapter's `optionsSchema`. */
  readonly options: TOptions;
  /** The route's secret, validated by the adapter's `secretSchema`. */
  readonly secret: TSecret;
  readonly http: VendorHttp;
  readonly tokens: TokenCache;
  readonly log: AdapterLogger;
  readonly now: () => number;
}

/** The completion step's view of a delivery (from the completion message). */
export interface CompletionInput {
  readonly file: FileDescriptor;
  readonly upload: UploadResult;
  /** Refs from `requestUpload`, plus anything checkpointed by an earlier completion attempt. */
  readonly refs: VendorRefs;
}

export interface CompletionContext<TSecret, TOptions> extends VendorContext<TSecret, TOptions> {
  /**
   * Persist progress inside a multi-call completion (e.g. CleverTap's complete-multipart before
   * mark-complete) so a retry skips the steps already done. The saved refs come back in `input.refs`.
   */
  checkpoint(refs: VendorRefs): Promise<void>;
}

export interface CompletionResult {
  /** Ids returned by the vendor (activityId, taskId, jobId, fileId …). */
  readonly refs: VendorRefs;
  /** The vendor's own job state right after completion, e.g. `PROCESSING`. */
  readonly vendorState?: string | undefined;
}

export type VendorJobPhase = 'running' | 'succeeded' | 'failed';

export interface VendorJobStatus {
  readonly phase: VendorJobPhase;
  /** The vendor's state name (`ACTIVITY_COMPLETED`, `SUCCESS`, `SYSTEM_FEEDBACK` …). */
  readonly vendorState: string;
  /** What else the vendor said, made safe to store (URL signatures and secrets removed). */
  readonly detail?: Record<string, unknown> | undefined;
  /** Row counts, when the vendor reports them. */
  readonly stats?: { readonly total?: number; readonly accepted?: number; readonly rejected?: number };
  /**
   * The vendor's link to its file of rejected rows, as given (signed: a credential, fetched into the
   * results prefix and never stored or logged).
   */
  readonly errorFileUrl?: string;
}

/**
 * One vendor's upload flow. Adapters are stateless; everything per call comes in the context.
 * Adding a vendor: one folder under `functions/vendors/`, one line in `registry.ts`, one route.
 */
export interface VendorAdapter<TSecret = unknown, TOptions = unknown> {
  /** Registry name, used as `vendor` in the route file. */
  readonly name: string;
  /** Shape of the Secrets Manager JSON for this vendor. */
  readonly secretSchema: z.ZodType<TSecret>;
  /** Shape of `route.options` (after named prefix segments are merged in). */
  readonly optionsSchema: z.ZodType<TOptions>;
  /** The adapter needs the SHA-256 of the bytes before asking for a URL. */
  readonly needsSha256?: boolean;
  /**
   * True when calling `complete` twice for one upload is harmless (the vendor deduplicates).
   * When false, an ambiguous completion is parked as COMPLETION_UNCERTAIN instead of retried.
   */
  readonly completionIdempotent: boolean;
  /**
   * True when the completion call needs the presigned URL exactly as signed (ClearTax GST's sample
   * passes it whole). Otherwise only the unsigned URL is kept in the completion message and ledger.
   */
  completionNeedsSignedUrl?(options: TOptions): boolean;
  /**
   * The vendor mints tokens against a daily budget: the token-cache key family (the `Vendor` dimension of
   * the `TokenMintsToday` metric) and the budget, for the stack's alarm at 80 % of it.
   */
  readonly tokenMint?: { readonly family: string; readonly dailyLimit: number };
  /** Default cap on concurrent API calls per vendor account (CleverTap: 3). Routes may lower it. */
  readonly defaultMaxConcurrentCalls?: number;
  /**
   * Key for the per-account concurrency limit, derived from the secret (e.g. CleverTap account id).
   * Calls sharing the key share the limit.
   */
  accountKey?(secret: TSecret, options: TOptions): string;
  /**
   * Cross-field checks of a route that its option schema cannot express (e.g. CleverTap's `region`
   * against the base URL), run when the route file is loaded. Returns one message per problem.
   */
  checkRoute?(
    route: {
      readonly id: string;
      readonly baseUrl: string;
      readonly options: Readonly<Record<string, unknown>>;
    },
    allowLoopbackHttp: boolean,
  ): string[];
  /** Throws `FileRejectedError` naming the rule when the vendor would refuse this file. */
  checkFile(file: FileDescriptor, options: TOptions): void;
  /** Ask the vendor where to put the bytes. Only called for a file {@link checkFile} accepted (the dispatch core runs it first). */
  requestUpload(file: FileDescriptor, ctx: VendorContext<TSecret, TOptions>): Promise<UploadPlan>;
  /** Tell the vendor the bytes are there (mark complete / trigger ingestion). */
  complete(input: CompletionInput, ctx: CompletionContext<TSecret, TOptions>): Promise<CompletionResult>;
  /** The vendor's job state, for vendors that publish one. */
  status?(
    input: CompletionInput & { readonly result: VendorRefs },
    ctx: VendorContext<TSecret, TOptions>,
  ): Promise<VendorJobStatus>;
}

// biome-ignore lint/suspicious/noExplicitAny: the registry holds adapters of every secret/option shape
export type AnyVendorAdapter = VendorAdapter<any, any>;
