import * as z from 'zod';
import { MimeTypeSchema } from '../kit/content-type';

export { MimeTypeSchema };

/** Secrets Manager JSON: the API token. */
export const InspectSecretSchema = z.object({
  token: z.string().min(1),
});
export type InspectSecret = z.infer<typeof InspectSecretSchema>;

const ApiPathSchema = z.string().regex(/^\/[^?#\s]*$/, 'a path starting with "/", without query or fragment');

/**
 * API paths. `presign` is documented; `complete` is assumed (the reference names "Complete File
 * Upload" but its path was not readable).
 */
export const InspectPathsSchema = z.strictObject({
  presign: ApiPathSchema.default('/api/inspect/v1/file/upload/presigned'),
  complete: ApiPathSchema.default('/api/inspect/v1/file/upload/complete'),
});

/** Route options (the `{assetId}` key segment arrives here). */
export const InspectOptionsSchema = z.strictObject({
  /** The asset (entity) the file belongs to. */
  assetId: z.uuid(),
  /** Header carrying the token (assumed `Authorization`: the reference does not show it). */
  authHeader: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, 'an HTTP header name')
    .default('Authorization'),
  /** Scheme before the token (assumed `Bearer`); `''` sends the bare token. */
  authScheme: z
    .string()
    .regex(/^[A-Za-z0-9-]*$/, 'an auth scheme such as Bearer')
    .default('Bearer'),
  /** MIME type sent for every file of this route; else the object's own when specific, else by extension. */
  contentType: MimeTypeSchema.optional(),
  /** Refuse larger files before asking for a URL (the vendor checks `size` against limits it does not publish). */
  maxSizeBytes: z.int().positive().optional(),
  /**
   * When the vendor already holds the bytes (presign answers 200), still call the completion endpoint
   * for that file id. Off by default: the contract reads a 200 as a file that is already complete.
   */
  completeOnDuplicate: z.boolean().default(false),
  /** JSON field of the completion body carrying the file id (assumed `id`). */
  completeIdField: z
    .string()
    .regex(/^[A-Za-z_$][\w$]*$/, 'a JSON field name')
    .default('id'),
  paths: InspectPathsSchema.prefault({}),
});
export type InspectOptions = z.infer<typeof InspectOptionsSchema>;
