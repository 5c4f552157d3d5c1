import * as z from 'zod';
import type { JsonTemplate } from '../kit/template';
import type { FileDescriptor, VendorJobPhase } from '../types';

/**
 * A vendor as data: how to authenticate, ask for an upload URL, upload, complete, poll the job and
 * read errors. Written as a typed TypeScript object (see `functions/vendors/<name>/spec.ts`) and
 * validated with {@link VendorSpecSchema} when the registry loads it, which the synth and the local
 * start both do: a spec with problems stops them, naming every problem at once.
 *
 * Strings marked *template* are read by `kit/template.ts` (`{file.name}`, `{options.paths.presign}`,
 * `{refs.fileId|file.name}`, `{answer.data.id}` …).
 */

const Template = z.string();
const TemplateRecord = z.record(z.string(), Template);
const JsonTemplateSchema: z.ZodType<JsonTemplate> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(JsonTemplateSchema),
    z.record(z.string(), JsonTemplateSchema),
  ]),
);
const HttpStatus = z.int().min(100).max(599);

/** One HTTP call to the vendor's API. */
export const RequestSpecSchema = z.strictObject({
  method: z.enum(['GET', 'POST', 'PUT']),
  /** Template of the path, usually an option (`{options.paths.presign}`), so routes can move it. */
  path: Template,
  /** `{name}` placeholders left in the path (from an option's value) filled with these, URL-encoded. */
  pathParams: TemplateRecord.optional(),
  query: TemplateRecord.optional(),
  headers: TemplateRecord.optional(),
  /** A JSON body: string leaves and keys are templates; unset values are left out. */
  json: JsonTemplateSchema.optional(),
  /** A form-encoded body. */
  form: TemplateRecord.optional(),
  /** Repeating the call is harmless (see `VendorRequest.idempotent`). */
  idempotent: z.boolean().optional(),
});
export type RequestSpec = z.infer<typeof RequestSpecSchema>;

/** A check on the answer's JSON body. */
export const ConditionSchema = z
  .strictObject({
    /** Dotted path in the answer (`success`, `data.id`). */
    at: z.string().min(1),
    equals: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional(),
    /** true: the path holds a value (not null); false: it holds none. */
    present: z.boolean().optional(),
  })
  .refine((c) => c.equals !== undefined || c.present !== undefined, 'a condition needs equals or present');
export type Condition = z.infer<typeof ConditionSchema>;

/**
 * Where a value comes from: a template over the scope (`{answer.data.id}`, `{file.name}`), or a path in
 * the answer that is itself a template, for paths a route option names (`{ at: '{options.taskIdField}' }`).
 */
export const ValueSpecSchema = z.union([Template, z.strictObject({ at: Template })]);
export type ValueSpec = z.infer<typeof ValueSpecSchema>;

/** What an error answer is, in the pipeline's taxonomy. */
export const ErrorKindSchema = z.enum([
  /** Bad credentials or no permission: permanent `AUTH_FAILED`. */
  'auth',
  /** Slow down: retryable `VENDOR_THROTTLED`, honouring `Retry-After`. */
  'throttled',
  /** The vendor is failing: retryable `VENDOR_UNAVAILABLE` (counts towards its circuit breaker). */
  'unavailable',
  /** The vendor refuses the request: permanent `VENDOR_REJECTED`. */
  'rejected',
  /** The vendor refuses this file: permanent `FILE_REJECTED`. */
  'file-rejected',
  /** A failure the vendor does not explain: retryable `VENDOR_FAILED_UNKNOWN`. */
  'failed-unknown',
  /** Not an answer the vendor documents: retryable `VENDOR_BAD_RESPONSE`. */
  'bad-response',
]);
export type ErrorKind = z.infer<typeof ErrorKindSchema>;

/** How the vendor says something went wrong, and what each way means. */
export const ErrorsSpecSchema = z.strictObject({
  /** Templates tried in order for the vendor's error code (`{answer.error.code}`). */
  code: z.array(Template).default([]),
  /** A plain-text body that is one upper-case word (`UNAUTHORIZED`) is the code. */
  bareTextCode: z.boolean().default(false),
  /** Templates tried in order for the vendor's message. */
  message: z.array(Template).default([]),
  /** The status an envelope carries inside a 2xx answer, which then decides (`{answer.status}`). */
  innerStatus: Template.optional(),
  /** Statuses with a meaning of their own (one-integration's 406: the extension is refused). */
  byStatus: z.record(z.string().regex(/^\d{3}$/), ErrorKindSchema).default({}),
  /** Vendor codes with a meaning of their own, also inside a 2xx answer (Slack's `ok: false`). */
  byCode: z.record(z.string(), ErrorKindSchema).default({}),
  /** A 2xx answer that is not a success and whose code has no meaning above. */
  unexplained: ErrorKindSchema.default('bad-response'),
});

/** A ready token, or one minted and shared through the token cache and its mint lock. */
export const TokenAuthSchema = z.strictObject({
  kind: z.literal('token'),
  /** Headers of every call; `{token}` is the token. */
  headers: TemplateRecord,
  /** A token the secret already holds (`{secret.authToken}`): used as is when set, nothing minted. */
  staticToken: Template.optional(),
  mint: z.strictObject({
    request: RequestSpecSchema,
    /** The token in the mint answer. */
    token: ValueSpecSchema,
    /** When it stops working (ISO date or epoch ms), if the answer says; unset = never. */
    validUntil: ValueSpecSchema.optional(),
    /** Cache key family, shared by every flow of one vendor account (and the mint alarm's `Vendor`). */
    family: z.string().regex(/^[a-z][a-z0-9-]*$/),
    /** What identifies the credentials minted from (only a digest of it enters the key). */
    keyFrom: Template,
    /** Mints allowed per credentials per UTC day. */
    dailyLimit: z.int().positive().optional(),
  }),
  /** Answers that mean the token was refused: re-minted once, then `AUTH_FAILED`. */
  refused: z.strictObject({
    status: z.array(HttpStatus).default([401]),
    code: z.array(z.string()).default([]),
  }),
});

export const AuthSpecSchema = z.discriminatedUnion('kind', [
  /** Fixed headers from the secret (`Authorization: Bearer {secret.token}`). */
  z.strictObject({ kind: z.literal('headers'), headers: TemplateRecord }),
  TokenAuthSchema,
]);
export type AuthSpec = z.infer<typeof AuthSpecSchema>;

/** The Content-Type of the upload (and wherever `{contentType}` appears). */
export const ContentTypeSpecSchema = z.strictObject({
  /** A route option that fixes it (`contentType`). */
  option: z.string().optional(),
  /** The object's stored type, when it says more than octet-stream. */
  stored: z.boolean().default(false),
  /** By lower-case extension. */
  byExtension: z.record(z.string(), z.string()).default({}),
  /** When nothing above applies. */
  fallback: z.string().default('application/octet-stream'),
});

/** Files the vendor refuses, checked before any call. */
export const FileRulesSchema = z.strictObject({
  /** Lower-case extensions accepted, in the order the refusal lists them. */
  extensions: z
    .array(z.string().regex(/^[a-z0-9]+$/))
    .min(1)
    .optional(),
  /** Content-Types accepted (the type chosen for the upload, parameters ignored), in the order the refusal lists them. */
  contentTypes: z
    .array(z.string().regex(/^[\w!#$&^.+-]+\/[\w!#$&^.+*-]+$/, 'a MIME type such as image/png'))
    .min(1)
    .optional(),
  /** Largest size in bytes: a number, or a template of an option (`{options.maxSizeBytes}`). */
  maxSizeBytes: z.union([z.int().positive(), Template]).optional(),
  /** Longest file name in characters. */
  maxNameLength: z.int().positive().optional(),
});

/** A derived value: `of` (a template) looked up in `map`, whose values may be templates. */
export const LookupSchema = z.strictObject({
  of: Template,
  map: z.record(z.string(), JsonTemplateSchema),
});

const RefsSchema = z.record(z.string().regex(/^[A-Za-z_$][\w$]*$/), ValueSpecSchema);

export const PresignSpecSchema = z.strictObject({
  request: RequestSpecSchema,
  /** The status that hands out an upload URL (Inspect: 201); any 2xx when unset. */
  status: HttpStatus.optional(),
  /** What else makes the answer a success. */
  ok: z.array(ConditionSchema).default([]),
  upload: z.strictObject({
    url: ValueSpecSchema,
    method: z.enum(['PUT', 'POST']).default('PUT'),
    /** Headers the URL is signed for; `Content-Length` is always sent. */
    headers: TemplateRecord.default({ 'Content-Type': '{contentType}' }),
    /** When the URL stops working, if the answer says (ISO date or epoch ms). */
    expiresAt: ValueSpecSchema.optional(),
    /** Else its documented lifetime from the request, seconds. */
    lifetimeSeconds: z.int().positive().optional(),
  }),
  /** Ids to keep (all required): from the answer or the scope. */
  refs: RefsSchema.default({}),
  /** The vendor already holds these bytes: no upload, no completion (Inspect's 200). */
  alreadyPresent: z
    .strictObject({
      status: HttpStatus,
      refs: RefsSchema.default({}),
      /** Still call the completion request for it when this template is true (a route option). */
      completeIf: Template.optional(),
    })
    .optional(),
});

export const CompleteSpecSchema = z.strictObject({
  /** Refs that must have been recorded (else `STATE_INCONSISTENT`: nothing to complete). */
  requires: z.array(z.string()).default([]),
  request: RequestSpecSchema,
  ok: z.array(ConditionSchema).default([]),
  /**
   * The completion's ids (all required). One missing from a success answer of a vendor without
   * idempotency is an ambiguous outcome: the vendor may have acted.
   */
  refs: RefsSchema.default({}),
  /** The vendor's job state right after completion. */
  vendorState: ValueSpecSchema.optional(),
});

const PhaseSchema = z.enum(['running', 'succeeded', 'failed']) satisfies z.ZodType<VendorJobPhase>;

export const StatusSpecSchema = z.strictObject({
  /** Refs the status call needs (from the completion result or earlier). */
  requires: z.array(z.string()).default([]),
  request: RequestSpecSchema,
  ok: z.array(ConditionSchema).default([]),
  /** A path that must hold a value, else the vendor does not know the job (a bad response). */
  known: z.string().optional(),
  /** The vendor's state name. */
  state: ValueSpecSchema,
  /** State name → phase; a state not listed is `running` (polling ends at its deadline) and logged. */
  states: z.record(z.string(), PhaseSchema),
  /** What else to keep (redacted): a sub-object without some keys, or some top-level paths. */
  detail: z
    .union([
      z.strictObject({ from: z.string(), omit: z.array(z.string()).default([]) }),
      z.strictObject({ pick: z.array(z.string()).min(1) }),
    ])
    .optional(),
  /** The vendor's row statistics (`kit` reads totals, valid and invalid rows from them). */
  stats: ValueSpecSchema.optional(),
  /** The link to the vendor's file of rejected rows. */
  errorFileUrl: ValueSpecSchema.optional(),
});

/** A route as the route file gives it, for {@link VendorSpec.checkRoute}. */
export interface RouteForCheck {
  readonly id: string;
  readonly baseUrl: string;
  readonly options: Readonly<Record<string, unknown>>;
}

/** The data part of a spec (hooks and schemas are checked by type only). */
export const VendorSpecDataSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]*$/, 'a lower-case name such as inspect'),
  auth: AuthSpecSchema,
  files: FileRulesSchema.default({}),
  contentType: ContentTypeSpecSchema.prefault({}),
  lookups: z.record(z.string().regex(/^[A-Za-z_$][\w$]*$/), LookupSchema).default({}),
  answers: z
    .strictObject({
      /** Conditions every success answer meets (one-integration's `success: true`, Slack's `ok: true`). */
      ok: z.array(ConditionSchema).default([]),
    })
    .prefault({}),
  errors: ErrorsSpecSchema.prefault({}),
  presign: PresignSpecSchema,
  complete: CompleteSpecSchema,
  status: StatusSpecSchema.optional(),
  /** Calling the completion twice is harmless (else an unanswered completion waits for a person). */
  completionIdempotent: z.boolean(),
  /** Keep the upload URL as signed for the completion, when this template is true. */
  keepSignedUrl: Template.optional(),
  /** Per-account cap on concurrent API calls (routes may lower it). */
  maxConcurrentCalls: z.int().positive().optional(),
  /** Calls sharing this key share that cap (default: the route's secret). */
  accountKey: Template.optional(),
});
export type VendorSpecData = z.infer<typeof VendorSpecDataSchema>;
export type VendorSpecInput = z.input<typeof VendorSpecDataSchema>;

/**
 * A vendor spec as written: the data above, the vendor's own secret and option schemas, and optional
 * hooks for what data cannot say.
 */
export type VendorSpec<TSecret, TOptions> = VendorSpecInput & {
  /** Shape of the Secrets Manager JSON. */
  readonly secret: z.ZodType<TSecret>;
  /** Shape of the route options (after named key segments are merged in). */
  readonly options: z.ZodType<TOptions>;
  /** Cross-field route checks the option schema cannot express; one message per problem. */
  readonly checkRoute?: (route: RouteForCheck, allowLoopbackHttp: boolean) => string[];
  /** File checks beyond `files` (throw `FileRejectedError`). */
  readonly checkFile?: (file: FileDescriptor, options: TOptions) => void;
};
