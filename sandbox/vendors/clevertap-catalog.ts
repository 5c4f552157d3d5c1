import { z } from 'zod';
import { header, isJsonContentType, jsonReply, parseJson, type Reply, stringAt } from '../http-util';
import { contentOf, type StoredBytes, type StoredObject } from '../object-store';
import { type ContentSample, SNIFF_BYTES } from '../sniff';
import {
  type ApiRequest,
  type ApiRoute,
  defineVendor,
  hexId,
  type VendorEnv,
  type VendorModule,
} from './types';

const CONTENT_TYPES = new Set(['text/csv', 'text/xml', 'application/xml']);
const MAX_FILE_NAME = 500;
/** S3's limit on the number of parts of one upload. */
const MAX_PARTS = 10_000;
/** URL lifetime is not published [assumed: one hour]. */
const PRESIGN_TTL_SECONDS = 60 * 60;

const CompleteMultipartSchema = z.object({
  uploadId: z.string().min(1),
  catalogId: z.int(),
  parts: z.array(z.object({ partNumber: z.int().min(1), eTag: z.string().min(1) })).min(1),
});

const CompleteSchema = z.object({
  uploadId: z.string().min(1),
  catalogId: z.int(),
  fileName: z.string().min(1),
  fileSize: z.int().min(0),
  completedBy: z.string().min(1),
});

interface Upload {
  objectId: string;
  catalogId: number;
}

/** The CleverTap account: its id and passcode, and the catalogs that exist. */
export interface ClevertapCredentials {
  accountId: string;
  token: string;
  catalogIds: number[];
}

/** Fixed, so local runs can hard-wire them. */
const CLEVERTAP_DEFAULTS: ClevertapCredentials = {
  accountId: 'SANDBOX-ACCOUNT-1',
  token: 'sandbox-clevertap-token',
  catalogIds: [1001, 1002],
};

/**
 * CleverTap Catalog API v2 (`/v2/catalogs/...`).
 *
 * Error bodies are not published [assumed]: `{ "status": "fail", "code": "<ERROR_CODE>", "error": "<message>" }`,
 * with UPLOAD_NOT_FOUND 404, CATALOG_NOT_FOUND 404, CATALOG_INVALID_REQUEST 400, AUTHENTICATION_FAILED 401,
 * AUTHORIZATION_FAILED 403, INTERNAL_ERROR 500. S3 refusals relayed by complete-multipart keep S3's codes
 * (`InvalidPart`, `InvalidPartOrder`, `EntityTooSmall`, `NoSuchUpload`) in the same JSON shape.
 */
export const clevertapCatalog = defineVendor({
  name: 'clevertap-catalog',
  bucket: 'clevertap-catalog-uploads',
  operations: ['presign', 'upload', 'complete-multipart', 'complete'],
  credentials: {
    block: 'clevertap',
    defaults: CLEVERTAP_DEFAULTS,
  },
  create: createClevertapCatalog,
});

function createClevertapCatalog(env: VendorEnv): VendorModule {
  const { store, options, credentials } = env;
  let uploads = new Map<string, Upload>();
  // In-flight calls per account; live state, so `reset()` leaves it alone.
  const inFlight = new Map<string, number>();

  function refuse(req: ApiRequest): Reply | undefined {
    const account = header(req.headers, 'x-account-id');
    const token = header(req.headers, 'x-clevertap-token');
    if (account !== credentials.clevertap.accountId || token !== credentials.clevertap.token) {
      return fail(401, 'AUTHENTICATION_FAILED', 'Invalid X-Account-Id or X-CleverTap-Token');
    }
    if (req.method === 'POST' && !isJsonContentType(req.headers)) {
      return fail(400, 'CATALOG_INVALID_REQUEST', 'Content-Type must be application/json');
    }
    return undefined;
  }

  function knownCatalog(catalogId: number): boolean {
    return credentials.clevertap.catalogIds.includes(catalogId);
  }

  function uploadObject(uploadId: string | undefined): StoredObject | undefined {
    const upload = uploads.get(uploadId ?? '');
    return upload === undefined ? undefined : store.get(upload.objectId);
  }

  const signedUrl: ApiRoute = {
    vendor: 'clevertap-catalog',
    operation: 'presign',
    method: 'GET',
    pattern: /^\/v2\/catalogs\/signedurl$/,
    identify: (req) => ({ fileName: req.query.get('fileName') ?? undefined }),
    handle(req, overrides, now) {
      const refused = refuse(req);
      if (refused !== undefined) return refused;
      const q = req.query;
      const catalogId = q.get('catalogId') ?? '';
      const fileName = q.get('fileName') ?? '';
      const contentType = q.get('contentType') ?? '';
      const multiPart = q.get('multiPart');
      const totalParts = q.get('totalParts') ?? '';
      const problem = !/^\d{1,18}$/.test(catalogId)
        ? 'catalogId must be a number'
        : fileName === '' || fileName.length > MAX_FILE_NAME
          ? `fileName is required and at most ${MAX_FILE_NAME} characters`
          : !CONTENT_TYPES.has(contentType)
            ? 'contentType must be text/csv, text/xml or application/xml'
            : multiPart !== 'true' && multiPart !== 'false'
              ? 'multiPart must be true or false'
              : multiPart === 'true' &&
                  !(/^\d+$/.test(totalParts) && +totalParts >= 1 && +totalParts <= MAX_PARTS)
                ? `totalParts must be an integer from 1 to ${MAX_PARTS} for a multipart upload`
                : undefined;
      if (problem !== undefined) return fail(400, 'CATALOG_INVALID_REQUEST', problem);
      if (!knownCatalog(Number(catalogId)))
        return fail(404, 'CATALOG_NOT_FOUND', `Catalog ${catalogId} not found`);
      const uploadId = `upl_${hexId()}`;
      const parts = multiPart === 'true' ? Number(totalParts) : undefined;
      const object = store.create({
        vendor: 'clevertap-catalog',
        fileName,
        contentType,
        ref: uploadId,
        ...(parts === undefined ? {} : { totalParts: parts }),
      });
      uploads.set(uploadId, { objectId: object.objectId, catalogId: Number(catalogId) });
      const body =
        parts === undefined
          ? { uploadId, signedUrl: env.presignUrl(object, PRESIGN_TTL_SECONDS, overrides, now) }
          : {
              uploadId,
              parts: Array.from({ length: parts }, (_, i) => ({
                partNumber: i + 1,
                signedUrl: env.presignUrl(object, PRESIGN_TTL_SECONDS, overrides, now, i + 1),
              })),
            };
      return { ...jsonReply(200, body), ref: uploadId };
    },
  };

  const completeMultipart: ApiRoute = {
    vendor: 'clevertap-catalog',
    operation: 'complete-multipart',
    method: 'POST',
    pattern: /^\/v2\/catalogs\/signedurl\/complete-multipart$/,
    identify(req) {
      const uploadId = stringAt(parseJson(req.body), 'uploadId');
      return { ref: uploadId, fileName: uploadObject(uploadId)?.fileName };
    },
    handle(req) {
      const refused = refuse(req);
      if (refused !== undefined) return refused;
      const parsed = CompleteMultipartSchema.safeParse(parseJson(req.body));
      if (!parsed.success) return invalidBody(parsed.error);
      const { uploadId, catalogId, parts } = parsed.data;
      const object = uploadObject(uploadId);
      const upload = uploads.get(uploadId);
      if (object === undefined || upload === undefined) {
        return fail(404, 'UPLOAD_NOT_FOUND', `Upload ${uploadId} not found`);
      }
      const mismatch = catalogProblem(catalogId, upload);
      if (mismatch !== undefined) return mismatch;
      const multipart = object.multipart;
      if (multipart === undefined) {
        return fail(400, 'CATALOG_INVALID_REQUEST', `Upload ${uploadId} is not a multipart upload`);
      }
      const listed = parts.map((part) => ({ partNumber: part.partNumber, eTag: unquote(part.eTag) }));
      if (multipart.completed !== undefined) {
        // S3 answers a repeated CompleteMultipartUpload with the same parts as a success (its answer may
        // have been lost); any other list finds the upload gone.
        return JSON.stringify(multipart.completed.parts) === JSON.stringify(listed)
          ? { ...jsonReply(200, { status: 'COMPLETED', uploadId }), ref: uploadId }
          : fail(404, 'NoSuchUpload', 'The specified upload does not exist. It may have been completed.');
      }
      const ascending = listed.every(
        (part, i) => i === 0 || part.partNumber > (listed[i - 1]?.partNumber ?? 0),
      );
      if (!ascending) {
        return fail(400, 'InvalidPartOrder', 'The list of parts was not in ascending order by part number.');
      }
      const stored: StoredBytes[] = [];
      for (const part of listed) {
        const bytes = multipart.parts.get(part.partNumber);
        if (bytes === undefined || bytes.md5Hex !== part.eTag) {
          return fail(
            400,
            'InvalidPart',
            `Part ${part.partNumber} could not be found, or its entity tag does not match the part uploaded.`,
          );
        }
        stored.push(bytes);
      }
      const small = stored.findIndex((bytes, i) => i < stored.length - 1 && bytes.size < options.minPartSize);
      if (small !== -1) {
        return fail(
          400,
          'EntityTooSmall',
          `Part ${listed[small]?.partNumber} is smaller than the minimum allowed size of ${options.minPartSize} bytes.`,
        );
      }
      multipart.completed = { parts: listed, sample: joinSamples(stored) };
      return { ...jsonReply(200, { status: 'COMPLETED', uploadId }), ref: uploadId };
    },
  };

  const complete: ApiRoute = {
    vendor: 'clevertap-catalog',
    operation: 'complete',
    method: 'POST',
    pattern: /^\/v2\/catalogs\/signedurl\/complete$/,
    identify(req) {
      const body = parseJson(req.body);
      const uploadId = stringAt(body, 'uploadId');
      return { ref: uploadId, fileName: uploadObject(uploadId)?.fileName ?? stringAt(body, 'fileName') };
    },
    handle(req, _overrides, now) {
      const refused = refuse(req);
      if (refused !== undefined) return refused;
      const parsed = CompleteSchema.safeParse(parseJson(req.body));
      if (!parsed.success) return invalidBody(parsed.error);
      const { uploadId, catalogId, fileName, fileSize } = parsed.data;
      const object = uploadObject(uploadId);
      const upload = uploads.get(uploadId);
      if (object === undefined || upload === undefined) {
        return fail(404, 'UPLOAD_NOT_FOUND', `Upload ${uploadId} not found`);
      }
      const mismatch = catalogProblem(catalogId, upload);
      if (mismatch !== undefined) return mismatch;
      if (fileName !== object.fileName) {
        return fail(
          400,
          'CATALOG_INVALID_REQUEST',
          'fileName differs from the file name the URL was signed for',
        );
      }
      const sample = contentOf(object);
      if (sample === undefined) {
        return fail(
          400,
          'CATALOG_INVALID_REQUEST',
          object.multipart === undefined
            ? 'No file has been uploaded to the signed URL'
            : 'The multipart upload has not been completed',
        );
      }
      if (fileSize !== sample.size) {
        return fail(
          400,
          'CATALOG_INVALID_REQUEST',
          `fileSize ${fileSize} differs from the ${sample.size} bytes received`,
        );
      }
      const jobId = `job_${hexId(12)}`;
      return {
        ...jsonReply(200, {
          status: 'PROCESSING',
          jobId,
          estimatedCompletionTime: new Date(now + options.jobDurationMs).toISOString(),
        }),
        ref: jobId,
      };
    },
  };

  function catalogProblem(catalogId: number, upload: Upload): Reply | undefined {
    if (!knownCatalog(catalogId)) return fail(404, 'CATALOG_NOT_FOUND', `Catalog ${catalogId} not found`);
    if (catalogId !== upload.catalogId) {
      return fail(400, 'CATALOG_INVALID_REQUEST', `The upload belongs to catalog ${upload.catalogId}`);
    }
    return undefined;
  }

  return {
    routes: [signedUrl, completeMultipart, complete],
    errorReply: (status, message) => fail(status, codeFor(status), message),
    admit(headers) {
      const account = header(headers, 'x-account-id') ?? '';
      const running = inFlight.get(account) ?? 0;
      if (running >= options.clevertapMaxConcurrent) {
        // Documented: throttling is by concurrency, and the 429 carries no Retry-After.
        return { reply: fail(429, 'TOO_MANY_REQUESTS', 'Too many concurrent requests') };
      }
      inFlight.set(account, running + 1);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          const left = (inFlight.get(account) ?? 1) - 1;
          if (left === 0) inFlight.delete(account);
          else inFlight.set(account, left);
        },
      };
    },
    latencyMs: options.clevertapLatencyMs,
    singleUploadLimit: options.clevertapSingleUploadLimit,
    reset() {
      uploads = new Map();
    },
  };
}

function fail(status: number, code: string, message: string): Reply {
  return jsonReply(status, { status: 'fail', code, error: message }, `${code}: ${message}`);
}

function invalidBody(error: z.ZodError): Reply {
  const issue = error.issues[0];
  const where = issue === undefined || issue.path.length === 0 ? 'body' : issue.path.join('.');
  return fail(
    400,
    'CATALOG_INVALID_REQUEST',
    `Invalid request payload: ${where}: ${issue?.message ?? 'malformed JSON'}`,
  );
}

function codeFor(status: number): string {
  if (status === 401) return 'AUTHENTICATION_FAILED';
  if (status === 403) return 'AUTHORIZATION_FAILED';
  if (status === 404) return 'UPLOAD_NOT_FOUND';
  if (status === 429) return 'TOO_MANY_REQUESTS';
  return status >= 500 ? 'INTERNAL_ERROR' : 'CATALOG_INVALID_REQUEST';
}

function unquote(eTag: string): string {
  return eTag.replace(/^"(.*)"$/, '$1').toLowerCase();
}

/** The first bytes of the object the parts make, as far as the parts' sniffed heads cover it. */
function joinSamples(parts: StoredBytes[]): ContentSample {
  const heads: Buffer[] = [];
  let length = 0;
  for (const part of parts) {
    heads.push(part.head);
    length += part.head.length;
    if (part.head.length < part.size || length >= SNIFF_BYTES) break;
  }
  const size = parts.reduce((sum, part) => sum + part.size, 0);
  return { head: Buffer.concat(heads).subarray(0, SNIFF_BYTES), size };
}
