import { clearTaxAuth } from '../cleartax-common/auth';
import type { VendorSpec } from '../spec/schema';
import { type OneOptions, OneOptionsSchema, type OneSecret, OneSecretSchema } from './schemas';

/**
 * ClearTax "one-integration" advanced ingestion: pre-sign, PUT, create the ingestion activity, poll the
 * workflow. Creating an activity twice ingests twice, so the completion is not idempotent. Every JSON
 * answer is the envelope `{status, success, message, result, error, metadata}`. Contract:
 * docs/vendor-contracts.md §2.
 */
export const cleartaxOneSpec: VendorSpec<OneSecret, OneOptions> = {
  name: 'cleartax-one',
  secret: OneSecretSchema,
  options: OneOptionsSchema,
  auth: clearTaxAuth({ 'x-clear-auth-token': '{token}', 'x-integration-id': '{secret.integrationId}' }),
  files: { extensions: ['csv', 'xlsx', 'xls', 'zip'] },
  // Pre-sign accepts csv, xlsx, xls and zip; the PUT must send the matching type.
  contentType: {
    byExtension: {
      csv: 'text/csv',
      xls: 'application/vnd.ms-excel',
      xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
      zip: 'application/zip',
    },
  },
  answers: { ok: [{ at: 'success', equals: true }] },
  errors: {
    // The 401's body is the plain text UNAUTHORIZED; other errors carry error.{code, message}.
    code: ['{answer.error.code}'],
    bareTextCode: true,
    message: ['{answer.error.message}', '{answer.message}'],
    // A 2xx envelope with success false carries the real status inside.
    innerStatus: '{answer.status}',
    // 406: the file extension was refused.
    byStatus: { '406': 'file-rejected' },
  },
  presign: {
    request: { method: 'GET', path: '{options.paths.presign}', query: { filename: '{file.name}' } },
    upload: { url: '{answer.result.uploadUrl}', lifetimeSeconds: 60 * 60 },
    refs: { filename: '{file.name}' },
  },
  complete: {
    request: {
      method: 'POST',
      path: '{options.paths.ingest}',
      json: {
        // The reference accepts the URL with or without its signature; without keeps credentials out of the vendor's records.
        fileInfo: [
          {
            uploadUrl: '{upload.url}',
            filename: '{refs.filename|file.name}',
            fileType: '{options.fileType}',
          },
        ],
        templateType: '{options.templateType}',
        metadata: '{options.metadata}',
      },
    },
    // Where the task id sits is assumed (route option taskIdField).
    refs: { taskId: { at: '{options.taskIdField}' } },
  },
  status: {
    requires: ['taskId'],
    request: { method: 'GET', path: '{options.paths.status}', query: { taskId: '{refs.taskId}' } },
    // result null: the vendor does not know the task.
    known: 'result',
    // `error` stays null on 200 even when the workflow failed: workflowStatus alone decides.
    state: '{answer.result.workflowStatus}',
    states: { CREATED: 'running', PROCESSING: 'running', SUCCESS: 'succeeded', FAILED: 'failed' },
    detail: { from: 'result', omit: ['workflowStatus'] },
    stats: { at: '{options.statusFields.stats}' },
    errorFileUrl: { at: '{options.statusFields.errorFileUrl}' },
  },
  completionIdempotent: false,
};
