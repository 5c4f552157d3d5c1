import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { header, isJsonContentType, jsonReply, parseJson, type Reply, stringAt } from '../http-util';
import { type ApiRequest, type ApiRoute, defineVendor, type VendorEnv, type VendorModule } from './types';

const PRESIGN_TTL_SECONDS = 15 * 60;
/** S3's single-PUT ceiling; the vendor's own limit is not published. */
const MAX_FILE_SIZE = 5 * 1024 ** 3;
/** Base64 (standard alphabet, padded) of exactly 32 bytes. */
const SHA256_BASE64 = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

const PresignBodySchema = z.object({
  assetID: z.uuid(),
  contentType: z.string().regex(/^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/, 'must be a MIME type'),
  hash: z.string(),
  name: z.string().min(1),
  size: z.int().min(1).max(MAX_FILE_SIZE),
});

const CompleteBodySchema = z.object({ id: z.string().min(1) });

interface InspectFile {
  id: string;
  assetId: string;
  name: string;
  hash: string;
  size: number;
  objectId: string;
  completed: boolean;
}

/** The Inspect account: its API token and the assets (uuids) that exist. */
export interface InspectCredentials {
  token: string;
  assetIds: string[];
}

/** Fixed, so local runs can hard-wire them. */
const INSPECT_DEFAULTS: InspectCredentials = {
  token: 'sandbox-inspect-token',
  assetIds: ['0b4cf1d2-6a8e-4f3a-9c1b-7d2e5f8a9b10', '9d3e7c1a-2b4f-4e6d-8a0c-1f2e3d4c5b6a'],
};

/** Screening Eagle Inspect file upload (`/api/inspect/v1/file/upload/...`). */
export const inspect = defineVendor({
  name: 'inspect',
  bucket: 'inspect-file-uploads',
  operations: ['presign', 'upload', 'complete'],
  credentials: {
    block: 'inspect',
    defaults: INSPECT_DEFAULTS,
  },
  create: createInspect,
});

function createInspect(env: VendorEnv): VendorModule {
  const { store, credentials } = env;
  let files = new Map<string, InspectFile>();

  function refuse(req: ApiRequest): Reply | undefined {
    // The auth header is not published [assumed: a bearer token].
    if (header(req.headers, 'authorization') !== `Bearer ${credentials.inspect.token}`) {
      return fail(401, 'Unauthorized', 'missing or invalid bearer token');
    }
    if (!isJsonContentType(req.headers))
      return fail(400, 'BadRequest', 'Content-Type must be application/json');
    return undefined;
  }

  const presign: ApiRoute = {
    vendor: 'inspect',
    operation: 'presign',
    method: 'POST',
    pattern: /^\/api\/inspect\/v1\/file\/upload\/presigned$/,
    identify: (req) => ({ fileName: stringAt(parseJson(req.body), 'name') }),
    handle(req, overrides, now) {
      const refused = refuse(req);
      if (refused !== undefined) return refused;
      const parsed = PresignBodySchema.safeParse(parseJson(req.body));
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return fail(
          400,
          'BadRequest',
          `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'malformed JSON'}`,
        );
      }
      const { assetID, contentType, hash, name, size } = parsed.data;
      if (!SHA256_BASE64.test(hash)) {
        return fail(400, 'BadRequest', 'hash must be the base64 encoding of the raw 32-byte SHA-256 digest');
      }
      const assetId = assetID.toLowerCase();
      if (!credentials.inspect.assetIds.some((id) => id.toLowerCase() === assetId)) {
        return fail(404, 'NotFound', `asset ${assetID} not found`);
      }
      const existing = [...files.values()].find(
        (f) => f.completed && f.assetId === assetId && f.hash === hash,
      );
      if (existing !== undefined) {
        // Documented: 200 with only the id when a file with this hash is already uploaded.
        return { ...jsonReply(200, { data: { id: existing.id } }), ref: existing.id };
      }
      const id = randomUUID();
      const object = store.create({ vendor: 'inspect', fileName: name, contentType, ref: id });
      files.set(id, { id, assetId, name, hash, size, objectId: object.objectId, completed: false });
      const presignedURL = env.presignUrl(object, PRESIGN_TTL_SECONDS, overrides, now);
      return { ...jsonReply(201, { data: { presignedURL, id } }), ref: id };
    },
  };

  const complete: ApiRoute = {
    vendor: 'inspect',
    operation: 'complete',
    method: 'POST',
    // The path is not readable in the reference [assumed].
    pattern: /^\/api\/inspect\/v1\/file\/upload\/complete$/,
    identify(req) {
      const id = stringAt(parseJson(req.body), 'id');
      return { ref: id, fileName: files.get(id ?? '')?.name };
    },
    handle(req) {
      const refused = refuse(req);
      if (refused !== undefined) return refused;
      const parsed = CompleteBodySchema.safeParse(parseJson(req.body));
      if (!parsed.success) return fail(400, 'BadRequest', 'id is required');
      const file = files.get(parsed.data.id);
      if (file === undefined) return fail(404, 'NotFound', `file ${parsed.data.id} not found`);
      const done = { ...jsonReply(200, { data: { id: file.id, status: 'UPLOADED' } }), ref: file.id };
      if (file.completed) return done;
      const stored = store.get(file.objectId)?.single;
      if (stored === undefined) {
        return { ...fail(400, 'NotUploaded', 'no bytes have been uploaded for this file'), ref: file.id };
      }
      if (stored.size !== file.size) {
        return {
          ...fail(400, 'SizeMismatch', `declared ${file.size} bytes, received ${stored.size}`),
          ref: file.id,
        };
      }
      if (stored.sha256Base64 !== file.hash) {
        return {
          ...fail(400, 'HashMismatch', 'the SHA-256 of the uploaded bytes differs from the declared hash'),
          ref: file.id,
        };
      }
      file.completed = true;
      return done;
    },
  };

  return {
    routes: [presign, complete],
    errorReply: (status, message) => fail(status, status >= 500 ? 'InternalServerError' : 'Error', message),
    reset() {
      files = new Map();
    },
  };
}

function fail(status: number, error: string, description: string): Reply {
  return jsonReply(status, { error, errorDescription: description }, `${error}: ${description}`);
}
