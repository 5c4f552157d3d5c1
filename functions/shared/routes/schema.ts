import * as z from 'zod';

/**
 * The route file (`config/routes.json`): the one source of truth read by the CDK app, the Lambdas
 * (compiled into the bundle) and the local pipeline.
 */

const ROUTE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** Literal text and `{name}` segments; each segment matches one path component. Ends with `/`. */
const PREFIX = /^(?:[^{}]|\{[A-Za-z][A-Za-z0-9]*\})+\/$/;
/** A host name, optionally with a leading `*.` wildcard, optionally with `:port`. */
const HOST_PATTERN = /^(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$/i;

export const RouteOverrideSchema = z
  .object({
    baseUrl: z.url().optional(),
    secretId: z.string().min(1).optional(),
    uploadHostAllowList: z
      .array(z.string().regex(HOST_PATTERN, 'host name, *.domain or host:port'))
      .min(1)
      .optional(),
    options: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export const RouteSchema = z
  .object({
    /** Stable id: names queues, metrics and ledger entries. */
    id: z.string().regex(ROUTE_ID, 'lower-case letters, digits and dashes'),
    /** Key prefix, e.g. `cleartax/sales/` or `clevertap/{catalogId}/`. */
    prefix: z
      .string()
      .regex(PREFIX, 'a key prefix ending with "/", with optional {name} segments')
      .refine((p) => !p.startsWith('/'), 'must not start with "/"'),
    vendor: z.string().min(1),
    /** Secrets Manager name or ARN holding the vendor credentials (JSON). */
    secretId: z.string().min(1),
    /** The vendor API's base URL. */
    baseUrl: z.url(),
    /** Hosts the vendor's presigned URLs may point at; anything else is refused before a byte is sent. */
    uploadHostAllowList: z.array(z.string().regex(HOST_PATTERN, 'host name, *.domain or host:port')).min(1),
    /** Vendor-specific options, validated against the adapter's schema. */
    options: z.record(z.string(), z.unknown()).default({}),
    /** Cap on concurrent vendor API calls for this route's account (defaults to the adapter's). */
    maxConcurrentCalls: z.int().min(1).max(100).optional(),
    /**
     * Retry a completion call whose outcome is unknown (sent, no answer). Off by default for vendors
     * without idempotency: a second trigger would ingest the file twice.
     */
    retryAmbiguousCompletion: z.boolean().optional(),
    /** Poll the vendor's job status after completion (vendors that publish one). */
    pollStatus: z.boolean().default(true),
    /** Parallel part uploads for multipart vendors. */
    partConcurrency: z.int().min(1).max(16).default(4),
  })
  .strict();
export type Route = z.infer<typeof RouteSchema>;

export const StageRoutesSchema = z
  .object({
    /** Allow `http://` upload and API URLs on loopback hosts. Only for local runs against the sandbox. */
    allowLoopbackHttp: z.boolean().default(false),
    routes: z.record(z.string(), RouteOverrideSchema).default({}),
  })
  .strict();

export const RouteFileSchema = z
  .object({
    $schema: z.string().optional(),
    routes: z.array(RouteSchema).min(1),
    stages: z.record(z.string(), StageRoutesSchema).default({}),
  })
  .strict();
export type RouteFileInput = z.input<typeof RouteFileSchema>;

/** A route after stage overrides, with its prefix compiled. What the Lambdas work with. */
export interface ResolvedRoute extends Route {
  /** The literal part of the prefix before the first `{segment}`: the S3 notification filter. */
  readonly filterPrefix: string;
  /** Names of the `{segments}` in order. */
  readonly segments: readonly string[];
  readonly allowLoopbackHttp: boolean;
  readonly stage: string;
}

/** Serialisable form passed to the functions (bundle constant or environment). */
export const ResolvedRoutesSchema = z.object({
  stage: z.string(),
  allowLoopbackHttp: z.boolean(),
  routes: z.array(RouteSchema),
});
export type ResolvedRoutesDocument = z.infer<typeof ResolvedRoutesSchema>;
