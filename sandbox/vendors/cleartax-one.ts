import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  header,
  isJsonContentType,
  jsonReply,
  parseJson,
  type Reply,
  stringAt,
  textReply,
} from '../http-util';
import { contentOf } from '../object-store';
import { createRegisterJudge, type RegisterVerdict, renderErrorFile } from '../register-judge';
import { type ContentKind, type ContentSample, looksLike } from '../sniff';
import { type CleartaxAuth, cleartaxAuthFor } from './cleartax-auth';
import { errorFileName } from './cleartax-gst';
import {
  type ApiRequest,
  type ApiRoute,
  defineVendor,
  extensionOf,
  jobPhase,
  type VendorEnv,
  type VendorModule,
} from './types';

/** Allowed extensions and the Content-Type the upload URL is signed for. */
const EXTENSIONS: Readonly<Record<string, { mime: string; kind: ContentKind }>> = {
  csv: { mime: 'text/csv', kind: 'csv' },
  xls: { mime: 'application/vnd.ms-excel', kind: 'xls' },
  xlsx: { mime: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', kind: 'xlsx' },
  zip: { mime: 'application/zip', kind: 'zip' },
};

const PRESIGN_TTL_SECONDS = 60 * 60;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const IngestBodySchema = z.object({
  fileInfo: z
    .array(
      z.object({
        uploadUrl: z.string().min(1),
        filename: z.string().min(1).optional(),
        fileType: z.string().min(1),
      }),
    )
    .min(1),
  templateType: z.string().min(1),
  metadata: z.record(z.string(), z.unknown()).nullable().optional(),
});

interface Task {
  id: string;
  templateType: string;
  files: Array<{
    fileName: string;
    kind: ContentKind;
    sample: ContentSample;
    /** The register judge's verdict (CSV only). */
    register: RegisterVerdict | undefined;
  }>;
  createdAt: number;
}

/**
 * ClearTax "one-integration" advanced ingestion (`/one-integration/...`). It reads the `cleartax`
 * credentials block owned by `cleartax-gst`, and its tokens are minted there [assumed].
 */
export const cleartaxOne = defineVendor({
  name: 'cleartax-one',
  bucket: 'one-integration-sandbox',
  downloadBucket: 'one-integration-errors',
  operations: ['presign', 'upload', 'complete', 'status', 'download'],
  create: (env) => createCleartaxOne(env, cleartaxAuthFor(env)),
});

function createCleartaxOne(env: VendorEnv, auth: CleartaxAuth): VendorModule {
  const { store, options, credentials } = env;
  let kinds = new Map<string, ContentKind>();
  let tasks = new Map<string, Task>();

  /** Token, then integration id, on every call. */
  function refuse(req: ApiRequest, now: number): Reply | undefined {
    if (!auth.isValid(header(req.headers, 'x-clear-auth-token'), now)) {
      // Documented: the 401 body is the plain text UNAUTHORIZED, not the JSON envelope.
      return textReply(401, 'UNAUTHORIZED', 'UNAUTHORIZED: missing or invalid x-clear-auth-token');
    }
    const integrationId = header(req.headers, 'x-integration-id');
    if (integrationId === undefined || !UUID.test(integrationId)) {
      return failure(400, 'x-integration-id must be the 36-character UUID issued at onboarding');
    }
    if (integrationId.toLowerCase() !== credentials.cleartax.integrationId.toLowerCase()) {
      return failure(403, 'Forbidden: unknown integration id');
    }
    return undefined;
  }

  const presign: ApiRoute = {
    vendor: 'cleartax-one',
    operation: 'presign',
    method: 'GET',
    pattern: /^\/one-integration\/action\/pre-sign$/,
    identify: (req) => ({ fileName: req.query.get('filename') ?? undefined }),
    handle(req, overrides, now) {
      const refused = refuse(req, now);
      if (refused !== undefined) return refused;
      const fileName = req.query.get('filename') ?? '';
      if (fileName.trim() === '') return failure(400, 'Filename cannot be empty');
      // Extensions compare case-insensitively [assumed]: the reference lists them in lower case only.
      const type = EXTENSIONS[extensionOf(fileName)];
      if (type === undefined)
        return failure(406, 'Invalid file extension. Allowed extensions: csv, xlsx, xls, zip');
      const object = store.create({
        vendor: 'cleartax-one',
        fileName,
        contentType: type.mime,
        ...(type.kind === 'csv' ? { judge: createRegisterJudge } : {}),
      });
      kinds.set(object.objectId, type.kind);
      const uploadUrl = env.presignUrl(object, PRESIGN_TTL_SECONDS, overrides, now);
      return {
        ...envelope(200, 'generated pre-sign url successfully', { status: 'OK', uploadUrl }),
        ref: object.objectId,
      };
    },
  };

  const ingest: ApiRoute = {
    vendor: 'cleartax-one',
    operation: 'complete',
    method: 'POST',
    pattern: /^\/one-integration\/api\/v1\/ingest$/,
    identify(req) {
      const body = parseJson(req.body);
      const url = stringAt(body, 'fileInfo', 0, 'uploadUrl');
      const object = url === undefined ? undefined : store.fromUrl('cleartax-one', url);
      return { fileName: object?.fileName ?? stringAt(body, 'fileInfo', 0, 'filename') };
    },
    handle(req, _overrides, now) {
      const refused = refuse(req, now);
      if (refused !== undefined) return refused;
      if (!isJsonContentType(req.headers)) return failure(400, 'Content-Type must be application/json');
      const parsed = IngestBodySchema.safeParse(parseJson(req.body));
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return failure(
          400,
          `Invalid request: ${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'malformed JSON'}`,
        );
      }
      const files: Task['files'] = [];
      for (const [index, info] of parsed.data.fileInfo.entries()) {
        const object = store.fromUrl('cleartax-one', info.uploadUrl);
        const kind = object === undefined ? undefined : kinds.get(object.objectId);
        if (object === undefined || kind === undefined) {
          return failure(400, `fileInfo[${index}].uploadUrl does not name a presigned file`);
        }
        const sample = contentOf(object);
        if (sample === undefined)
          return failure(400, `fileInfo[${index}]: no file has been uploaded to uploadUrl`);
        if (info.filename !== undefined && info.filename !== object.fileName) {
          return failure(
            400,
            `fileInfo[${index}].filename differs from the file name the URL was generated for`,
          );
        }
        files.push({ fileName: object.fileName, kind, sample, register: object.single?.register });
      }
      // No idempotency: every accepted call is a new task.
      const task: Task = { id: randomUUID(), templateType: parsed.data.templateType, files, createdAt: now };
      tasks.set(task.id, task);
      return {
        ...envelope(200, 'ingestion activity created successfully', { taskId: task.id, status: 'CREATED' }),
        ref: task.id,
        fileName: files[0]?.fileName,
      };
    },
  };

  const status: ApiRoute = {
    vendor: 'cleartax-one',
    operation: 'status',
    method: 'GET',
    pattern: /^\/one-integration\/workflow\/status$/,
    identify(req) {
      const taskId = req.query.get('taskId') ?? undefined;
      return { ref: taskId, fileName: tasks.get(taskId ?? '')?.files[0]?.fileName };
    },
    handle(req, _overrides, now) {
      const refused = refuse(req, now);
      if (refused !== undefined) return refused;
      const taskId = req.query.get('taskId') ?? '';
      if (taskId === '') return failure(400, 'taskId is required');
      const task = tasks.get(taskId);
      if (task === undefined) return { ...envelope(200, 'no workflow found for taskId', null), ref: taskId };
      return {
        ...envelope(200, 'workflow status fetched successfully', {
          taskId: task.id,
          templateType: task.templateType,
          ...outcome(task, now),
        }),
        ref: task.id,
      };
    },
  };

  /**
   * `workflowStatus`, and the statistics and error file at their assumed places: `stats` (summed over the
   * task's CSV files; `null` while running or when no file was a CSV) and `errorFileUrl` (`null` unless
   * rows were refused).
   */
  function outcome(
    task: Task,
    now: number,
  ): {
    workflowStatus: string;
    stats: { totalRows: number; validRows: number; invalidRows: number } | null;
    errorFileUrl: string | null;
  } {
    const phase = jobPhase(now - task.createdAt, options.jobDurationMs);
    if (phase !== 'done') {
      return {
        workflowStatus: phase === 'created' ? 'CREATED' : 'PROCESSING',
        stats: null,
        errorFileUrl: null,
      };
    }
    // "The extension must match the content": a file whose bytes are not its extension's type fails.
    if (!task.files.every((file) => looksLike(file.kind, file.sample))) {
      return { workflowStatus: 'FAILED', stats: null, errorFileUrl: null };
    }
    const judged = task.files.flatMap((file) =>
      file.register === undefined ? [] : [{ fileName: file.fileName, register: file.register }],
    );
    if (judged.length === 0) return { workflowStatus: 'SUCCESS', stats: null, errorFileUrl: null };
    const stats = { totalRows: 0, validRows: 0, invalidRows: 0 };
    for (const { register } of judged) {
      stats.totalRows += register.dataRows;
      stats.validRows += register.validRows;
      stats.invalidRows += register.invalidRows;
    }
    // FAILED when every row was refused, SUCCESS otherwise, even with some refused [assumed].
    const workflowStatus = stats.invalidRows > 0 && stats.validRows === 0 ? 'FAILED' : 'SUCCESS';
    if (stats.invalidRows === 0) return { workflowStatus, stats, errorFileUrl: null };
    const errorFileUrl = env.signDownload(
      'cleartax-one',
      {
        id: task.id,
        fileName: errorFileName(judged.length === 1 ? (judged[0]?.fileName ?? task.id) : task.id),
        about: task.files[0]?.fileName ?? task.id,
        ref: task.id,
        contentType: 'text/csv',
        render: () =>
          renderErrorFile(
            judged.flatMap(({ fileName, register }) => register.badRows.map((row) => ({ ...row, fileName }))),
            true,
          ),
      },
      options.errorFileTtlSeconds,
      now,
    );
    return { workflowStatus, stats, errorFileUrl };
  }

  return {
    routes: [presign, ingest, status],
    errorReply: (statusCode, message) =>
      statusCode === 401 ? textReply(401, 'UNAUTHORIZED') : failure(statusCode, message),
    reset() {
      kinds = new Map();
      tasks = new Map();
    },
  };
}

/** The success envelope. */
function envelope(status: number, message: string, result: unknown): Reply {
  return jsonReply(status, { status, success: true, message, result, error: null, metadata: null });
}

/** The error envelope (`message` "ERROR", the detail in `error.message`, as in the vendor's 406 sample). */
function failure(status: number, message: string): Reply {
  return jsonReply(
    status,
    {
      status,
      success: false,
      message: 'ERROR',
      result: null,
      error: { code: String(status), message, validationErrors: null },
      metadata: null,
    },
    `${status}: ${message}`,
  );
}
