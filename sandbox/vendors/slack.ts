import { randomBytes, randomInt } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { header, jsonReply, parseJson, type Reply, textReply } from '../http-util';
import { multipartBoundary } from '../multipart';
import type { StoredBytes } from '../object-store';
import {
  type ApiRequest,
  type ApiRoute,
  defineVendor,
  type StreamRoute,
  type VendorEnv,
  type VendorModule,
} from './types';

/** The Slack app's installations the sandbox knows. */
export interface SlackCredentials {
  /** The bot token (`xoxb-…`) of the app in the sandbox workspace. */
  token: string;
  /** That workspace. */
  teamId: string;
  /** Scopes granted to the app; the upload methods need `files:write`. */
  scopes: string[];
  /** Channels of the workspace the bot is a member of. */
  channelIds: string[];
  /** A channel of the workspace the bot is not in (`not_in_channel`). */
  notInChannelId: string;
  /** The same app in a second workspace: its token works, but sees none of the first one's files or channels. */
  otherWorkspace: { teamId: string; token: string };
}

/** Fixed, so local runs can hard-wire them. */
const SLACK_DEFAULTS: SlackCredentials = {
  token: 'xoxb-1000000001-2000000001-SandboxSlackBotToken01',
  teamId: 'T0SANDBOX01',
  scopes: ['files:write', 'files:read', 'chat:write'],
  channelIds: ['C0SANDBOX01', 'C0SANDBOX02'],
  notInChannelId: 'C0SANDBOX99',
  otherWorkspace: { teamId: 'T0SANDBOX02', token: 'xoxb-1000000002-2000000002-SandboxOtherWorkspace1' },
};

/** The upload URL's lifetime [assumed: not published]. */
const UPLOAD_URL_TTL_MS = 10 * 60 * 1000;
/** Largest file [assumed: Slack's 1 GB file limit, read as GiB]. */
const MAX_FILE_BYTES = 1024 ** 3;
/** Snippets are limited to "1MB" [doc], read as MiB [assumed]. */
const MAX_SNIPPET_BYTES = 1024 * 1024;
/** `alt_txt` is limited to 1000 characters [doc]. */
const MAX_ALT_TXT = 1000;
/** Syntax type names [assumed: any short identifier; Slack's list is not published]. */
const SNIPPET_TYPE = /^[a-z0-9_.+#-]{1,50}$/i;
const RATE_WINDOW_MS = 60_000;
const UPLOAD_PATH = /^\/upload\/v1\/(?<ticket>[A-Za-z0-9_-]+)$/;
const FILE_ID_CHARACTERS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';

interface SlackFile {
  id: string;
  teamId: string;
  fileName: string;
  /** The `length` declared when the URL was asked for. */
  length: number;
  /** The opaque last segment of the upload URL. */
  ticket: string;
  expiresAt: number;
  /** The bytes, once an upload to the URL succeeded (the URL is then used up). */
  bytes?: StoredBytes;
  /** Finished by `files.completeUploadExternal` (which can be called once). */
  completed: boolean;
  sharedTo: string[];
}

interface Workspace {
  teamId: string;
  channelIds: readonly string[];
  notInChannelId?: string;
}

type Args = Record<string, unknown>;

/**
 * Slack's external file upload: `files.getUploadURLExternal`, a POST of the bytes to the `upload_url` it
 * answers (on the sandbox host, `/upload/v1/<ticket>`), then `files.completeUploadExternal`, which shares
 * the files into `channel_id`. Web API errors are HTTP 200 with `{ ok: false, error }`, except
 * `ratelimited` (429 with `Retry-After`).
 */
export const slack = defineVendor({
  name: 'slack',
  operations: ['presign', 'upload', 'complete'],
  credentials: { block: 'slack', defaults: SLACK_DEFAULTS },
  create: createSlack,
});

function createSlack(env: VendorEnv): VendorModule {
  const { credentials, options } = env;
  let files = new Map<string, SlackFile>();
  let byTicket = new Map<string, string>();
  /** Accepted calls per workspace and method in the last minute (Tier 4 is "100+ per minute" [doc]). */
  let calls = new Map<string, number[]>();

  function workspaceOf(token: string): Workspace | undefined {
    const { slack: account } = credentials;
    if (token === account.token) {
      return {
        teamId: account.teamId,
        channelIds: account.channelIds,
        notInChannelId: account.notInChannelId,
      };
    }
    if (token === account.otherWorkspace.token)
      return { teamId: account.otherWorkspace.teamId, channelIds: [] };
    return undefined;
  }

  /**
   * Everything a Web API call goes through before its arguments: the body's encoding, the token, the
   * rate limit, the scope. Answers the arguments and the caller's workspace, or the refusal.
   */
  function admit(req: ApiRequest, method: string, now: number): { args: Args; workspace: Workspace } | Reply {
    const read = readArgs(req);
    if ('reply' in read) return read.reply;
    // The token travels as a bearer header, or as a form field; JSON bodies and query strings do not
    // carry it (apps created after February 2021 may not send it in the query string).
    const authorization = header(req.headers, 'authorization');
    let token = read.formToken;
    if (authorization !== undefined) {
      const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (bearer === null) return slackError('invalid_auth', 'Authorization is not a bearer token');
      token = bearer[1];
    }
    if (token === undefined || token === '') return slackError('not_authed', 'no token');
    const workspace = workspaceOf(token);
    if (workspace === undefined) return slackError('invalid_auth', 'unknown token');
    const key = `${workspace.teamId} ${method}`;
    const recent = (calls.get(key) ?? []).filter((at) => at > now - RATE_WINDOW_MS);
    if (recent.length >= options.slackCallsPerMinute) {
      const retryAfter = Math.max(1, Math.ceil(((recent[0] ?? now) + RATE_WINDOW_MS - now) / 1000));
      calls.set(key, recent);
      return {
        ...slackError('ratelimited', `more than ${options.slackCallsPerMinute} calls a minute`, {}, 429),
        headers: { 'content-type': 'application/json', 'retry-after': String(retryAfter) },
      };
    }
    recent.push(now);
    calls.set(key, recent);
    const { scopes } = credentials.slack;
    if (!scopes.includes('files:write')) {
      return slackError('missing_scope', 'files:write is needed', {
        needed: 'files:write',
        provided: scopes.join(','),
      });
    }
    return { args: read.args, workspace };
  }

  const getUploadUrl: ApiRoute = {
    vendor: 'slack',
    operation: 'presign',
    // The method page lists POST; its older rendering, GET: both work, as everywhere in the Web API.
    method: ['GET', 'POST'],
    pattern: /^\/api\/files\.getUploadURLExternal$/,
    identify: (req) => ({ fileName: stringArg(looseArgs(req), 'filename') }),
    handle(req, overrides, now) {
      const admitted = admit(req, 'files.getUploadURLExternal', now);
      if ('status' in admitted) return admitted;
      const { args, workspace } = admitted;
      const fileName = stringArg(args, 'filename');
      if (fileName === undefined || fileName.trim() === '')
        return invalidArguments('missing required field: filename');
      const length = integerArg(args, 'length');
      if (length === 'missing') return invalidArguments('missing required field: length');
      if (length === 'invalid') return invalidArguments('expected an integer [json-pointer:/length]');
      // The answer Slack gives to `length=0`.
      if (length < 1) return invalidArguments('must be greater than 1 [json-pointer:/length]');
      const altTxt = stringArg(args, 'alt_txt');
      if (altTxt !== undefined && altTxt.length > MAX_ALT_TXT) {
        return slackError('alt_txt_too_large', `alt_txt is longer than ${MAX_ALT_TXT} characters`);
      }
      const snippetType = stringArg(args, 'snippet_type');
      if (snippetType !== undefined) {
        if (!SNIPPET_TYPE.test(snippetType)) return slackError('unknown_snippet_type', snippetType);
        if (length > MAX_SNIPPET_BYTES) return slackError('snippet_too_large', `${length} bytes`);
      }
      if (length > MAX_FILE_BYTES) return slackError('file_upload_size_restricted', `${length} bytes`);
      const file: SlackFile = {
        id: fileId(),
        teamId: workspace.teamId,
        fileName,
        length,
        ticket: randomBytes(24).toString('base64url'),
        // The expired-url fault hands out a URL that is already dead.
        expiresAt: overrides.expired ? now - 1 : now + UPLOAD_URL_TTL_MS,
        completed: false,
        sharedTo: [],
      };
      files.set(file.id, file);
      byTicket.set(file.ticket, file.id);
      const origin = overrides.foreign ? env.foreignUrl : env.url;
      return {
        ...jsonReply(200, { ok: true, upload_url: `${origin}/upload/v1/${file.ticket}`, file_id: file.id }),
        ref: file.id,
        fileName,
      };
    },
  };

  const upload: StreamRoute = {
    vendor: 'slack',
    pattern: UPLOAD_PATH,
    identify(path) {
      const file = fileOfTicket(UPLOAD_PATH.exec(path)?.groups?.ticket);
      return { fileName: file?.fileName, ref: file?.id };
    },
    errorReply: (status, message) => uploadRefusal(status, message),
    async handle({ req, path, now, receive }) {
      // The upload service's refusals are not published: plain text with a fitting status [assumed].
      if (req.method !== 'POST') {
        return { ...uploadRefusal(405, `${req.method} is not allowed; POST the file`), headers: ALLOW_POST };
      }
      if (header(req.headers, 'transfer-encoding') !== undefined) {
        return uploadRefusal(501, 'chunked bodies are not accepted: send Content-Length');
      }
      const contentLength = header(req.headers, 'content-length');
      if (contentLength === undefined) return uploadRefusal(411, 'Content-Length is required');
      const file = fileOfTicket(UPLOAD_PATH.exec(path)?.groups?.ticket);
      if (file === undefined) return uploadRefusal(404, 'no such upload URL');
      if (file.bytes !== undefined || file.completed)
        return uploadRefusal(410, 'the upload URL has been used');
      if (now > file.expiresAt) return uploadRefusal(410, 'the upload URL has expired');
      const contentType = header(req.headers, 'content-type');
      const boundary = multipartBoundary(contentType);
      const isMultipart = contentType?.split(';')[0]?.trim().toLowerCase() === 'multipart/form-data';
      if (isMultipart && boundary === undefined)
        return uploadRefusal(400, 'multipart body without a boundary');
      const length = Number(contentLength);
      if (!isMultipart && length !== file.length) {
        return uploadRefusal(400, `length mismatch: declared ${file.length} bytes, sent ${length}`);
      }
      const body = await receive(length, {
        incomplete: uploadRefusal(400, 'the body is shorter than its Content-Length'),
        multipartBoundary: boundary,
      });
      if (body === undefined) return undefined;
      if (body.malformed !== undefined)
        return uploadRefusal(400, `malformed multipart body: ${body.malformed}`);
      if (body.fileParts !== undefined && body.fileParts !== 1) {
        return uploadRefusal(400, `expected one file part, found ${body.fileParts}`);
      }
      if (body.file.size !== file.length) {
        return uploadRefusal(400, `length mismatch: declared ${file.length} bytes, sent ${body.file.size}`);
      }
      file.bytes = body.file;
      env.recordUpload({ vendor: 'slack', objectId: file.id, fileName: file.fileName, bytes: body.file });
      return textReply(200, `OK - ${body.file.size}`);
    },
  };

  const complete: ApiRoute = {
    vendor: 'slack',
    operation: 'complete',
    method: 'POST',
    pattern: /^\/api\/files\.completeUploadExternal$/,
    identify(req) {
      const first = filesArg(looseArgs(req))?.[0];
      return { fileName: files.get(first?.id ?? '')?.fileName, ref: first?.id };
    },
    handle(req, _overrides, now) {
      const admitted = admit(req, 'files.completeUploadExternal', now);
      if ('status' in admitted) return admitted;
      const { args, workspace } = admitted;
      if (args.files === undefined) return invalidArguments('missing required field: files');
      const listed = filesArg(args);
      if (listed === undefined || listed.length === 0) {
        return invalidArguments('files must be a non-empty array of {"id", "title"} [json-pointer:/files]');
      }
      if (new Set(listed.map((entry) => entry.id)).size !== listed.length) {
        return invalidArguments('a file id is listed twice [json-pointer:/files]');
      }
      const destinations = [
        ...new Set([
          ...(stringArg(args, 'channel_id') ?? '').split(','),
          ...(stringArg(args, 'channels') ?? '').split(','),
        ]),
      ]
        .map((channel) => channel.trim())
        .filter((channel) => channel !== '');
      if (stringArg(args, 'thread_ts') !== undefined && destinations.length > 1) {
        return invalidArguments('thread_ts takes a single channel');
      }
      const found: SlackFile[] = [];
      for (const { id } of listed) {
        const file = files.get(id);
        // Another workspace's file, one never uploaded in full, or one already completed ("this method can
        // only be called once" [doc]) are all unknown to this upload ticket [assumed: file_not_found].
        if (file === undefined || file.teamId !== workspace.teamId) return fileNotFound(id, 'no such file');
        if (file.completed) return fileNotFound(id, 'already completed');
        if (file.bytes === undefined) return fileNotFound(id, 'nothing was uploaded to its URL');
        found.push(file);
      }
      for (const channel of destinations) {
        if (channel === workspace.notInChannelId) return slackError('not_in_channel', channel);
        if (!workspace.channelIds.includes(channel)) return slackError('channel_not_found', channel);
      }
      for (const file of found) {
        file.completed = true;
        file.sharedTo = destinations;
      }
      return {
        ...jsonReply(200, {
          ok: true,
          files: listed.map((entry, i) => ({ id: entry.id, title: entry.title ?? found[i]?.fileName })),
        }),
        ref: listed.map((entry) => entry.id).join(','),
        fileName: found[0]?.fileName,
      };
    },
  };

  function fileOfTicket(ticket: string | undefined): SlackFile | undefined {
    return files.get(byTicket.get(ticket ?? '') ?? '');
  }

  return {
    routes: [getUploadUrl, complete],
    streamRoutes: [upload],
    errorReply(status, message) {
      if (status === 429) {
        return { ...slackError('ratelimited', message, {}, 429), headers: RATE_LIMITED_HEADERS };
      }
      const error =
        status >= 500 ? 'internal_error' : status === 405 ? 'method_not_allowed' : 'invalid_arguments';
      return slackError(error, message, {}, status);
    },
    reset() {
      files = new Map();
      byTicket = new Map();
      calls = new Map();
    },
  };
}

const ALLOW_POST = { 'content-type': 'text/plain;charset=UTF-8', allow: 'POST' };
const RATE_LIMITED_HEADERS = { 'content-type': 'application/json', 'retry-after': '1' };

/** `{ ok: false, error }` (HTTP 200 but for rate limiting); `detail` goes to the call log only. */
function slackError(error: string, detail: string, extra: Record<string, unknown> = {}, status = 200): Reply {
  return jsonReply(status, { ok: false, error, ...extra }, `${error}: ${detail}`);
}

/** `invalid_arguments`, with the reason in `response_metadata.messages` as Slack gives it. */
function invalidArguments(message: string): Reply {
  return slackError('invalid_arguments', message, {
    response_metadata: { messages: [`[ERROR] ${message}`] },
  });
}

function fileNotFound(id: string, why: string): Reply {
  return { ...slackError('file_not_found', `${id}: ${why}`), ref: id };
}

/** A refusal of the upload service: plain text. */
function uploadRefusal(status: number, message: string): Reply {
  return textReply(status, `${STATUS_CODES[status] ?? 'Error'}: ${message}`, `${status}: ${message}`);
}

/** A file id as Slack prints them: `F` and ten upper-case letters or digits. */
function fileId(): string {
  return `F${Array.from({ length: 10 }, () => FILE_ID_CHARACTERS.charAt(randomInt(36))).join('')}`;
}

/**
 * The call's arguments: the query string, then the body (form-urlencoded, multipart or JSON); the token
 * of a form body separately. A body Slack cannot read is refused with the Web API's own codes.
 */
function readArgs(req: ApiRequest): { args: Args; formToken?: string } | { reply: Reply } {
  const args: Args = {};
  for (const [name, value] of req.query) if (name !== 'token') args[name] = value;
  if (req.method !== 'POST') return { args };
  const contentType = header(req.headers, 'content-type');
  if (contentType === undefined) {
    return req.body === '' ? { args } : { reply: slackError('missing_post_type', 'no Content-Type') };
  }
  const [type = '', ...parameters] = contentType.split(';').map((part) => part.trim());
  const charset = parameters
    .find((parameter) => parameter.toLowerCase().startsWith('charset='))
    ?.slice('charset='.length)
    .replace(/^"(.*)"$/, '$1')
    .toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'iso-8859-1') {
    return { reply: slackError('invalid_charset', charset) };
  }
  let formToken: string | undefined;
  switch (type.toLowerCase()) {
    case 'application/json': {
      const body = parseJson(req.body);
      if (body === undefined) return { reply: slackError('invalid_json', 'the body is not JSON') };
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        return { reply: slackError('json_not_object', 'the body is not a JSON object') };
      }
      // A JSON body cannot carry the token: it must come as a bearer header [doc].
      for (const [name, value] of Object.entries(body)) if (name !== 'token') args[name] = value;
      return { args };
    }
    case 'application/x-www-form-urlencoded':
      for (const [name, value] of new URLSearchParams(req.body)) {
        if (name === 'token') formToken = value;
        else args[name] = value;
      }
      return formToken === undefined ? { args } : { args, formToken };
    case 'multipart/form-data': {
      const boundary = multipartBoundary(contentType);
      const fields = boundary === undefined ? undefined : multipartFields(req.body, boundary);
      if (fields === undefined)
        return { reply: slackError('invalid_form_data', 'unreadable multipart body') };
      for (const [name, value] of fields) {
        if (name === 'token') formToken = value;
        else args[name] = value;
      }
      return formToken === undefined ? { args } : { args, formToken };
    }
    default:
      return { reply: slackError('invalid_post_type', type) };
  }
}

/** The arguments as far as they can be read, for identifying a call before it is judged. */
function looseArgs(req: ApiRequest): Args {
  const read = readArgs(req);
  return 'args' in read ? read.args : {};
}

/** The text fields of a small multipart body (file parts are skipped), or `undefined` when malformed. */
function multipartFields(body: string, boundary: string): Array<[string, string]> | undefined {
  const delimiter = `--${boundary}`;
  const sections = `\r\n${body}`.split(`\r\n${delimiter}`);
  const last = sections.at(-1);
  if (sections.length < 2 || last === undefined || !last.startsWith('--')) return undefined;
  const fields: Array<[string, string]> = [];
  for (const section of sections.slice(1, -1)) {
    const split = section.indexOf('\r\n\r\n');
    if (!section.startsWith('\r\n') || split === -1) return undefined;
    const headers = section.slice(2, split);
    const disposition = headers.split('\r\n').find((line) => /^content-disposition:/i.test(line)) ?? '';
    const name = /;\s*name="([^"]*)"/i.exec(disposition)?.[1];
    if (name === undefined) return undefined;
    if (/;\s*filename\*?=/i.test(disposition)) continue;
    fields.push([name, section.slice(split + 4)]);
  }
  return fields;
}

function stringArg(args: Args, name: string): string | undefined {
  const value = args[name];
  return typeof value === 'string' ? value : undefined;
}

/** An integer argument, given as a JSON number or a decimal string. */
function integerArg(args: Args, name: string): number | 'missing' | 'invalid' {
  const value = args[name];
  if (value === undefined || value === '') return 'missing';
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : 'invalid';
  if (typeof value === 'string' && /^-?\d{1,15}$/.test(value.trim())) return Number(value.trim());
  return 'invalid';
}

/** `files`: a JSON array (or, in a form, its JSON text) of `{ id, title? }`; `undefined` when it is not. */
function filesArg(args: Args): Array<{ id: string; title?: string }> | undefined {
  const raw = typeof args.files === 'string' ? parseJson(args.files) : args.files;
  if (!Array.isArray(raw)) return undefined;
  const entries: Array<{ id: string; title?: string }> = [];
  for (const entry of raw as unknown[]) {
    if (typeof entry !== 'object' || entry === null) return undefined;
    const { id, title } = entry as { id?: unknown; title?: unknown };
    if (typeof id !== 'string' || id === '') return undefined;
    if (title !== undefined && typeof title !== 'string') return undefined;
    entries.push(title === undefined ? { id } : { id, title });
  }
  return entries;
}
