import * as z from 'zod';
import { JsonPathSchema } from '../../shared/json-path';
import {
  ApiPathSchema,
  CLEARTAX_TOKEN_PATH,
  ClearTaxCredentialShape,
  hasExactlyOneCredential,
  ONE_CREDENTIAL_MESSAGE,
} from '../cleartax-common/schemas';

/** Secrets Manager JSON: `{ "authToken": "…" }` or `{ "clientSecret": "…" }`. */
export const GstSecretSchema = z
  .object(ClearTaxCredentialShape)
  .refine(hasExactlyOneCredential, ONE_CREDENTIAL_MESSAGE);
export type GstSecret = z.infer<typeof GstSecretSchema>;

export const GstTemplateTypeSchema = z.enum(['sales', 'purchase']);
export type GstTemplateType = z.infer<typeof GstTemplateTypeSchema>;

/** ClearTax's system templates, used when a route names no `templateId` (documented on the ingest API). */
export const GST_SYSTEM_TEMPLATE_IDS: Readonly<Record<GstTemplateType, string>> = {
  sales: '618a5623836651c01c1498ad',
  purchase: '60e5613ff71f4a7aeca4336b',
};

/** Tenant the status API wants per template type (documented: sales → GSTSALES, purchase → MAXITC). */
export const GST_STATUS_TENANTS: Readonly<Record<GstTemplateType, string>> = {
  sales: 'GSTSALES',
  purchase: 'MAXITC',
};

/**
 * API paths. `{templateType}` and `{activityId}` are filled in (URL-encoded). All documented; kept
 * overridable so a path change at ClearTax is a config change.
 */
export const GstPathsSchema = z.strictObject({
  token: ApiPathSchema.default(CLEARTAX_TOKEN_PATH),
  presign: ApiPathSchema.default('/integration/v1/generatePreSign/{templateType}'),
  ingest: ApiPathSchema.default('/integration/v1/ingest/file/{templateType}'),
  status: ApiPathSchema.default('/integration/v1/ingest/file/{templateType}/status/{activityId}'),
});

/** A GSTIN: 15 upper-case letters and digits. */
const GstinSchema = z.string().regex(/^[0-9]{2}[0-9A-Z]{13}$/, 'a 15-character GSTIN');

/** Route options (after named prefix segments are merged in). */
export const GstOptionsSchema = z
  .strictObject({
    templateType: GstTemplateTypeSchema,
    /** Ingestion template; the system template for `templateType` when omitted. */
    templateId: z.string().min(1).optional(),
    /** GSTINs the file covers, sent as `userInputArgs.gstins`. */
    gstins: z.array(GstinSchema).min(1).optional(),
    /**
     * What goes in the trigger's `fileInfo.s3FileUrl`: the presigned URL whole (`signed`, as the
     * vendor's sample does) or without its query string (`unsigned`).
     */
    s3FileUrlMode: z.enum(['signed', 'unsigned']).default('signed'),
    paths: GstPathsSchema.prefault({}),
    /** Where the status answer carries the row statistics and the error file link (documented). */
    statusFields: z
      .strictObject({
        stats: JsonPathSchema.default('processingStats'),
        errorFileUrl: JsonPathSchema.default('fileError.errorFileUrl'),
      })
      .prefault({}),
  })
  .transform((options) => ({
    ...options,
    templateId: options.templateId ?? GST_SYSTEM_TEMPLATE_IDS[options.templateType],
  }));
export type GstOptions = z.infer<typeof GstOptionsSchema>;

/**
 * The presign answer. HTTP 200 carries both success (`status: CREATED`) and validation errors
 * (`status: FAILED` with `errorCode`); a 401 has the same shape with nulls.
 */
export const GstPresignResponseSchema = z.object({
  status: z.string().nullish(),
  preSignedS3Url: z.string().nullish(),
  errorCode: z.string().nullish(),
  errorMessage: z.string().nullish(),
});

/** One entry of an error answer. A 500 answers with a JSON array of these. */
export const GstErrorItemSchema = z.object({
  errorCode: z.string().nullish(),
  errorMessage: z.string().nullish(),
  errorField: z.unknown().optional(),
  errorValues: z.unknown().optional(),
  errorResolution: z.unknown().optional(),
});

/** Any ClearTax GST error body: a single object or an array of them. */
export const GstErrorBodySchema = z.union([GstErrorItemSchema, z.array(GstErrorItemSchema)]);

/** Trigger ingestion → 201. */
export const GstIngestResponseSchema = z.object({
  activityId: z.string().min(1),
  status: z.string().nullish(),
});

export const GstProcessingStatSchema = z.object({
  identifier: z.string().nullish(),
  totalDocumentCount: z.number().nullish(),
  validRows: z.number().nullish(),
  invalidRows: z.number().nullish(),
});

export const GstFileErrorSchema = z.object({
  inputFileName: z.string().nullish(),
  status: z.string().nullish(),
  errorFileUrl: z.string().nullish(),
});

/** Activity status. `processingStats` stays null until the activity is done. */
export const GstStatusResponseSchema = z.object({
  activityId: z.string().nullish(),
  status: z.string().min(1),
  processingStats: z.array(GstProcessingStatSchema).nullish(),
  fileError: GstFileErrorSchema.nullish(),
  errors: z.array(z.unknown()).nullish(),
});
