import * as z from 'zod';

const MiB = 1024 * 1024;

/** S3's smallest part (all but the last). */
export const MIN_PART_SIZE_BYTES = 5 * MiB;
/** S3's largest part. */
export const MAX_PART_SIZE_BYTES = 5 * 1024 * MiB;
/** S3's largest part count. */
export const MAX_PARTS = 10_000;

/** Secrets Manager JSON: the account id and API token sent as `X-Account-Id` / `X-CleverTap-Token`. */
export const ClevertapSecretSchema = z.object({
  accountId: z.string().min(1),
  token: z.string().min(1),
});
export type ClevertapSecret = z.infer<typeof ClevertapSecretSchema>;

/** Region → API host, as CleverTap lists them (Europe has no region prefix). */
export const CLEVERTAP_REGION_HOSTS = {
  in1: 'in1.api.clevertap.com',
  sg1: 'sg1.api.clevertap.com',
  us1: 'us1.api.clevertap.com',
  aps3: 'aps3.api.clevertap.com',
  mec1: 'mec1.api.clevertap.com',
  eu: 'api.clevertap.com',
} as const;
export type ClevertapRegion = keyof typeof CLEVERTAP_REGION_HOSTS;

/** A positive integer given as a number or, from a key segment such as `clevertap/{catalogId}/`, as digits. */
const PositiveIntSchema = z
  .union([z.number(), z.string().regex(/^\d+$/, 'digits').transform(Number)])
  .pipe(z.int().positive());

const ApiPathSchema = z.string().regex(/^\/[^?#\s]*$/, 'a path starting with "/", without query or fragment');
const FieldNameSchema = z.string().regex(/^[A-Za-z_$][\w$]*$/, 'a JSON field name');

/**
 * API paths. `signedUrl` and `complete` are documented; `completeMultipart` is assumed (the reference
 * names a "Complete Multipart API" whose path was not readable).
 */
export const ClevertapPathsSchema = z.strictObject({
  signedUrl: ApiPathSchema.default('/v2/catalogs/signedurl'),
  completeMultipart: ApiPathSchema.default('/v2/catalogs/signedurl/complete-multipart'),
  complete: ApiPathSchema.default('/v2/catalogs/signedurl/complete'),
});

/**
 * JSON field names of the signed-URL answer and the complete-multipart body. All assumed (taken from
 * the names the mark-complete call uses and S3's multipart API), so each one is overridable.
 */
export const ClevertapFieldsSchema = z.strictObject({
  /** Upload session id, in the signed-URL answer and the complete-multipart body. */
  uploadId: FieldNameSchema.default('uploadId'),
  /** The single-upload URL in the signed-URL answer. */
  signedUrl: FieldNameSchema.default('signedUrl'),
  /** The part list, in the multipart answer and the complete-multipart body. */
  parts: FieldNameSchema.default('parts'),
  /** A part's number, in both part lists. */
  partNumber: FieldNameSchema.default('partNumber'),
  /** A part's URL in the multipart answer. */
  partSignedUrl: FieldNameSchema.default('signedUrl'),
  /** A part's ETag in the complete-multipart body. */
  eTag: FieldNameSchema.default('eTag'),
  /** The catalog id in the complete-multipart body. */
  catalogId: FieldNameSchema.default('catalogId'),
});
export type ClevertapFields = z.infer<typeof ClevertapFieldsSchema>;

/** Route options (the `{catalogId}` key segment arrives here as a string). */
export const ClevertapOptionsSchema = z.strictObject({
  catalogId: PositiveIntSchema,
  /** When set, the route's base URL host must be this region's host. */
  region: z.enum(Object.keys(CLEVERTAP_REGION_HOSTS) as [ClevertapRegion, ...ClevertapRegion[]]).optional(),
  /** Who marks uploads complete (`completedBy`). */
  completedBy: z.string().min(1).default('vendor-ingest'),
  /** `text/csv` for file uploads; `text/xml` / `application/xml` for merchant feeds. */
  contentType: z.enum(['text/csv', 'text/xml', 'application/xml']).default('text/csv'),
  /** Files of this size or more go multipart. Single uploads are documented for files under 100 MB. */
  singleUploadLimitBytes: z
    .int()
    .positive()
    .default(100 * MiB - 1),
  partSizeBytes: z
    .int()
    .min(MIN_PART_SIZE_BYTES)
    .max(MAX_PART_SIZE_BYTES)
    .default(64 * MiB),
  paths: ClevertapPathsSchema.prefault({}),
  fields: ClevertapFieldsSchema.prefault({}),
});
export type ClevertapOptions = z.infer<typeof ClevertapOptionsSchema>;

const IdSchema = z.union([z.string().min(1), z.number()]).transform(String);

/** Signed-URL answer for a single upload (after field renaming). */
export const SingleSignedUrlResponseSchema = z.object({
  uploadId: IdSchema,
  signedUrl: z.string().min(1),
});

/** Signed-URL answer for a multipart upload (after field renaming): one URL per part. */
export const MultipartSignedUrlResponseSchema = z.object({
  uploadId: IdSchema,
  parts: z
    .array(
      z.object({
        partNumber: z.union([z.int().positive(), z.string().regex(/^\d+$/).transform(Number)]),
        signedUrl: z.string().min(1),
      }),
    )
    .min(1),
});

/** Mark-complete answer: processing has started asynchronously. */
export const CompleteResponseSchema = z.object({
  status: z.string().nullish(),
  jobId: IdSchema,
  estimatedCompletionTime: z.string().nullish(),
});

/**
 * Error answers. The reference lists codes (UPLOAD_NOT_FOUND …) but not the body; CleverTap's other
 * APIs answer `{status: "fail", error, code}`, so every plausible place for a code is read.
 */
export const ClevertapErrorSchema = z.looseObject({
  status: z.unknown().optional(),
  code: z.union([z.string(), z.number()]).nullish(),
  errorCode: z.string().nullish(),
  error: z
    .union([
      z.string(),
      z.looseObject({ code: z.union([z.string(), z.number()]).nullish(), message: z.string().nullish() }),
    ])
    .nullish(),
  message: z.string().nullish(),
});
