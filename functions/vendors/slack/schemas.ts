import * as z from 'zod';
import { ApiPathSchema } from '../cleartax-common/schemas';

/** Secrets Manager JSON: the app's bot token (`xoxb-…`; a user token `xoxp-…` works too). */
export const SlackSecretSchema = z.object({
  token: z.string().regex(/^xox[bp]-[A-Za-z0-9-]+$/, 'a Slack bot token (xoxb-…)'),
});
export type SlackSecret = z.infer<typeof SlackSecretSchema>;

/** Web API method paths (documented); overridable so a proxy or a test server can stand in. */
export const SlackPathsSchema = z.strictObject({
  getUploadUrl: ApiPathSchema.default('/api/files.getUploadURLExternal'),
  complete: ApiPathSchema.default('/api/files.completeUploadExternal'),
});

/** Route options (the `{channelId}` key segment arrives here). */
export const SlackOptionsSchema = z.strictObject({
  /** The channel the file is shared into: a public (C…) or private (G…) channel id, or a DM (D…). */
  channelId: z.string().regex(/^[CGD][A-Z0-9]{8,}$/, 'a Slack channel id such as C0123456789'),
  /** The message posted with the file. */
  initialComment: z.string().min(1).max(4000).optional(),
  /** Post into this thread (a message's `ts`) instead of the channel. */
  threadTs: z
    .string()
    .regex(/^\d+\.\d+$/, 'a message ts such as 1700000000.000100')
    .optional(),
  /** The file's title in Slack; the file name when unset. */
  title: z.string().min(1).max(255).optional(),
  /** Alt text for images (at most 1000 characters). */
  altText: z.string().min(1).max(1000).optional(),
  /** MIME type of the upload; else the object's own when specific, else by extension (assumed: Slack sniffs). */
  contentType: z.string().min(1).optional(),
  paths: SlackPathsSchema.prefault({}),
});
export type SlackOptions = z.infer<typeof SlackOptionsSchema>;
