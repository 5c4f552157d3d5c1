import * as z from 'zod';
import { JsonPathSchema } from '../../shared/json-path';
import {
  ApiPathSchema,
  CLEARTAX_TOKEN_PATH,
  ClearTaxCredentialShape,
  hasExactlyOneCredential,
  ONE_CREDENTIAL_MESSAGE,
} from '../cleartax-common/schemas';

/**
 * Secrets Manager JSON: `authToken` or `clientSecret`, plus the `integrationId` ClearTax issues at
 * onboarding (a 36-character UUID, sent as `x-integration-id`).
 */
export const OneSecretSchema = z
  .object({ ...ClearTaxCredentialShape, integrationId: z.guid('a 36-character UUID') })
  .refine(hasExactlyOneCredential, ONE_CREDENTIAL_MESSAGE);
export type OneSecret = z.infer<typeof OneSecretSchema>;

/** API paths; all documented except the token path, which is assumed to be the GST flow's. */
export const OnePathsSchema = z.strictObject({
  token: ApiPathSchema.default(CLEARTAX_TOKEN_PATH),
  presign: ApiPathSchema.default('/one-integration/action/pre-sign'),
  ingest: ApiPathSchema.default('/one-integration/api/v1/ingest'),
  status: ApiPathSchema.default('/one-integration/workflow/status'),
});

/** Route options. */
export const OneOptionsSchema = z.strictObject({
  /** Logical file type fixed at onboarding (e.g. `sales`), sent as `fileInfo[].fileType`. */
  fileType: z.string().min(1),
  /** `SALES`, `PURCHASE`, `TDSV2_PR`, `GENERAL_LEDGER` or an onboarded template. */
  templateType: z.string().min(1),
  /** Free-form object sent as the ingest call's `metadata`. */
  metadata: z.record(z.string(), z.unknown()).optional(),
  paths: OnePathsSchema.prefault({}),
  /** Where the task id sits in the ingest answer (assumed `result.taskId`: the reference does not show it). */
  taskIdField: JsonPathSchema.default('result.taskId'),
  /** Where the status answer carries the row statistics and the error file link (assumed). */
  statusFields: z
    .strictObject({
      stats: JsonPathSchema.default('result.stats'),
      errorFileUrl: JsonPathSchema.default('result.errorFileUrl'),
    })
    .prefault({}),
});
export type OneOptions = z.infer<typeof OneOptionsSchema>;
