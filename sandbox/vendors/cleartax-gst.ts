import { z } from 'zod';
import { header, isJsonContentType, jsonReply, parseJson, type Reply, stringAt } from '../http-util';
import { contentOf } from '../object-store';
import { createRegisterJudge, type RegisterVerdict, renderErrorFile } from '../register-judge';
import { type ContentKind, type ContentSample, looksLike } from '../sniff';
import { type CleartaxAuth, cleartaxAuthFor } from './cleartax-auth';
import {
  type ApiRequest,
  type ApiRoute,
  defineVendor,
  extensionOf,
  hexId,
  jobPhase,
  type VendorEnv,
  type VendorModule,
} from './types';

const XLSX_MIME = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const XLS_MIME = 'application/vnd.ms-excel';

/** `fileContentType` header values, with the extension and upload Content-Type each one implies. */
const FILE_CONTENT_TYPES: Readonly<Record<string, { extension: string; mime: string; kind: ContentKind }>> = {
  XLSX: { extension: 'xlsx', mime: XLSX_MIME, kind: 'xlsx' },
  XLS: { extension: 'xls', mime: XLS_MIME, kind: 'xls' },
  // This flow's reference mandates the Excel MIME type for CSV too.
  CSV: { extension: 'csv', mime: XLS_MIME, kind: 'csv' },
};

/** Template types and the `tenant` their status call names. */
const TENANTS: Readonly<Record<string, string>> = { sales: 'GSTSALES', purchase: 'MAXITC' };

const PRESIGN_TTL_SECONDS = 10 * 60;
const MAX_FILE_NAME = 1500;

const TriggerBodySchema = z.object({
  userInputArgs: z.object({
    templateId: z.string().min(1),
    gstins: z.array(z.string()).optional(),
  }),
  fileInfo: z.object({ s3FileUrl: z.string().min(1), userFileName: z.string().min(1) }),
});

interface GstObject {
  templateType: string;
  kind: ContentKind;
}

interface Activity {
  id: string;
  templateType: string;
  fileName: string;
  kind: ContentKind;
  sample: ContentSample;
  /** The register judge's verdict (CSV only; spreadsheets are judged on their signature alone). */
  register: RegisterVerdict | undefined;
  createdAt: number;
}

/** The credentials of the ClearTax account, shared by both ClearTax flows. */
export interface CleartaxCredentials {
  /** A ready token that is always valid (what a secret holding `authToken` sends). */
  authToken: string;
  /** Mints tokens at `/integration/v1/authz/token`. */
  clientSecret: string;
  /** one-integration's `x-integration-id`. */
  integrationId: string;
}

/** Fixed, so local runs can hard-wire them. */
const CLEARTAX_DEFAULTS: CleartaxCredentials = {
  authToken: 'sandbox-cleartax-auth-token',
  clientSecret: 'sandbox-cleartax-client-secret',
  integrationId: '6f1c2a4e-8b7d-4c3e-9a1f-2b3c4d5e6f70',
};

/** ClearTax Clear Finance Cloud, "ingest documents via file" (`/integration/v1/...`). */
export const cleartaxGst = defineVendor({
  name: 'cleartax-gst',
  bucket: 'ingestionv2-sandbox',
  downloadBucket: 'ingestion-errors',
  // Token minting is one endpoint shared by both ClearTax flows; it is recorded under this vendor.
  operations: ['token', 'presign', 'upload', 'complete', 'status', 'download'],
  credentials: {
    block: 'cleartax',
    defaults: CLEARTAX_DEFAULTS,
  },
  create: (env) => createCleartaxGst(env, cleartaxAuthFor(env)),
});

function createCleartaxGst(env: VendorEnv, auth: CleartaxAuth): VendorModule {
  const { store, options } = env;
  let objects = new Map<string, GstObject>();
  let activities = new Map<string, Activity>();

  /** The documented 401 body; checked before anything else, as an auth filter would. */
  function unauthorized(req: ApiRequest, now: number): Reply | undefined {
    if (auth.isValid(header(req.headers, 'x-cleartax-auth-token'), now)) return undefined;
    return jsonReply(
      401,
      {
        status: null,
        preSignedS3Url: null,
        errorCode: 'AUTHORIZATION_FAILED',
        errorMessage: 'Invalid Auth Token',
      },
      'AUTHORIZATION_FAILED: Invalid Auth Token',
    );
  }

  const presign: ApiRoute = {
    vendor: 'cleartax-gst',
    operation: 'presign',
    method: 'GET',
    pattern: /^\/integration\/v1\/generatePreSign\/(?<templateType>[^/]+)$/,
    identify: (req) => ({ fileName: req.query.get('fileName') ?? undefined }),
    handle(req, overrides, now) {
      const templateType = req.params.templateType ?? '';
      if (TENANTS[templateType] === undefined) return badTemplateType(templateType);
      const denied = unauthorized(req, now);
      if (denied !== undefined) return denied;
      const declared = header(req.headers, 'filecontenttype');
      if (declared === undefined) {
        // The vendor's own sample: a missing header is an unhandled exception, a 500 array.
        return errorArray(
          500,
          'INTERNAL_ERROR',
          "Required request header 'fileContentType' for method parameter type FileContentType is not present",
        );
      }
      const fileName = req.query.get('fileName') ?? '';
      if (fileName === '') return failed('Filename cannot be empty');
      if (fileName.length > MAX_FILE_NAME)
        return failed(`fileName must be at most ${MAX_FILE_NAME} characters`);
      const type = FILE_CONTENT_TYPES[declared];
      if (type === undefined) return failed(`Invalid fileContentType '${declared}'. Allowed: XLSX, XLS, CSV`);
      if (extensionOf(fileName) !== type.extension) {
        return failed(`fileContentType ${declared} does not match the extension of '${fileName}'`);
      }
      const object = store.create({
        vendor: 'cleartax-gst',
        fileName,
        contentType: type.mime,
        ...(type.kind === 'csv' ? { judge: createRegisterJudge } : {}),
      });
      objects.set(object.objectId, { templateType, kind: type.kind });
      const url = env.presignUrl(object, PRESIGN_TTL_SECONDS, overrides, now);
      return {
        ...jsonReply(200, { status: 'CREATED', preSignedS3Url: url, errorCode: null, errorMessage: null }),
        ref: object.objectId,
      };
    },
  };

  const trigger: ApiRoute = {
    vendor: 'cleartax-gst',
    operation: 'complete',
    method: 'POST',
    pattern: /^\/integration\/v1\/ingest\/file\/(?<templateType>[^/]+)$/,
    identify(req) {
      const body = parseJson(req.body);
      const url = stringAt(body, 'fileInfo', 's3FileUrl');
      const object = url === undefined ? undefined : store.fromUrl('cleartax-gst', url);
      return { fileName: object?.fileName ?? stringAt(body, 'fileInfo', 'userFileName') };
    },
    handle(req, _overrides, now) {
      const templateType = req.params.templateType ?? '';
      if (TENANTS[templateType] === undefined) return badTemplateType(templateType);
      const denied = unauthorized(req, now);
      if (denied !== undefined) return denied;
      if (!isJsonContentType(req.headers)) {
        return errorArray(400, 'INVALID_REQUEST', 'Content-Type must be application/json');
      }
      const parsed = TriggerBodySchema.safeParse(parseJson(req.body));
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return errorArray(
          400,
          'INVALID_REQUEST',
          `Invalid request body: ${issue?.message ?? 'malformed JSON'}`,
          {
            field: issue?.path.join('.'),
          },
        );
      }
      const { fileInfo } = parsed.data;
      const object = store.fromUrl('cleartax-gst', fileInfo.s3FileUrl);
      const meta = object === undefined ? undefined : objects.get(object.objectId);
      if (object === undefined || meta === undefined || meta.templateType !== templateType) {
        return errorArray(
          400,
          'INVALID_REQUEST',
          's3FileUrl does not name a file presigned for this template',
          {
            field: 'fileInfo.s3FileUrl',
          },
        );
      }
      const sample = contentOf(object);
      if (sample === undefined) {
        return errorArray(400, 'INVALID_REQUEST', 'No file has been uploaded to s3FileUrl', {
          field: 'fileInfo.s3FileUrl',
        });
      }
      if (fileInfo.userFileName !== object.fileName) {
        return errorArray(
          400,
          'INVALID_REQUEST',
          'userFileName differs from the fileName the URL was generated for',
          {
            field: 'fileInfo.userFileName',
          },
        );
      }
      // No idempotency key exists: every accepted call is a new activity.
      const activity: Activity = {
        id: hexId(),
        templateType,
        fileName: object.fileName,
        kind: meta.kind,
        sample,
        register: object.single?.register,
        createdAt: now,
      };
      activities.set(activity.id, activity);
      return {
        ...jsonReply(201, { activityId: activity.id, status: 'ACTIVITY_CREATED' }),
        ref: activity.id,
        fileName: activity.fileName,
      };
    },
  };

  const status: ApiRoute = {
    vendor: 'cleartax-gst',
    operation: 'status',
    method: 'GET',
    pattern: /^\/integration\/v1\/ingest\/file\/(?<templateType>[^/]+)\/status\/(?<activityId>[^/]+)$/,
    identify: (req) => ({
      ref: req.params.activityId,
      fileName: activities.get(req.params.activityId ?? '')?.fileName,
    }),
    handle(req, _overrides, now) {
      const templateType = req.params.templateType ?? '';
      const tenant = TENANTS[templateType];
      if (tenant === undefined) return badTemplateType(templateType);
      const denied = unauthorized(req, now);
      if (denied !== undefined) return denied;
      if (req.query.get('tenant') !== tenant) {
        return errorArray(
          400,
          'INVALID_REQUEST',
          `tenant must be ${tenant} for template type ${templateType}`,
          {
            field: 'tenant',
          },
        );
      }
      const activity = activities.get(req.params.activityId ?? '');
      if (activity === undefined || activity.templateType !== templateType) {
        return errorArray(400, 'INVALID_REQUEST', 'Unknown activityId', { field: 'activityId' });
      }
      return { ...jsonReply(200, describe(activity, tenant, now)), ref: activity.id };
    },
  };

  function describe(activity: Activity, tenant: string, now: number): Record<string, unknown> {
    const base = (status: string) => ({
      activityId: activity.id,
      status,
      processingStats: null,
      fileError: null,
      errors: [],
    });
    const phase = jobPhase(now - activity.createdAt, options.jobDurationMs);
    if (phase === 'created') return base('ACTIVITY_CREATED');
    if (phase === 'running') return base('ACTIVITY_QUEUED');
    if (!looksLike(activity.kind, activity.sample)) {
      return {
        ...base('SYSTEM_FEEDBACK'),
        fileError: { inputFileName: activity.fileName, status: 'INVALID_FILE', errorFileUrl: null },
        errors: [
          {
            errorCode: 'INVALID_FILE',
            errorMessage: `The file is not a valid ${activity.kind.toUpperCase()} file`,
          },
        ],
      };
    }
    const register = activity.register;
    if (register === undefined) {
      // Spreadsheets are accepted on their signature alone: their rows are not counted [sandbox limit].
      return {
        ...base('ACTIVITY_COMPLETED'),
        processingStats: [
          { identifier: tenant, totalDocumentCount: null, validRows: null, invalidRows: null },
        ],
      };
    }
    const processingStats = [
      {
        identifier: tenant,
        totalDocumentCount: register.dataRows,
        validRows: register.validRows,
        invalidRows: register.invalidRows,
      },
    ];
    if (register.invalidRows === 0) return { ...base('ACTIVITY_COMPLETED'), processingStats };
    // Some rows refused: still ACTIVITY_COMPLETED, with a fileError; every row refused: ACTIVITY_DISCARDED
    // [assumed: the reference says only that a completed activity can carry invalid rows or a fileError].
    const discarded = register.validRows === 0;
    const errorFileUrl = env.signDownload(
      'cleartax-gst',
      {
        id: activity.id,
        fileName: errorFileName(activity.fileName),
        about: activity.fileName,
        ref: activity.id,
        contentType: 'text/csv',
        render: () => renderErrorFile(register.badRows, false),
      },
      options.errorFileTtlSeconds,
      now,
    );
    return {
      ...base(discarded ? 'ACTIVITY_DISCARDED' : 'ACTIVITY_COMPLETED'),
      processingStats,
      fileError: { inputFileName: activity.fileName, status: discarded ? 'FAILED' : 'PARTIAL', errorFileUrl },
      errors: discarded
        ? [{ errorCode: 'NO_VALID_ROWS', errorMessage: `All ${register.invalidRows} rows were refused` }]
        : [],
    };
  }

  return {
    routes: [auth.mintRoute, presign, trigger, status],
    errorReply: (statusCode, message) =>
      statusCode === 401
        ? jsonReply(401, {
            status: null,
            preSignedS3Url: null,
            errorCode: 'AUTHORIZATION_FAILED',
            errorMessage: message,
          })
        : errorArray(statusCode, statusCode >= 500 ? 'INTERNAL_ERROR' : 'INVALID_REQUEST', message),
    reset() {
      // The token endpoint is served from here, so its state is reset here too.
      auth.reset();
      objects = new Map();
      activities = new Map();
    },
  };
}

/** The name the error file of `fileName` is served under: `march.csv` → `march-errors.csv`. */
export function errorFileName(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  return `${dot <= 0 ? fileName : fileName.slice(0, dot)}-errors.csv`;
}

/**
 * A 200 `FAILED` answer. The documented `errorCode` enum has no validation code; the vendor's own sample
 * reports a request problem (a missing header) as `INTERNAL_ERROR`, so validation failures use it too.
 */
function failed(message: string): Reply {
  return jsonReply(
    200,
    { status: 'FAILED', preSignedS3Url: null, errorCode: 'INTERNAL_ERROR', errorMessage: message },
    `FAILED: ${message}`,
  );
}

/** The vendor's error array (documented for 500; used for 400s too). */
function errorArray(
  status: number,
  code: string,
  message: string,
  extra: { field?: string | undefined } = {},
): Reply {
  return jsonReply(
    status,
    [
      {
        errorCode: code,
        errorMessage: message,
        errorField: extra.field ?? null,
        errorValues: null,
        errorResolution: null,
      },
    ],
    `${code}: ${message}`,
  );
}

function badTemplateType(templateType: string): Reply {
  return errorArray(
    400,
    'INVALID_REQUEST',
    `Invalid templateType '${templateType}'. Allowed: sales, purchase`,
    {
      field: 'templateType',
    },
  );
}
