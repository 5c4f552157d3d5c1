/** How much of each upload the sandbox keeps to judge its content; the rest is hashed and dropped. */
export const SNIFF_BYTES = 64 * 1024;

/** The file kinds vendors parse. */
export type ContentKind = 'csv' | 'xlsx' | 'xls' | 'zip';

const ZIP_LOCAL_HEADER = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
// An empty zip archive is only an end-of-central-directory record.
const ZIP_EMPTY_ARCHIVE = Buffer.from([0x50, 0x4b, 0x05, 0x06]);
const OLE2_HEADER = Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);

/** The first bytes of a file and whether the whole file fits in them. */
export interface ContentSample {
  head: Buffer;
  size: number;
}

/** Whether `sample` can be parsed as `kind` (judged on its first {@link SNIFF_BYTES}). */
export function looksLike(kind: ContentKind, sample: ContentSample): boolean {
  const { head } = sample;
  switch (kind) {
    case 'csv':
      return sample.size > 0 && !head.includes(0) && isUtf8Prefix(head, sample.size > head.length);
    case 'xlsx':
      return startsWith(head, ZIP_LOCAL_HEADER);
    case 'zip':
      return startsWith(head, ZIP_LOCAL_HEADER) || startsWith(head, ZIP_EMPTY_ARCHIVE);
    case 'xls':
      return startsWith(head, OLE2_HEADER);
  }
}

function startsWith(head: Buffer, magic: Buffer): boolean {
  return head.length >= magic.length && head.subarray(0, magic.length).equals(magic);
}

const decoder = new TextDecoder('utf-8', { fatal: true });

// A head cut at 64 KiB may end inside a multi-byte character; streaming mode lets that tail pass.
function isUtf8Prefix(head: Buffer, truncated: boolean): boolean {
  try {
    decoder.decode(head, { stream: truncated });
    if (truncated) decoder.decode();
    return true;
  } catch {
    return false;
  }
}
