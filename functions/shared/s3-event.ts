import * as z from 'zod';

/**
 * S3 event notifications as they arrive in an SQS body. One body can carry several `Records`;
 * configuring a notification makes S3 send a one-off `s3:TestEvent` without `Records`.
 */

const S3RecordSchema = z.object({
  eventSource: z.literal('aws:s3'),
  eventName: z.string(),
  eventTime: z.string(),
  awsRegion: z.string().optional(),
  s3: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({
      key: z.string().min(1),
      size: z.int().nonnegative().optional(),
      eTag: z.string().optional(),
      versionId: z.string().optional(),
      sequencer: z.string().optional(),
    }),
  }),
});

const S3EventSchema = z.object({ Records: z.array(z.unknown()).min(1) });
const S3TestEventSchema = z.object({ Event: z.literal('s3:TestEvent'), Bucket: z.string().optional() });

/** An object-created notification, key already decoded. */
export interface ObjectCreated {
  readonly bucket: string;
  readonly key: string;
  readonly size: number | undefined;
  readonly eTag: string | undefined;
  readonly versionId: string | undefined;
  readonly sequencer: string | undefined;
  readonly eventName: string;
  readonly eventTime: string;
}

export type ParsedBody =
  | { readonly kind: 'test-event' }
  | { readonly kind: 'records'; readonly records: readonly ParsedRecord[] }
  | { readonly kind: 'malformed'; readonly reason: string };

export type ParsedRecord =
  | { readonly kind: 'object-created'; readonly object: ObjectCreated }
  | { readonly kind: 'skipped'; readonly reason: string; readonly key?: string }
  | { readonly kind: 'malformed'; readonly reason: string };

/**
 * S3 URL-encodes keys in notifications the way HTML forms do: a space is `+`, everything else
 * `%xx` (so a literal `+` arrives as `%2B`). Throws `URIError` on a broken escape.
 */
export function decodeS3Key(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, ' '));
}

/** The inverse of {@link decodeS3Key}, as S3 writes keys into notifications. */
export function encodeS3Key(key: string): string {
  return encodeURIComponent(key)
    .replace(/%20/g, '+')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function parseRecord(raw: unknown): ParsedRecord {
  const rec = S3RecordSchema.safeParse(raw);
  if (!rec.success) {
    return {
      kind: 'malformed',
      reason: `not an S3 event record: ${rec.error.issues[0]?.message ?? 'invalid'}`,
    };
  }
  const { s3, eventName, eventTime } = rec.data;
  if (!eventName.startsWith('ObjectCreated:')) {
    return { kind: 'skipped', reason: `event ${eventName} is not an object creation` };
  }
  let key: string;
  try {
    key = decodeS3Key(s3.object.key);
  } catch {
    return { kind: 'malformed', reason: 'object key is not valid URL encoding' };
  }
  // The console's "Create folder" writes a zero-byte object whose key ends in "/": not a file.
  if (key.endsWith('/') && (s3.object.size ?? 0) === 0) {
    return { kind: 'skipped', reason: 'folder placeholder', key };
  }
  return {
    kind: 'object-created',
    object: {
      bucket: s3.bucket.name,
      key,
      size: s3.object.size,
      eTag: s3.object.eTag,
      versionId: s3.object.versionId,
      sequencer: s3.object.sequencer,
      eventName,
      eventTime,
    },
  };
}

/** Parses an SQS body carrying an S3 notification. Never throws. */
export function parseS3NotificationBody(body: string): ParsedBody {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { kind: 'malformed', reason: 'body is not JSON' };
  }
  if (S3TestEventSchema.safeParse(json).success) return { kind: 'test-event' };
  const event = S3EventSchema.safeParse(json);
  if (!event.success)
    return { kind: 'malformed', reason: 'body is not an S3 event notification (no Records)' };
  return { kind: 'records', records: event.data.Records.map(parseRecord) };
}
