import { randomUUID } from 'node:crypto';
import type { RegisterJudge, RegisterVerdict } from './register-judge';
import { S3_PATH_PREFIX } from './s3-presign';
import type { ContentSample } from './sniff';
import type { SandboxVendor } from './types';

/** What a successful PUT left behind: digests, size and the sniffed head. The bytes themselves are gone. */
export interface StoredBytes extends ContentSample {
  sha256Hex: string;
  sha256Base64: string;
  md5Hex: string;
  contentType: string;
  at: string;
  /** The register judge's verdict, for an object that asked for one (a ClearTax CSV). */
  register?: RegisterVerdict;
}

/** A multipart upload (S3 semantics: parts may be re-sent until the upload is completed). */
export interface MultipartState {
  /** S3's upload id, carried by every part URL. */
  uploadId: string;
  totalParts: number;
  parts: Map<number, StoredBytes>;
  completed?: { parts: Array<{ partNumber: number; eTag: string }>; sample: ContentSample };
}

/** An object a vendor handed out a presigned URL for. */
export interface StoredObject {
  vendor: SandboxVendor;
  objectId: string;
  bucket: string;
  fileName: string;
  /** The Content-Type the URL is signed for. */
  contentType: string;
  /** Vendor id the object is known by (CleverTap uploadId, Inspect file id), for the call log. */
  ref?: string;
  /** A judge to run over every single PUT as it streams (ClearTax CSV registers). */
  judge?: () => RegisterJudge;
  /** Last successful single PUT. */
  single?: StoredBytes;
  multipart?: MultipartState;
}

/** Presigned objects by id. */
export interface ObjectStore {
  create(init: {
    vendor: SandboxVendor;
    fileName: string;
    contentType: string;
    ref?: string;
    totalParts?: number;
    judge?: () => RegisterJudge;
  }): StoredObject;
  get(objectId: string): StoredObject | undefined;
  /**
   * The object of `vendor` a presigned URL names, with or without its query string; `undefined` when the
   * URL names none.
   */
  fromUrl(vendor: SandboxVendor, url: string): StoredObject | undefined;
  reset(): void;
}

/** The complete content of `object`, or `undefined` when it has not been fully uploaded yet. */
export function contentOf(object: StoredObject): ContentSample | undefined {
  if (object.multipart !== undefined) return object.multipart.completed?.sample;
  return object.single;
}

/** Creates an empty store; `bucketOf` names the bucket each vendor's presigned URLs point into. */
export function createObjectStore(bucketOf: (vendor: SandboxVendor) => string): ObjectStore {
  const objects = new Map<string, StoredObject>();
  return {
    create({ vendor, fileName, contentType, ref, totalParts, judge }) {
      const object: StoredObject = {
        vendor,
        objectId: randomUUID().replaceAll('-', ''),
        bucket: bucketOf(vendor),
        fileName,
        contentType,
        ...(ref === undefined ? {} : { ref }),
        ...(judge === undefined ? {} : { judge }),
        ...(totalParts === undefined
          ? {}
          : {
              multipart: {
                uploadId: randomUUID().replaceAll('-', '') + randomUUID().replaceAll('-', ''),
                totalParts,
                parts: new Map(),
              },
            }),
      };
      objects.set(object.objectId, object);
      return object;
    },
    get: (objectId) => objects.get(objectId),
    fromUrl(vendor, url) {
      let pathname: string;
      try {
        pathname = new URL(url).pathname;
      } catch {
        return undefined;
      }
      if (!pathname.startsWith(S3_PATH_PREFIX)) return undefined;
      let segments: string[];
      try {
        segments = pathname.slice(S3_PATH_PREFIX.length).split('/').map(decodeURIComponent);
      } catch {
        return undefined;
      }
      const [bucket, objectId, fileName] = segments;
      const object = objectId === undefined ? undefined : objects.get(objectId);
      if (
        object === undefined ||
        segments.length !== 3 ||
        object.vendor !== vendor ||
        object.bucket !== bucket ||
        object.fileName !== fileName
      ) {
        return undefined;
      }
      return object;
    },
    reset: () => objects.clear(),
  };
}
