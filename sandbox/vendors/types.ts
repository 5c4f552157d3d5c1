import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Reply } from '../http-util';
import type { ObjectStore, StoredBytes, StoredObject } from '../object-store';
import type { SandboxCredentials, SandboxOperation, SandboxOptions, SandboxVendor } from '../types';

/** Options with every default applied. */
export type ResolvedOptions = Required<Omit<SandboxOptions, 'credentials' | 'log'>>;

/**
 * What a vendor module declares about itself. The registry (`vendors/index.ts`) lists one per vendor,
 * and everything else is derived from it: the vendor names, the buckets, which fault specs are valid,
 * the default credentials.
 */
export interface VendorDefinition<
  Name extends string = string,
  Block extends string = string,
  Creds = unknown,
> {
  /** Same name as the adapter in `functions/vendors/`. */
  readonly name: Name;
  /** Bucket its S3-style presigned upload URLs point into (`/_s3/<bucket>/…`), if it hands any out. */
  readonly bucket?: string;
  /** Bucket of the signed download links it hands out (ClearTax error files), if any. */
  readonly downloadBucket?: string;
  /**
   * Every operation it has an endpoint for, `upload` included when it takes bytes. A fault spec for any
   * other operation is refused; the sandbox refuses to start when the module's routes disagree.
   */
  readonly operations: readonly SandboxOperation[];
  /** The credentials block this vendor owns, with its defaults (other modules may read it too). */
  readonly credentials?: { readonly block: Block; readonly defaults: Creds };
  /** Builds the vendor's endpoints and state for one sandbox. */
  create(env: VendorEnv): VendorModule;
}

/** Declares a vendor module, keeping its name and credentials block as literal types. */
export function defineVendor<const Name extends string, const Block extends string = never, Creds = never>(
  definition: VendorDefinition<Name, Block, Creds>,
): VendorDefinition<Name, Block, Creds> {
  return definition;
}

/** A vendor API request, body already read. */
export interface ApiRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** Named groups of the route pattern. */
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Raw body text (`''` when there is none). */
  body: string;
}

/** How a presign call hands out its URL; set by the `expired-url` and `foreign-host` faults. */
export interface PresignOverrides {
  expired: boolean;
  foreign: boolean;
}

/** One vendor endpoint. */
export interface ApiRoute {
  vendor: SandboxVendor;
  operation: SandboxOperation;
  /** The HTTP method(s) it answers; another method on the same path gets the vendor's 405. */
  method: 'GET' | 'POST' | ReadonlyArray<'GET' | 'POST'>;
  /** Matches the whole path; named groups become `params`. */
  pattern: RegExp;
  /**
   * The file and vendor id the call concerns, known before acting (fault matching and the call log need
   * them even for calls that are then refused or faulted).
   */
  identify?(req: ApiRequest): { fileName?: string | undefined; ref?: string | undefined };
  handle(req: ApiRequest, presign: PresignOverrides, now: number): Reply;
}

/** What a {@link StreamRoute} handler gets: the request and a way to take its body. */
export interface StreamContext {
  req: IncomingMessage;
  /** Path without the query string. */
  path: string;
  now: number;
  /**
   * Reads the body (`length` bytes: its Content-Length) without keeping it, hashing what counts as the
   * file: the whole body, or only the first file part of a `multipart/form-data` body with `boundary`.
   * `undefined` when the body did not arrive whole (the client went away or half-closed); `incomplete` is
   * the answer for a client that half-closes.
   */
  receive(
    length: number,
    options: { incomplete: Reply; multipartBoundary?: string | undefined },
  ): Promise<ReceivedBody | undefined>;
}

/** A body received whole. */
export interface ReceivedBody {
  /** The file's digests, size and head (of the first file part, for a multipart body). */
  file: StoredBytes;
  /** Multipart only: how many file parts the body held. */
  fileParts?: number;
  /** Multipart only: why the body is not valid multipart. */
  malformed?: string;
}

/**
 * An upload endpoint that is not an S3 presigned URL (Slack's `upload_url`): its handler reads the body
 * itself through `ctx.receive`. Faults of the vendor's `upload` operation apply to it as to S3 uploads.
 */
export interface StreamRoute {
  vendor: SandboxVendor;
  /** Matches the whole path. */
  pattern: RegExp;
  /** The file and ref the URL names, for the call log and fault matching. */
  identify(path: string): { fileName?: string | undefined; ref?: string | undefined };
  /** The vendor's answer to an injected `status` fault without a body. */
  errorReply(status: number, message: string): Reply;
  /** The answer to send, or `undefined` when the client went away. */
  handle(ctx: StreamContext): Promise<Reply | undefined>;
}

/** One vendor's endpoints and state. */
export interface VendorModule {
  routes: ApiRoute[];
  /** Upload endpoints that read the body themselves (not S3 presigned URLs). */
  streamRoutes?: StreamRoute[];
  /** The vendor's error shape, for an injected `status` fault without a body and for internal errors. */
  errorReply(status: number, message: string): Reply;
  /**
   * Admission control before a call is handled (CleverTap's per-account concurrency limit): a release
   * function for an admitted call, or the refusal to send.
   */
  admit?(headers: IncomingHttpHeaders): { release: () => void } | { reply: Reply };
  /** Every call takes at least this long (CleverTap), so overlapping calls are observable. */
  latencyMs?: number;
  /** Largest single (non-multipart) PUT this vendor's URLs take, in bytes, exclusive. */
  singleUploadLimit?: number;
  /** Forget everything but credentials. */
  reset(): void;
}

/** A file a vendor serves over a signed GET link (a ClearTax error file). */
export interface Download {
  /** Stable id: the file keeps its path while its link is signed afresh. */
  id: string;
  /** The name it is served under (the link's last path segment). */
  fileName: string;
  /** The uploaded file it is about: the call log records a GET of the link under this name. */
  about: string;
  /** The vendor id it belongs to (activity id, task id), for the call log. */
  ref: string;
  contentType: string;
  /** The body, rendered when the link is fetched. */
  render(): string;
}

/** What a vendor module is built from. */
export interface VendorEnv {
  options: ResolvedOptions;
  credentials: SandboxCredentials;
  store: ObjectStore;
  /** A presigned PUT URL for `object` (or one of its parts), signed for `object.contentType`. */
  presignUrl(
    object: StoredObject,
    expiresInSeconds: number,
    overrides: PresignOverrides,
    now: number,
    partNumber?: number,
  ): string;
  /**
   * Publishes `download` in `vendor`'s `downloadBucket` and answers a GET link to it, on the sandbox host,
   * signed like a presigned URL (any change to it breaks the signature) and valid `expiresInSeconds`.
   */
  signDownload(vendor: SandboxVendor, download: Download, expiresInSeconds: number, now: number): string;
  /** `http://host:port` of the sandbox (every vendor URL points here) and of the foreign listener. */
  url: string;
  foreignUrl: string;
  /** Records a successful upload that did not go through an S3 presigned URL, for `log.uploads()`. */
  recordUpload(upload: {
    vendor: SandboxVendor;
    objectId: string;
    fileName: string;
    bytes: StoredBytes;
  }): void;
}

/** Job phase after `elapsed` ms of a job lasting `duration` ms: a quarter created, then running, then done. */
export function jobPhase(elapsed: number, duration: number): 'created' | 'running' | 'done' {
  if (elapsed >= duration) return 'done';
  return elapsed < duration / 4 ? 'created' : 'running';
}

/** A random lower-case hex id of `bytes` bytes. */
export function hexId(bytes = 16): string {
  return randomBytes(bytes).toString('hex');
}

/** The extension of `fileName`, lower-cased, without the dot (`''` when there is none). */
export function extensionOf(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  return dot <= 0 || dot === fileName.length - 1 ? '' : fileName.slice(dot + 1).toLowerCase();
}
