import { COMMON_MIME_TYPES } from '../kit/content-type';
import type { VendorSpec } from '../spec/schema';
import {
  type InspectOptions,
  InspectOptionsSchema,
  type InspectSecret,
  InspectSecretSchema,
} from './schemas';

/**
 * Screening Eagle Inspect file upload: presign with the file's SHA-256 (the vendor deduplicates by hash:
 * a 200 means it already holds the bytes), PUT, then mark the file uploaded. Marking a file id uploaded
 * twice is assumed harmless (it names a state, it creates nothing), so the completion is declared
 * idempotent. Inspect publishes no upload-status endpoint. Contract: docs/vendor-contracts.md §4.
 */
export const inspectSpec: VendorSpec<InspectSecret, InspectOptions> = {
  name: 'inspect',
  secret: InspectSecretSchema,
  options: InspectOptionsSchema,
  // Header and scheme are assumed (the reference does not show them): route options.
  auth: { kind: 'headers', headers: { '{options.authHeader}': '{options.authScheme} {secret.token}' } },
  files: { maxSizeBytes: '{options.maxSizeBytes}' },
  // Announced at presign and sent on the PUT: they must match exactly.
  contentType: {
    option: 'contentType',
    stored: true,
    byExtension: COMMON_MIME_TYPES,
  },
  // Every error answer is {error, errorDescription}.
  errors: { code: ['{answer.error}'], message: ['{answer.errorDescription}'] },
  presign: {
    request: {
      method: 'POST',
      path: '{options.paths.presign}',
      json: {
        assetID: '{options.assetId}',
        contentType: '{contentType}',
        hash: '{file.sha256}',
        name: '{file.name}',
        size: '{file.size}',
      },
    },
    status: 201,
    upload: { url: '{answer.data.presignedURL}', lifetimeSeconds: 15 * 60 },
    refs: { fileId: '{answer.data.id}' },
    alreadyPresent: {
      status: 200,
      refs: { fileId: '{answer.data.id}' },
      completeIf: '{options.completeOnDuplicate}',
    },
  },
  // Any 2xx is success: the answer's body is not published.
  complete: {
    requires: ['fileId'],
    request: {
      method: 'POST',
      path: '{options.paths.complete}',
      json: { '{options.completeIdField}': '{refs.fileId}' },
    },
    refs: { fileId: '{refs.fileId}' },
  },
  completionIdempotent: true,
};
