import path from 'node:path';
import type { FileDescriptor } from '../vendors/types';

/** The last path segment of an object key: the file's name at the vendor. */
export function fileNameOf(key: string): string {
  return path.posix.basename(key);
}

/** Lower-case extension without the dot; `''` for none (`README`, `.env`, `archive.`). */
export function extensionOf(fileName: string): string {
  const ext = path.posix.extname(fileName);
  return ext.length > 1 ? ext.slice(1).toLowerCase() : '';
}

/**
 * What adapters know of a file, built the same way wherever a delivery is: from the object version
 * (dispatch) or from the completion message that carries it (completion).
 */
export function fileDescriptorOf(
  object: {
    readonly bucket: string;
    readonly key: string;
    readonly versionId?: string | undefined;
    readonly eTag: string;
    readonly size: number;
  },
  meta: { readonly contentType: string | undefined; readonly sha256Base64?: string | undefined },
): FileDescriptor {
  const fileName = fileNameOf(object.key);
  return {
    bucket: object.bucket,
    key: object.key,
    versionId: object.versionId,
    eTag: object.eTag,
    size: object.size,
    fileName,
    extension: extensionOf(fileName),
    contentType: meta.contentType,
    ...(meta.sha256Base64 !== undefined ? { sha256Base64: meta.sha256Base64 } : {}),
  };
}
