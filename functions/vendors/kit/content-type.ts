import * as z from 'zod';

/** `type/subtype`, parameters allowed (RFC 9110 token characters). */
export const MimeTypeSchema = z
  .string()
  .regex(
    /^[\w!#$&^.+-]+\/[\w!#$&^.+-]+(\s*;\s*[\w!#$&^.+-]+=("[^"]*"|[\w!#$&^.+-]+))*$/,
    'a MIME type such as image/png',
  );

/** Stored Content-Types that say nothing about the file (S3 and SDK defaults). */
const UNSPECIFIC_TYPES = new Set([
  'application/octet-stream',
  'binary/octet-stream',
  'application/x-www-form-urlencoded',
]);

/** The object's stored Content-Type when it says what the file is; undefined for S3's defaults. */
export function specificStoredType(stored: string | undefined): string | undefined {
  const type = stored?.trim();
  if (!type || UNSPECIFIC_TYPES.has(type.toLowerCase())) return undefined;
  return MimeTypeSchema.safeParse(type).success ? type : undefined;
}

/** MIME type by lower-case extension: documents, images, audio and video. */
export const COMMON_MIME_TYPES: Readonly<Record<string, string>> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  heic: 'image/heic',
  heif: 'image/heif',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  bmp: 'image/bmp',
  svg: 'image/svg+xml',
  pdf: 'application/pdf',
  txt: 'text/plain',
  csv: 'text/csv',
  json: 'application/json',
  xml: 'application/xml',
  zip: 'application/zip',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  ppt: 'application/vnd.ms-powerpoint',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  avi: 'video/x-msvideo',
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
  aac: 'audio/aac',
  wav: 'audio/wav',
  ogg: 'audio/ogg',
};
