import { COMMON_MIME_TYPES } from '../kit/content-type';
import type { VendorSpec } from '../spec/schema';
import { type SlackOptions, SlackOptionsSchema, type SlackSecret, SlackSecretSchema } from './schemas';

/**
 * Slack's external file upload, shared into a channel: `files.getUploadURLExternal` (file name and
 * length) → POST the bytes to the `upload_url` it answers → `files.completeUploadExternal`, which
 * shares the file into `channel_id`. Web API refusals are HTTP 200 with `{ ok: false, error }`, but
 * rate limiting (429 with `Retry-After`). The completion can be called once per file, so it is not
 * idempotent. Contract: docs/vendor-contracts.md §5.
 */
export const slackSpec: VendorSpec<SlackSecret, SlackOptions> = {
  name: 'slack',
  secret: SlackSecretSchema,
  options: SlackOptionsSchema,
  auth: { kind: 'headers', headers: { Authorization: 'Bearer {secret.token}' } },
  // Slack's file limit is 1 GB (assumed GiB); the upload service takes nothing larger.
  files: { maxSizeBytes: 1024 ** 3 },
  contentType: { option: 'contentType', stored: true, byExtension: COMMON_MIME_TYPES },
  answers: { ok: [{ at: 'ok', equals: true }] },
  errors: {
    code: ['{answer.error}'],
    message: ['{answer.response_metadata.messages.0}', '{answer.needed}'],
    byCode: {
      not_authed: 'auth',
      invalid_auth: 'auth',
      account_inactive: 'auth',
      token_revoked: 'auth',
      token_expired: 'auth',
      no_permission: 'auth',
      missing_scope: 'auth',
      ratelimited: 'throttled',
      internal_error: 'unavailable',
      fatal_error: 'unavailable',
      service_unavailable: 'unavailable',
      request_timeout: 'unavailable',
      channel_not_found: 'rejected',
      not_in_channel: 'rejected',
      invalid_channel: 'rejected',
      is_archived: 'rejected',
      posting_to_channel_denied: 'rejected',
      channels_limit_exceeded: 'rejected',
      invalid_arguments: 'rejected',
      file_not_found: 'rejected',
      file_upload_size_restricted: 'file-rejected',
      file_type_not_allowed: 'file-rejected',
      alt_txt_too_large: 'rejected',
    },
    // An `ok: false` answer with a code Slack does not document for these methods: not a success, retried.
    unexplained: 'bad-response',
  },
  presign: {
    request: {
      method: 'POST',
      path: '{options.paths.getUploadUrl}',
      form: { filename: '{file.name}', length: '{file.size}', alt_txt: '{options.altText}' },
      // Asking twice only hands out a second URL: harmless.
      idempotent: true,
    },
    upload: {
      url: '{answer.upload_url}',
      method: 'POST',
      // The URL's lifetime is not published: 10 minutes is assumed.
      lifetimeSeconds: 10 * 60,
    },
    refs: { fileId: '{answer.file_id}' },
  },
  complete: {
    requires: ['fileId'],
    request: {
      method: 'POST',
      path: '{options.paths.complete}',
      json: {
        files: [{ id: '{refs.fileId}', title: '{options.title|file.name}' }],
        channel_id: '{options.channelId}',
        initial_comment: '{options.initialComment}',
        thread_ts: '{options.threadTs}',
      },
    },
    refs: { fileId: '{answer.files.0.id}' },
  },
  completionIdempotent: false,
};
