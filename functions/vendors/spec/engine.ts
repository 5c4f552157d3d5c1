import { PARSE_ONCE } from '../../shared/env';
import {
  AmbiguousOutcomeError,
  ErrorCode,
  FileRejectedError,
  PermanentError,
  type PipelineError,
  type PipelineErrorOptions,
} from '../../shared/errors';
import { badResponse, classifyHttpStatus, parseRetryAfter } from '../../shared/http/classify';
import { rowStats } from '../../shared/json-path';
import { redactor } from '../../shared/redact';
import { isSuccess, redactDetail, vendorText } from '../kit/answers';
import { specificStoredType } from '../kit/content-type';
import { errorOfKind } from '../kit/errors';
import {
  evaluate,
  evaluateJson,
  evaluateRecord,
  evaluateText,
  MissingValueError,
  readPath,
  type Scope,
} from '../kit/template';
import { callWithToken, tokenKey } from '../kit/token';
import type {
  FileDescriptor,
  MintedToken,
  UploadPlan,
  VendorAdapter,
  VendorContext,
  VendorJobStatus,
  VendorRefs,
  VendorRequest,
  VendorResponse,
} from '../types';
import { checkSpec } from './check';
import {
  type AuthSpec,
  type Condition,
  type RequestSpec,
  type ValueSpec,
  type VendorSpec,
  type VendorSpecData,
  VendorSpecDataSchema,
} from './schema';

/** An adapter built from a spec, with what tests and tools may want to read of it. */
export interface SpecAdapter<TSecret, TOptions> extends VendorAdapter<TSecret, TOptions> {
  /** The spec after validation (defaults applied). */
  readonly spec: VendorSpecData;
  /** The Content-Type the upload is signed for and sent with. */
  contentTypeOf(file: FileDescriptor, options: TOptions): string;
}

/** Base64 of a raw 32-byte SHA-256 digest: 43 characters and one `=`. */
const SHA256_BASE64 = /^[A-Za-z0-9+/]{43}=$/;

type Context = VendorContext<unknown, unknown>;

/** The `file` root of a template scope. */
function fileScope(file: FileDescriptor): Record<string, unknown> {
  return {
    name: file.fileName,
    key: file.key,
    bucket: file.bucket,
    segments: file.key.split('/'),
    size: file.size,
    extension: file.extension,
    storedContentType: file.contentType,
    eTag: file.eTag,
    sha256: file.sha256Base64,
    sha256Hex:
      file.sha256Base64 === undefined ? undefined : Buffer.from(file.sha256Base64, 'base64').toString('hex'),
  };
}

/** A thrown template problem at run time is a defect of the spec or the route, never the vendor's. */
function defect(operation: string, error: unknown): never {
  if (error instanceof MissingValueError) {
    throw new PermanentError(ErrorCode.ROUTE_CONFIG_INVALID, `${operation}: ${error.message}`);
  }
  throw error;
}

/** Where a value spec reads, for messages (`data.id`, `result.taskId`). */
function describeValue(value: ValueSpec, scope: Scope): string {
  if (typeof value !== 'string') return evaluateText(value.at, scope) ?? value.at;
  const lone = /^\{answer\.([^{}|]+)\}$/.exec(value);
  return lone?.[1] ?? value;
}

/** The value a value spec names in `scope` (`scope.answer` for `{at}`). */
function readValue(value: ValueSpec, scope: Scope): unknown {
  if (typeof value === 'string') return evaluate(value, scope);
  const path = evaluateText(value.at, scope);
  return path === undefined || path === '' ? undefined : readPath(scope.answer, path.split('.'));
}

function holds(condition: Condition, answer: unknown): boolean {
  const value = readPath(answer, condition.at.split('.'));
  if (condition.present !== undefined) return (value !== undefined && value !== null) === condition.present;
  return value === condition.equals;
}

/** Epoch ms of an ISO date or an epoch number (seconds when it is too small to be ms). */
function instant(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value < 1e11 ? value * 1000 : value;
  if (typeof value === 'string' && value !== '') {
    const parsed = /^\d+$/.test(value) ? instant(Number(value)) : Date.parse(value);
    return parsed === undefined || Number.isNaN(parsed) ? undefined : parsed;
  }
  return undefined;
}

/** "a, b and c". */
function listed(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/** Refs as stored: strings (numbers and booleans turned to text); undefined entries are missing. */
function refValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/**
 * Builds the vendor adapter a spec describes. The spec is validated first, every problem at once
 * (`VendorSpecDataSchema`, then templates, roots, option and secret paths, lookups and refs): a spec with
 * a problem throws when its module loads, which `cdk synth`, `npm start` and every test do (a deployed
 * function, whose code was synthesized and so checked, parses the shape only).
 */
export function adapterFromSpec<TSecret, TOptions>(
  written: VendorSpec<TSecret, TOptions>,
): SpecAdapter<TSecret, TOptions> {
  const {
    secret: secretSchema,
    options: optionsSchema,
    checkRoute,
    checkFile: checkFileHook,
    ...data
  } = written;
  const parsed = VendorSpecDataSchema.safeParse(data, PARSE_ONCE);
  // Inside a deployed function the spec was checked when the very same code was synthesized; the
  // template walk is skipped there to keep it off the cold start (the shape is still parsed).
  const deep = process.env.AWS_LAMBDA_FUNCTION_NAME === undefined;
  const problems = parsed.success
    ? deep
      ? checkSpec(parsed.data, { secret: secretSchema, options: optionsSchema })
      : []
    : parsed.error.issues.map((issue) => `${issue.path.join('.') || '(spec)'}: ${issue.message}`);
  if (!parsed.success || problems.length > 0) {
    const name = typeof data.name === 'string' ? data.name : '(unnamed)';
    throw new Error(
      `vendor spec "${name}" has ${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`,
    );
  }
  const spec = parsed.data;
  const { name, errors, auth } = spec;
  const needsSha256 = JSON.stringify(spec).includes('{file.sha256');

  function contentTypeOf(file: FileDescriptor, options: unknown): string {
    const rule = spec.contentType;
    if (rule.option) {
      const fixed = readPath(options, rule.option.split('.'));
      if (typeof fixed === 'string' && fixed !== '') return fixed;
    }
    if (rule.stored) {
      const stored = specificStoredType(file.contentType);
      if (stored) return stored;
    }
    return rule.byExtension[file.extension] ?? rule.fallback;
  }

  /** The scope of a call about `file`: file, options, secret, contentType and the spec's lookups. */
  function scopeFor(file: FileDescriptor, ctx: Context, extra: Scope = {}): Scope {
    const scope: Scope = {
      file: fileScope(file),
      options: ctx.options,
      secret: ctx.secret,
      contentType: contentTypeOf(file, ctx.options),
      ...extra,
    };
    const lookup: Record<string, unknown> = {};
    for (const [lookupName, { of, map }] of Object.entries(spec.lookups)) {
      const key = evaluateText(of, scope);
      const entry = key === undefined ? undefined : (map[key] ?? map['*']);
      lookup[lookupName] = entry === undefined ? undefined : evaluateJson(entry, scope);
    }
    scope.lookup = lookup;
    return scope;
  }

  function vendorCode(response: VendorResponse): string | undefined {
    const scope: Scope = { answer: response.body };
    for (const template of errors.code) {
      const code = evaluateText(template, scope);
      if (code !== undefined && code !== '') return code;
    }
    if (
      errors.bareTextCode &&
      typeof response.body === 'string' &&
      /^[A-Z_]{3,40}$/.test(response.body.trim())
    )
      return response.body.trim();
    return undefined;
  }

  function vendorMessage(response: VendorResponse): string | undefined {
    const scope: Scope = { answer: response.body };
    for (const template of errors.message) {
      const message = vendorText(evaluateText(template, scope));
      if (message !== undefined) return message;
    }
    return undefined;
  }

  /** The classified failure an answer is, or undefined for a success (2xx meeting every condition). */
  function failureOf(
    operation: string,
    response: VendorResponse,
    conditions: readonly Condition[],
    now: number,
  ): PipelineError | undefined {
    const inner = errors.innerStatus ? evaluate(errors.innerStatus, { answer: response.body }) : undefined;
    const status =
      isSuccess(response.status) && typeof inner === 'number' && inner >= 100 && inner <= 599
        ? inner
        : response.status;
    const all = [...spec.answers.ok, ...conditions];
    if (isSuccess(status) && all.every((condition) => holds(condition, response.body))) return undefined;
    const code = vendorCode(response);
    const message = vendorMessage(response);
    const options: PipelineErrorOptions = {
      status,
      vendorCode: code,
      retryAfterMs: parseRetryAfter(response.headers['retry-after'], now),
    };
    const text = `${operation}: HTTP ${status}${code ? ` ${code}` : ''}${message ? ` — ${message}` : ''}`;
    // 401 and 403 mean the credentials, whatever the body says.
    if (status === 401 || status === 403) return errorOfKind('auth', text, options);
    const kind = errors.byStatus[String(status)] ?? (code === undefined ? undefined : errors.byCode[code]);
    if (kind) return errorOfKind(kind, text, options);
    if (isSuccess(status)) return errorOfKind(errors.unexplained, text, options);
    return classifyHttpStatus(status, {
      operation,
      vendorCode: code,
      message,
      retryAfterMs: options.retryAfterMs,
    });
  }

  const reader: AnswerReader = { name, code: vendorCode, message: vendorMessage };

  /** Sends a call with the spec's authentication; returns the raw answer. */
  function call(
    ctx: Context,
    operation: string,
    request: RequestSpec,
    scope: Scope,
  ): Promise<VendorResponse> {
    return callWithAuth(auth, reader, ctx, scope, requestOf(operation, request, scope));
  }

  /** Reads `refs` out of an answer; a missing one is a bad response (or `onMissing`'s error). */
  function readRefs(
    operation: string,
    specs: Readonly<Record<string, ValueSpec>>,
    scope: Scope,
    onMissing: (ref: string, where: string) => Error = (ref, where) =>
      badResponse(operation, `no ${ref} at ${where}`),
  ): VendorRefs {
    const refs: Record<string, string> = {};
    for (const [ref, valueSpec] of Object.entries(specs)) {
      const value = refValue(readValue(valueSpec, scope));
      if (value === undefined) throw onMissing(ref, describeValue(valueSpec, scope));
      refs[ref] = value;
    }
    return refs;
  }

  function requireRefs(operation: string, refs: VendorRefs, required: readonly string[]): void {
    for (const ref of required) {
      if (refValue(refs[ref]) === undefined) {
        throw new PermanentError(
          ErrorCode.STATE_INCONSISTENT,
          `${operation}: no ${ref} recorded for this delivery`,
        );
      }
    }
  }

  async function completeCall(
    ctx: Context,
    scope: Scope,
  ): Promise<{ refs: VendorRefs; vendorState?: string }> {
    const { complete } = spec;
    const response = await call(ctx, 'complete', complete.request, scope);
    const failure = failureOf('complete', response, complete.ok, ctx.now());
    if (failure) throw failure;
    const answer: Scope = { ...scope, answer: response.body };
    const refs = readRefs('complete', complete.refs, answer, (ref, where) => {
      const cause = badResponse('complete', `no ${ref} at ${where}`);
      if (spec.completionIdempotent) return cause;
      // The vendor accepted the call, so it probably acted: a retry could act twice.
      return new AmbiguousOutcomeError(
        `complete: HTTP ${response.status} without ${ref} at ${where} — the vendor may have acted`,
        { status: response.status, cause },
      );
    });
    const state = complete.vendorState === undefined ? undefined : readValue(complete.vendorState, answer);
    return { refs, ...(typeof state === 'string' && state !== '' ? { vendorState: state } : {}) };
  }

  const adapter: SpecAdapter<TSecret, TOptions> = {
    name,
    spec,
    secretSchema,
    optionsSchema,
    needsSha256,
    completionIdempotent: spec.completionIdempotent,
    ...(spec.keepSignedUrl === undefined
      ? {}
      : {
          completionNeedsSignedUrl: (options: TOptions) => {
            const keep = evaluate(spec.keepSignedUrl as string, { options });
            return keep === true || keep === 'true';
          },
        }),
    ...(auth.kind === 'token' && auth.mint.dailyLimit !== undefined
      ? { tokenMint: { family: auth.mint.family, dailyLimit: auth.mint.dailyLimit } }
      : {}),
    ...(spec.maxConcurrentCalls === undefined ? {} : { defaultMaxConcurrentCalls: spec.maxConcurrentCalls }),
    ...(spec.accountKey === undefined
      ? {}
      : {
          accountKey: (secret: TSecret, options: TOptions) =>
            `${name}:${evaluateText(spec.accountKey as string, { secret, options }) ?? ''}`,
        }),
    ...(checkRoute ? { checkRoute } : {}),
    contentTypeOf,

    checkFile(file, options) {
      const rules = spec.files;
      if (rules.extensions && !rules.extensions.includes(file.extension)) {
        throw new FileRejectedError(
          `${name} accepts ${listed(rules.extensions.map((e) => `.${e}`))} files; got "${file.fileName}"`,
        );
      }
      if (rules.contentTypes) {
        const type = (contentTypeOf(file, options).split(';')[0] ?? '').trim().toLowerCase();
        const accepted = rules.contentTypes.some((rule) =>
          rule.endsWith('/*')
            ? type.startsWith(rule.slice(0, -1).toLowerCase())
            : rule.toLowerCase() === type,
        );
        if (!accepted) {
          throw new FileRejectedError(
            `${name} accepts ${listed(rules.contentTypes)} files; "${file.fileName}" is ${type || 'of no known type'}`,
          );
        }
      }
      if (rules.maxNameLength !== undefined && file.fileName.length > rules.maxNameLength) {
        throw new FileRejectedError(
          `${name} accepts file names of at most ${rules.maxNameLength} characters; this one has ${file.fileName.length}`,
        );
      }
      const max =
        typeof rules.maxSizeBytes === 'string'
          ? evaluate(rules.maxSizeBytes, { options })
          : rules.maxSizeBytes;
      if (typeof max === 'number' && file.size > max) {
        throw new FileRejectedError(
          `${name} route accepts files up to ${max} bytes; this one has ${file.size}`,
        );
      }
      checkFileHook?.(file, options);
    },

    async requestUpload(file, ctx): Promise<UploadPlan> {
      if (needsSha256 && (file.sha256Base64 === undefined || !SHA256_BASE64.test(file.sha256Base64))) {
        // The dispatch core computes it whenever the adapter declares it: its absence is a defect.
        throw new PermanentError(
          ErrorCode.PIPELINE_DEFECT,
          'presign: the SHA-256 (base64 of the raw digest) was not computed',
        );
      }
      const { presign } = spec;
      const scope = scopeFor(file, ctx);
      const requestedAt = ctx.now();
      const response = await call(ctx, 'presign', presign.request, scope);
      const answer: Scope = { ...scope, answer: response.body };
      const present = presign.alreadyPresent;
      if (present && response.status === present.status && !failureOf('presign', response, [], ctx.now())) {
        const refs = readRefs('presign', present.refs, answer, (ref, where) =>
          badResponse('presign', `no ${ref} at ${where} in the ${response.status} answer`),
        );
        const completeToo = present.completeIf === undefined ? false : evaluate(present.completeIf, scope);
        if (completeToo === true || completeToo === 'true') await completeCall(ctx, { ...scope, refs });
        return { kind: 'already-present', refs };
      }
      const failure = failureOf('presign', response, presign.ok, ctx.now());
      if (failure) throw failure;
      if (presign.status !== undefined && response.status !== presign.status) {
        const expected = [presign.status, ...(present ? [present.status] : [])].join(' or ');
        throw badResponse('presign', `HTTP ${response.status}; the API answers ${expected}`);
      }
      const { upload } = presign;
      const url = readValue(upload.url, answer);
      if (typeof url !== 'string' || url === '') {
        throw badResponse('presign', `no upload URL at ${describeValue(upload.url, answer)}`);
      }
      const stated =
        upload.expiresAt === undefined ? undefined : instant(readValue(upload.expiresAt, answer));
      const expiresAt =
        stated ??
        (upload.lifetimeSeconds === undefined ? undefined : requestedAt + upload.lifetimeSeconds * 1000);
      let headers: Record<string, string>;
      try {
        headers = trimmed(evaluateRecord(upload.headers, answer)) ?? {};
      } catch (error) {
        return defect('presign', error);
      }
      return {
        kind: 'single',
        target: {
          url,
          method: upload.method,
          headers,
          ...(expiresAt === undefined ? {} : { expiresAt }),
        },
        refs: readRefs('presign', presign.refs, answer),
      };
    },

    async complete(input, ctx) {
      requireRefs('complete', input.refs, spec.complete.requires);
      const scope = scopeFor(input.file, ctx, {
        refs: input.refs,
        upload: { url: input.upload.url, signedUrl: input.upload.signedUrl },
      });
      return completeCall(ctx, scope);
    },

    ...(spec.status === undefined
      ? {}
      : {
          async status(input, ctx): Promise<VendorJobStatus> {
            const status = spec.status as NonNullable<VendorSpecData['status']>;
            const refs = { ...input.refs, ...input.result };
            requireRefs('status', refs, status.requires);
            const scope = scopeFor(input.file, ctx, {
              refs,
              upload: { url: input.upload.url, signedUrl: input.upload.signedUrl },
            });
            const response = await call(ctx, 'status', status.request, scope);
            const failure = failureOf('status', response, status.ok, ctx.now());
            if (failure) throw failure;
            const answer: Scope = { ...scope, answer: response.body };
            if (status.known !== undefined) {
              const known = readPath(response.body, status.known.split('.'));
              if (known === undefined || known === null) {
                const which = status.requires.map((ref) => `${ref} ${String(refs[ref])}`).join(', ');
                throw badResponse('status', `the vendor does not know ${which || 'this job'}`);
              }
            }
            const state = readValue(status.state, answer);
            if (typeof state !== 'string' || state === '') {
              throw badResponse('status', `no state at ${describeValue(status.state, answer)}`);
            }
            let phase = status.states[state];
            if (phase === undefined) {
              // A state the spec does not know is still running: polling ends at its deadline.
              ctx.log.warn(`${name}: unknown job state`, { vendorState: state });
              phase = 'running';
            }
            const detail = detailOf(status.detail, response.body);
            const stats = status.stats === undefined ? undefined : rowStats(readValue(status.stats, answer));
            const errorFileUrl =
              status.errorFileUrl === undefined ? undefined : readValue(status.errorFileUrl, answer);
            return {
              phase,
              vendorState: state,
              detail,
              ...(stats ? { stats } : {}),
              ...(typeof errorFileUrl === 'string' && errorFileUrl !== '' ? { errorFileUrl } : {}),
            };
          },
        }),
  } as SpecAdapter<TSecret, TOptions>;
  return adapter;
}

/** The HTTP request a request spec describes in `scope`. */
export function requestOf(operation: string, request: RequestSpec, scope: Scope): VendorRequest {
  try {
    // `{name}` of a pathParams entry is filled, URL-encoded, in the written path and in the value an
    // option gives it (`{options.paths.status}` = `/jobs/{activityId}`).
    const params: [string, string][] = [];
    for (const [param, template] of Object.entries(request.pathParams ?? {})) {
      const value = evaluateText(template, scope);
      if (value === undefined || value === '') throw new MissingValueError(template, param);
      params.push([`{${param}}`, encodeURIComponent(value)]);
    }
    const fill = (text: string) => params.reduce((out, [name, value]) => out.replaceAll(name, value), text);
    const path = fill(evaluateText(fill(request.path), scope) ?? '');
    const leftover = /\{[^{}]*\}/.exec(path);
    if (leftover) {
      throw new PermanentError(
        ErrorCode.ROUTE_CONFIG_INVALID,
        `${operation}: path "${path}" has the unknown placeholder ${leftover[0]}`,
      );
    }
    return {
      operation,
      method: request.method,
      path,
      ...(request.query ? { query: evaluateRecord(request.query, scope) } : {}),
      ...(request.headers ? { headers: trimmed(evaluateRecord(request.headers, scope)) } : {}),
      ...(request.json !== undefined ? { json: evaluateJson(request.json, scope) } : {}),
      ...(request.form ? { form: evaluateRecord(request.form, scope) } : {}),
      ...(request.idempotent !== undefined ? { idempotent: request.idempotent } : {}),
    };
  } catch (error) {
    return defect(operation, error);
  }
}

/** What else a status answer said, redacted; undefined when nothing is left. */
function detailOf(
  rule: NonNullable<VendorSpecData['status']>['detail'],
  body: unknown,
): Record<string, unknown> | undefined {
  if (rule === undefined) return undefined;
  const detail: Record<string, unknown> = {};
  if ('from' in rule) {
    const source = readPath(body, rule.from.split('.'));
    if (source === null || typeof source !== 'object' || Array.isArray(source)) return undefined;
    for (const [key, value] of Object.entries(source)) if (!rule.omit.includes(key)) detail[key] = value;
  } else {
    for (const path of rule.pick) {
      const value = readPath(body, path.split('.'));
      if (value === undefined || value === null || (Array.isArray(value) && value.length === 0)) continue;
      detail[path] = value;
    }
  }
  return Object.keys(detail).length > 0 ? (redactDetail(detail) as Record<string, unknown>) : undefined;
}

/** Header values without surrounding blanks (an empty auth scheme leaves one). */
function trimmed(headers: Record<string, string> | undefined): Record<string, string> | undefined {
  if (headers === undefined) return undefined;
  return Object.fromEntries(Object.entries(headers).map(([key, value]) => [key, value.trim()]));
}

/** How a vendor's answers name their error: for the token endpoint's failures and refusals. */
export interface AnswerReader {
  readonly name: string;
  code(response: VendorResponse): string | undefined;
  message(response: VendorResponse): string | undefined;
}

/**
 * Sends `request` with `auth`'s headers: fixed headers from the secret, or a token (a static one from
 * the secret, else minted once for every function through the token cache, re-minted once when refused).
 * Returns the raw answer for the caller to classify. Spec adapters use it for every call; code adapters
 * (ClearTax GST) use it with the same auth data.
 */
export async function callWithAuth(
  auth: AuthSpec,
  reader: AnswerReader,
  ctx: Context,
  scope: Scope,
  request: VendorRequest,
): Promise<VendorResponse> {
  const send = (authHeaders: Record<string, string>) =>
    ctx.http.request({ ...request, headers: { ...authHeaders, ...request.headers } });
  if (auth.kind === 'headers') return send(trimmed(evaluateRecord(auth.headers, scope)) ?? {});
  const fixed = auth.staticToken === undefined ? undefined : evaluateText(auth.staticToken, scope);
  const withToken = (token: string) => send(trimmed(evaluateRecord(auth.headers, { ...scope, token })) ?? {});
  if (fixed !== undefined && fixed !== '') return withToken(fixed);
  const credential = evaluateText(auth.mint.keyFrom, scope);
  if (credential === undefined || credential === '') {
    throw new PermanentError(
      ErrorCode.SECRET_INVALID,
      `${reader.name}: the secret holds neither a token nor the credentials to mint one`,
    );
  }
  const { mint: mintSpec } = auth;
  const mint = async (): Promise<MintedToken> => {
    const response = await ctx.http.request(requestOf('token', mintSpec.request, scope));
    if (!isSuccess(response.status)) {
      const refusal = response.status === 401 || response.status === 403;
      throw classifyHttpStatus(response.status, {
        operation: 'token',
        vendorCode: reader.code(response),
        message: refusal
          ? 'credentials refused by the token endpoint'
          : response.status === 429
            ? `token quota exhausted${mintSpec.dailyLimit ? ` (${mintSpec.dailyLimit} mints a day per credential)` : ''}`
            : reader.message(response),
        retryAfterMs: parseRetryAfter(response.headers['retry-after'], ctx.now()),
      });
    }
    const answer: Scope = { ...scope, answer: response.body };
    const token = readValue(mintSpec.token, answer);
    if (typeof token !== 'string' || token === '') {
      throw badResponse('token', `no token at ${describeValue(mintSpec.token, answer)}`);
    }
    // The token is a credential: no log line or error message may carry it.
    redactor.add(token);
    let validUntil: number | null = null;
    if (mintSpec.validUntil !== undefined) {
      const raw = readValue(mintSpec.validUntil, answer);
      if (raw !== undefined && raw !== null) {
        const at = instant(raw);
        if (at === undefined)
          throw badResponse('token', `${describeValue(mintSpec.validUntil, answer)} is not a date`);
        validUntil = at;
      }
    }
    return { token, validUntil };
  };
  return callWithToken(ctx, {
    key: tokenKey(mintSpec.family, ctx.route.baseUrl, credential),
    mint,
    policy: mintSpec.dailyLimit === undefined ? undefined : { dailyLimit: mintSpec.dailyLimit },
    send: withToken,
    refused: (response) => {
      if (auth.refused.status.includes(response.status)) return true;
      const code = reader.code(response);
      return code !== undefined && auth.refused.code.includes(code);
    },
  });
}
