import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  type GetObjectCommandInput,
  HeadObjectCommand,
  type HeadObjectCommandInput,
  NoSuchKey,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { sdkStreamMixin } from '@smithy/util-stream';
import type { SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import { z } from 'zod';
import { FileRejectedError, SecretNotFoundError } from '../../functions/shared/errors';
import type { Failpoint, FailpointHook } from '../../functions/shared/failpoints';
import type { CallLimiter } from '../../functions/shared/http/vendor-http';
import type { CompletionMessageV1 } from '../../functions/shared/messages';
import type { CoreLogger, MetricName, PipelineMetrics } from '../../functions/shared/observability';
import type { Announcer, OutcomeExtras } from '../../functions/shared/outcome';
import type { RecordContext } from '../../functions/shared/queue/sqs-batch';
import { filterPrefixOf, RouteMatcher, segmentsOf } from '../../functions/shared/routes/match';
import type { ResolvedRoute } from '../../functions/shared/routes/schema';
import { encodeS3Key } from '../../functions/shared/s3-event';
import { DynamoBreakers } from '../../functions/shared/state/breaker';
import type { DeliveryOutcome, DeliveryRecord } from '../../functions/shared/state/ledger';
import type { VendorRuntime } from '../../functions/shared/vendor-context';
import { createVendorGuard, type VendorGuard } from '../../functions/shared/vendor-guard';
import type {
  AnyVendorAdapter,
  CompletionContext,
  CompletionInput,
  CompletionResult,
  FileDescriptor,
  UploadPart,
  UploadPlan,
  VendorAdapter,
  VendorContext,
  VendorJobStatus,
  VendorRefs,
} from '../../functions/vendors/types';
import { MemoryTokenCache } from './memory-token-cache';
import type { UploadTargetServer } from './upload-target';

/** A signature value a presigned URL carries; it must never reach a log line or a completion message. */
export const FAKE_SIGNATURE = 'f4ke519nature0f4ke519nature0f4ke519nature0f4ke519nature0f4ke5';

// ---------------------------------------------------------------------------------------------------
// Vendor adapter

/** The fake vendor's Secrets Manager JSON. */
export const FakeSecretSchema = z.object({ apiKey: z.string().min(16) });
export type FakeSecret = z.infer<typeof FakeSecretSchema>;

/** The fake vendor's route options (named prefix segments arrive here too). */
export const FakeOptionsSchema = z.looseObject({ tenant: z.string().min(1).optional() });
export type FakeOptions = z.infer<typeof FakeOptionsSchema>;

/**
 * What the next `requestUpload` does: a plan of that kind pointing at the loopback target, a single
 * plan whose URL the target answers as expired, a thrown error, or a custom plan.
 */
export type PlanStep =
  | 'single'
  | 'multipart'
  | 'already-present'
  | 'expired-url'
  | { readonly throws: unknown }
  | { readonly plan: (file: FileDescriptor, call: number) => UploadPlan };

/** What the next `complete` does: succeed, throw, or run custom code (e.g. checkpoint, then throw). */
export type CompleteStep =
  | 'ok'
  | { readonly throws: unknown }
  | {
      readonly run: (
        input: CompletionInput,
        ctx: CompletionContext<FakeSecret, FakeOptions>,
        call: number,
      ) => Promise<CompletionResult>;
    };

export interface FakeVendorOptions {
  /** The loopback PUT target every plan points at (not needed when no plan is asked for). */
  readonly target?: UploadTargetServer;
  /** Registry name (default `fake`). */
  readonly name?: string;
  /** Default false: an ambiguous completion is parked rather than retried. */
  readonly completionIdempotent?: boolean;
  /** Content-Type the URLs are "signed" for (default `text/csv`). */
  readonly contentType?: string;
  /** Part size of multipart plans, bytes (default: the object in two parts). */
  readonly partSize?: number;
  /** Publish a job status (`status` method). */
  readonly withStatus?: boolean;
  /** Kind of plan when nothing is scripted (default `single`). */
  readonly defaultPlan?: 'single' | 'multipart' | 'already-present';
  /** The vendor's file rule: a reason to refuse the file, or undefined to take it (default: take all). */
  readonly refuseFile?: (file: FileDescriptor) => string | undefined;
  /** The vendor wants the file's SHA-256 before it hands out a URL (as Inspect does). */
  readonly needsSha256?: boolean;
}

export interface CompleteCall {
  readonly input: CompletionInput;
  /** 1-based number of the call. */
  readonly call: number;
}

let planSequence = 0;

/**
 * A scriptable {@link VendorAdapter}. Plans point at a loopback target; every call is recorded; each
 * call takes the next scripted step (then the default). `complete` returns `jobId` `job-<n>`.
 */
export class FakeVendor {
  readonly name: string;
  readonly adapter: VendorAdapter<FakeSecret, FakeOptions>;
  /** Files `requestUpload` was asked about, in order. */
  readonly presigns: FileDescriptor[] = [];
  /** Target paths of the plans handed out, in order (multipart: every part's path). */
  readonly plannedPaths: string[] = [];
  /** `complete` calls, in order (recorded when the call starts). */
  readonly completes: CompleteCall[] = [];
  /** `status` calls, in order. */
  readonly statusChecks: Array<CompletionInput & { readonly result: VendorRefs }> = [];

  private readonly planSteps: PlanStep[] = [];
  private readonly completeSteps: CompleteStep[] = [];
  private readonly statuses: VendorJobStatus[] = [];

  constructor(private readonly options: FakeVendorOptions) {
    this.name = options.name ?? 'fake';
    const base: VendorAdapter<FakeSecret, FakeOptions> = {
      name: this.name,
      secretSchema: FakeSecretSchema,
      optionsSchema: FakeOptionsSchema,
      completionIdempotent: options.completionIdempotent ?? false,
      ...(options.needsSha256 ? { needsSha256: true } : {}),
      checkFile: (file) => {
        const reason = options.refuseFile?.(file);
        if (reason) throw new FileRejectedError(reason);
      },
      requestUpload: (file, ctx) => this.requestUpload(file, ctx),
      complete: (input, ctx) => this.complete(input, ctx),
    };
    this.adapter = options.withStatus
      ? {
          ...base,
          status: async (input) => {
            this.statusChecks.push(input);
            return this.statuses.shift() ?? { phase: 'succeeded', vendorState: 'DONE' };
          },
        }
      : base;
  }

  /** Script the next `requestUpload` calls. */
  planNext(...steps: PlanStep[]): this {
    this.planSteps.push(...steps);
    return this;
  }

  /** Script the next `complete` calls. */
  completeNext(...steps: CompleteStep[]): this {
    this.completeSteps.push(...steps);
    return this;
  }

  /** Script the next `status` answers (then `succeeded`). */
  statusNext(...statuses: VendorJobStatus[]): this {
    this.statuses.push(...statuses);
    return this;
  }

  private get target(): UploadTargetServer {
    if (!this.options.target) throw new Error('this FakeVendor has no upload target');
    return this.options.target;
  }

  /** A presigned-looking URL on the target for `path`. */
  urlFor(path: string): string {
    return this.target.urlFor(path, {
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Signature': FAKE_SIGNATURE,
    });
  }

  private newPath(file: FileDescriptor, suffix = ''): string {
    planSequence++;
    const path = `/${this.name}/${planSequence}/${encodeURIComponent(file.fileName)}${suffix}`;
    this.plannedPaths.push(path);
    return path;
  }

  private async requestUpload(
    file: FileDescriptor,
    _ctx: VendorContext<FakeSecret, FakeOptions>,
  ): Promise<UploadPlan> {
    this.presigns.push(file);
    const call = this.presigns.length;
    const step = this.planSteps.shift() ?? this.options.defaultPlan ?? 'single';
    const contentType = this.options.contentType ?? 'text/csv';
    const headers = { 'Content-Type': contentType };
    const refs = { uploadId: `upload-${call}` };
    if (typeof step === 'object') {
      if ('throws' in step) throw step.throws;
      return step.plan(file, call);
    }
    switch (step) {
      case 'already-present':
        return { kind: 'already-present', refs: { fileId: `existing-${call}` } };
      case 'single':
      case 'expired-url': {
        const path = this.newPath(file);
        this.target.setContentType(path, contentType);
        if (step === 'expired-url') this.target.expire(path);
        return { kind: 'single', target: { url: this.urlFor(path), method: 'PUT', headers }, refs };
      }
      case 'multipart': {
        const partSize = this.options.partSize ?? Math.max(1, Math.ceil(file.size / 2));
        const parts: UploadPart[] = [];
        for (let start = 0, partNumber = 1; start < file.size; start += partSize, partNumber++) {
          const path = this.newPath(file, `.part${partNumber}`);
          this.target.setContentType(path, contentType);
          parts.push({
            partNumber,
            start,
            end: Math.min(start + partSize, file.size) - 1,
            target: { url: this.urlFor(path), method: 'PUT', headers },
          });
        }
        return { kind: 'multipart', parts, refs };
      }
    }
  }

  private async complete(
    input: CompletionInput,
    ctx: CompletionContext<FakeSecret, FakeOptions>,
  ): Promise<CompletionResult> {
    const call = this.completes.length + 1;
    this.completes.push({ input, call });
    const step = this.completeSteps.shift() ?? 'ok';
    if (step === 'ok') return { refs: { jobId: `job-${call}` }, vendorState: 'PROCESSING' };
    if ('throws' in step) throw step.throws;
    return step.run(input, ctx, call);
  }
}

/** A plan pointing anywhere (e.g. a host that is not allow-listed). */
export function planTo(url: string, contentType = 'text/csv'): PlanStep {
  return {
    plan: (_file, call) => ({
      kind: 'single',
      target: { url, method: 'PUT', headers: { 'Content-Type': contentType } },
      refs: { uploadId: `upload-${call}` },
    }),
  };
}

// ---------------------------------------------------------------------------------------------------
// Logging and metrics

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** One captured line, parsed back from its JSON text. */
export interface LogEntry {
  readonly level: LogLevel;
  readonly message: string;
  readonly [key: string]: unknown;
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/**
 * A {@link CoreLogger} that captures every line as JSON text — the form that would reach CloudWatch
 * — with the keys of every `with` it was derived through. Children share their parent's lines.
 */
export class RecordingLogger implements CoreLogger {
  constructor(
    private readonly sink: string[] = [],
    private readonly keys: Readonly<Record<string, unknown>> = {},
  ) {}

  /** Every line so far, as JSON text, in order. */
  get lines(): readonly string[] {
    return this.sink;
  }

  /** Every line so far, parsed. */
  entries(): LogEntry[] {
    return this.sink.map((line) => JSON.parse(line) as LogEntry);
  }

  /** The first line with this message. */
  find(message: string): LogEntry | undefined {
    return this.entries().find((e) => e.message === message);
  }

  private write(level: LogLevel, message: string, extra?: Record<string, unknown>): void {
    this.sink.push(JSON.stringify({ level, message, ...this.keys, ...extra }, jsonSafe));
  }

  debug(message: string, extra?: Record<string, unknown>): void {
    this.write('debug', message, extra);
  }
  info(message: string, extra?: Record<string, unknown>): void {
    this.write('info', message, extra);
  }
  warn(message: string, extra?: Record<string, unknown>): void {
    this.write('warn', message, extra);
  }
  error(message: string, extra?: Record<string, unknown>): void {
    this.write('error', message, extra);
  }
  with(keys: Record<string, unknown>): CoreLogger {
    return new RecordingLogger(this.sink, { ...this.keys, ...keys });
  }
}

export interface MetricPoint {
  readonly name: MetricName;
  readonly vendor: string;
  readonly value: number;
  readonly route?: string | undefined;
  readonly reason?: string | undefined;
  readonly unit?: 'Milliseconds' | 'Bytes' | undefined;
}

/** A {@link PipelineMetrics} that keeps every call. */
export class RecordingMetrics implements PipelineMetrics {
  readonly points: MetricPoint[] = [];

  count(name: MetricName, vendor: string, value = 1, reason?: string): void {
    this.points.push({ name, vendor, value, reason });
  }

  record(name: MetricName, vendor: string, value: number, unit: 'Milliseconds' | 'Bytes'): void {
    this.points.push({ name, vendor, value, unit });
  }

  countRoute(name: MetricName, routeId: string, value = 1): void {
    this.points.push({ name, vendor: '', route: routeId, value });
  }

  /** Sum of the values recorded under `name` (optionally for one vendor / reason). */
  total(name: MetricName, filter: { vendor?: string; reason?: string } = {}): number {
    return this.points
      .filter(
        (p) =>
          p.name === name &&
          (filter.vendor === undefined || p.vendor === filter.vendor) &&
          (filter.reason === undefined || p.reason === filter.reason),
      )
      .reduce((sum, p) => sum + p.value, 0);
  }
}

// ---------------------------------------------------------------------------------------------------
// SQS records

export const TEST_REGION = 'ap-south-1';
export const TEST_ACCOUNT = '123456789012';
export const INTAKE_QUEUE_ARN = `arn:aws:sqs:${TEST_REGION}:${TEST_ACCOUNT}:vendor-ingest-intake`;
export const COMPLETION_QUEUE_ARN = `arn:aws:sqs:${TEST_REGION}:${TEST_ACCOUNT}:vendor-ingest-completion`;
export const COMPLETION_QUEUE_URL = `https://sqs.${TEST_REGION}.amazonaws.com/${TEST_ACCOUNT}/vendor-ingest-completion`;
export const COMPLETION_DLQ_URL = `${COMPLETION_QUEUE_URL}-dlq`;

export interface SqsRecordOptions {
  readonly messageId?: string;
  /** ApproximateReceiveCount (default 1). */
  readonly receiveCount?: number;
  readonly eventSourceARN?: string;
  readonly messageAttributes?: SQSMessageAttributes;
}

/** An SQS record as Lambda's event source hands it over. */
export function sqsRecord(body: string, options: SqsRecordOptions = {}): SQSRecord {
  const messageId = options.messageId ?? randomUUID();
  return {
    messageId,
    receiptHandle: `receipt-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: String(options.receiveCount ?? 1),
      SentTimestamp: String(Date.now()),
      SenderId: 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: options.messageAttributes ?? {},
    md5OfBody: createHash('md5').update(body).digest('hex'),
    eventSource: 'aws:sqs',
    eventSourceARN: options.eventSourceARN ?? INTAKE_QUEUE_ARN,
    awsRegion: TEST_REGION,
  };
}

/** One object of an S3 notification; the key is given decoded and URL-encoded the way S3 does. */
export interface NotifiedObject {
  readonly bucket?: string;
  readonly key: string;
  readonly size?: number | undefined;
  readonly eTag?: string | undefined;
  readonly versionId?: string | undefined;
  readonly sequencer?: string | undefined;
  readonly eventName?: string;
  readonly eventTime?: string;
}

export const TEST_BUCKET = 'ingest-bucket';

/** The JSON body S3 sends to SQS: one `Records` entry per object. */
export function s3NotificationBody(objects: readonly NotifiedObject[]): string {
  return JSON.stringify({
    Records: objects.map((o) => ({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: TEST_REGION,
      eventTime: o.eventTime ?? new Date().toISOString(),
      eventName: o.eventName ?? 'ObjectCreated:Put',
      s3: {
        s3SchemaVersion: '1.0',
        bucket: { name: o.bucket ?? TEST_BUCKET, arn: `arn:aws:s3:::${o.bucket ?? TEST_BUCKET}` },
        object: {
          key: encodeS3Key(o.key),
          ...(o.size !== undefined && { size: o.size }),
          ...(o.eTag !== undefined && { eTag: o.eTag }),
          ...(o.versionId !== undefined && { versionId: o.versionId }),
          ...(o.sequencer !== undefined && { sequencer: o.sequencer }),
        },
      },
    })),
  });
}

/** An intake-queue record carrying an S3 notification for `objects`. */
export function s3NotificationRecord(
  objects: readonly NotifiedObject[],
  options: SqsRecordOptions = {},
): SQSRecord {
  return sqsRecord(s3NotificationBody(objects), options);
}

/** The one-off message S3 sends when a notification is configured. */
export function s3TestEventRecord(bucket = TEST_BUCKET): SQSRecord {
  return sqsRecord(
    JSON.stringify({
      Service: 'Amazon S3',
      Event: 's3:TestEvent',
      Time: new Date().toISOString(),
      Bucket: bucket,
      RequestId: 'R1',
      HostId: 'H1',
    }),
  );
}

/** A valid v1 completion message for `object`, as dispatch would send it. */
export function aCompletionMessage(
  object: { bucket?: string; key: string; versionId?: string; eTag?: string; size?: number },
  overrides: Partial<CompletionMessageV1> = {},
): CompletionMessageV1 {
  const bucket = object.bucket ?? TEST_BUCKET;
  const fileName = object.key.slice(object.key.lastIndexOf('/') + 1);
  return {
    v: 1,
    type: 'complete',
    deliveryId: `s3://${bucket}/${object.key}?versionId=${object.versionId ?? ''}`,
    routeId: 'fake-reports',
    vendor: 'fake',
    object: {
      bucket,
      key: object.key,
      versionId: object.versionId,
      eTag: object.eTag ?? 'etag-1',
      size: object.size ?? 100,
    },
    fileName,
    contentType: 'text/csv',
    segments: {},
    upload: { kind: 'single', url: `https://uploads.example.com/${fileName}` },
    refs: { uploadId: 'upload-1' },
    attempt: 1,
    uploadedAt: new Date().toISOString(),
    ...overrides,
  };
}

/** A completion-queue record carrying `message` (any JSON value, or raw text). */
export function completionRecord(message: unknown, options: SqsRecordOptions = {}): SQSRecord {
  return sqsRecord(typeof message === 'string' ? message : JSON.stringify(message), {
    eventSourceARN: COMPLETION_QUEUE_ARN,
    ...options,
  });
}

// ---------------------------------------------------------------------------------------------------
// Vendor runtime and routes

/** A limiter that never limits. */
export const noLimit: CallLimiter = { acquire: async () => async () => undefined };

export interface FakeVendorRuntime extends VendorRuntime {
  /** Secret id → raw string value; edit it between calls. */
  readonly secretValues: Map<string, string>;
  /** Secret ids read, in order. */
  readonly secretReads: string[];
}

/** A {@link VendorRuntime} over fake adapters with secrets from an in-memory map. */
export function fakeVendorRuntime(input: {
  readonly adapters: readonly AnyVendorAdapter[];
  readonly secrets?: Readonly<Record<string, string>>;
}): FakeVendorRuntime {
  const secretValues = new Map(Object.entries(input.secrets ?? {}));
  const secretReads: string[] = [];
  const byName = new Map(input.adapters.map((a) => [a.name, a]));
  return {
    adapters: (vendor) => byName.get(vendor),
    secrets: async (secretId) => {
      secretReads.push(secretId);
      const value = secretValues.get(secretId);
      if (value === undefined) throw new SecretNotFoundError(secretId);
      return value;
    },
    tokens: new MemoryTokenCache(),
    limiterFor: () => noLimit,
    vendorTimeoutMs: 5_000,
    now: Date.now,
    secretValues,
    secretReads,
  };
}

/** A secret value of the fake vendor's shape. */
export function fakeSecret(apiKey: string): string {
  return JSON.stringify({ apiKey });
}

/** A resolved route for tests: uploads allowed only to the loopback target (`http` allowed on loopback). */
export function testRoute(
  target: Pick<UploadTargetServer, 'hostPattern'>,
  route: Pick<ResolvedRoute, 'id' | 'prefix' | 'vendor'> & Partial<ResolvedRoute>,
): ResolvedRoute {
  return {
    secretId: `vendor-ingest/${route.id}`,
    baseUrl: 'http://127.0.0.1:9/api',
    uploadHostAllowList: [target.hostPattern],
    options: {},
    pollStatus: false,
    partConcurrency: 2,
    filterPrefix: filterPrefixOf(route.prefix),
    segments: segmentsOf(route.prefix),
    allowLoopbackHttp: true,
    stage: 'test',
    ...route,
  };
}

/** A matcher over test routes. */
export function testRoutes(...routes: ResolvedRoute[]): RouteMatcher {
  return new RouteMatcher(routes);
}

// ---------------------------------------------------------------------------------------------------
// S3 objects behind aws-sdk-client-mock

export interface StoredObject {
  readonly body: Buffer;
  readonly contentType: string | undefined;
  /** MD5 hex, unquoted (as S3 notifications carry it). */
  readonly eTag: string;
  /** Full-object SHA-256 held by S3 (base64), if any. */
  readonly sha256Base64?: string | undefined;
}

/**
 * Objects served by a mocked S3Client: HeadObject and GetObject (with `Range` and `If-Match`) answer
 * from an in-memory map, bodies as SDK streams (`sdkStreamMixin`). A missing key is `NoSuchKey`.
 * Call {@link install} after each `reset()` of the mock. {@link openBodies} lists bodies handed out
 * and neither read to the end nor destroyed (a leaked socket, against S3).
 */
export class FakeS3Objects {
  private readonly objects = new Map<string, StoredObject>();
  /** Bodies handed out by GetObject, so a test can check none was left open. */
  readonly bodies: Readable[] = [];

  /** Bodies handed out and still open: neither read to the end nor destroyed. */
  openBodies(): Readable[] {
    return this.bodies.filter((body) => !body.destroyed && !body.readableEnded);
  }

  constructor(private readonly s3Mock: AwsClientStub<S3Client>) {}

  put(
    key: string,
    body: Buffer,
    contentType: string | undefined = 'text/csv',
    bucket = TEST_BUCKET,
    /** A full-object SHA-256 S3 holds for it (base64), answered when checksum mode is on. */
    sha256Base64?: string,
  ): StoredObject {
    const stored = { body, contentType, eTag: createHash('md5').update(body).digest('hex'), sha256Base64 };
    this.objects.set(`${bucket}/${key}`, stored);
    return stored;
  }

  private lookup(input: {
    Bucket?: string | undefined;
    Key?: string | undefined;
    IfMatch?: string | undefined;
  }) {
    const stored = this.objects.get(`${input.Bucket}/${input.Key}`);
    if (!stored) {
      throw new NoSuchKey({
        message: 'The specified key does not exist.',
        $metadata: { httpStatusCode: 404 },
      });
    }
    if (input.IfMatch !== undefined && input.IfMatch !== `"${stored.eTag}"`) {
      throw new S3ServiceException({
        name: 'PreconditionFailed',
        $fault: 'client',
        message: 'At least one of the pre-conditions you specified did not hold',
        $metadata: { httpStatusCode: 412 },
      });
    }
    return stored;
  }

  install(): this {
    this.s3Mock.on(HeadObjectCommand).callsFake((input: HeadObjectCommandInput) => {
      const stored = this.lookup(input);
      return {
        ContentLength: stored.body.length,
        ETag: `"${stored.eTag}"`,
        ContentType: stored.contentType,
      };
    });
    this.s3Mock.on(GetObjectCommand).callsFake((input: GetObjectCommandInput) => {
      const stored = this.lookup(input);
      const range = /^bytes=(\d+)-(\d+)$/.exec(input.Range ?? '');
      const bytes = range ? stored.body.subarray(Number(range[1]), Number(range[2]) + 1) : stored.body;
      const body = Readable.from([bytes], { objectMode: false });
      this.bodies.push(body);
      return {
        Body: sdkStreamMixin(body),
        ContentLength: bytes.length,
        ETag: `"${stored.eTag}"`,
        ContentType: stored.contentType,
        ...(input.ChecksumMode === 'ENABLED' && stored.sha256Base64 && !range
          ? { ChecksumSHA256: stored.sha256Base64, ChecksumType: 'FULL_OBJECT' as const }
          : {}),
      };
    });
    return this;
  }
}

// ---------------------------------------------------------------------------------------------------
// Time, invocations, failpoints

/** A settable clock for the ledger's leases. */
export interface TestClock {
  now(): number;
  advance(ms: number): void;
}

export function testClock(start = Date.now()): TestClock {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}

/** Invocation facts for one simulated Lambda invocation. */
export function anInvocation(leaseMs = 30_000): {
  requestId: string;
  deadline: () => number;
  leaseMs: () => number;
} {
  const deadline = Date.now() + 60_000;
  return { requestId: `req-${randomUUID()}`, deadline: () => deadline, leaseMs: () => leaseMs };
}

/** Thrown by {@link throwingFailpoint} where the real hook would kill the process. */
export class FailpointFired extends Error {
  constructor(readonly point: Failpoint) {
    super(`failpoint ${point} fired`);
    this.name = 'FailpointFired';
  }
}

/** A failpoint hook that throws {@link FailpointFired} at `point` (once, unless `times` says more). */
export function throwingFailpoint(
  point: Failpoint,
  times = 1,
): FailpointHook & { readonly fired: () => number } {
  let fired = 0;
  const hook = (name: Failpoint): void => {
    if (name !== point || fired >= times) return;
    fired++;
    throw new FailpointFired(point);
  };
  return Object.assign(hook, { fired: () => fired });
}

/** The no-op hook of a deployed function. */
export const noFailpoints: FailpointHook = () => undefined;

/** A settable deferred, for holding a fake call open while another runs. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

// ---------------------------------------------------------------------------------------------------
// Bytes

/** Deterministic, non-repeating test bytes. */
export function testBytes(length: number, seed = 1): Buffer {
  const data = Buffer.alloc(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    data[i] = x >>> 24;
  }
  return data;
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function md5Hex(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

/** A receive of a queue message as the batch boundary describes it to a core (defaults: the first). */
export function receive(overrides: Partial<RecordContext> = {}): RecordContext {
  const receiveCount = overrides.receiveCount ?? 1;
  return {
    messageId: 'message-1',
    receiveCount,
    attempt: receiveCount,
    lastAttempt: false,
    redrive: false,
    horizonMs: 86_400_000,
    notes: { attentionAnnounced: false },
    ...overrides,
  };
}

/**
 * The vendor guard on a test's state table, with a threshold no test reaches by accident (tests of the
 * breaker set their own).
 */
export function testGuard(
  doc: DynamoDBDocumentClient,
  tableName: string,
  metrics: PipelineMetrics,
  settings: { failureThreshold?: number; probeIntervalMs?: number; now?: () => number } = {},
): VendorGuard {
  return createVendorGuard(
    new DynamoBreakers({
      doc,
      tableName,
      failureThreshold: settings.failureThreshold ?? 1_000_000,
      probeIntervalMs: settings.probeIntervalMs ?? 1000,
      cacheMs: 0,
      ...(settings.now ? { now: settings.now } : {}),
    }),
    metrics,
  );
}

/** An {@link Announcer} that keeps every announcement (the real one is exercised end to end). */
export class RecordingAnnouncer implements Announcer {
  readonly resultsPrefix = '_results/';
  readonly outcomes: Array<{ record: DeliveryRecord; outcome: DeliveryOutcome; extras?: OutcomeExtras }> = [];
  readonly waits: Array<{ record: DeliveryRecord; message: string }> = [];

  async outcome(
    record: DeliveryRecord,
    outcome: DeliveryOutcome,
    _log: CoreLogger,
    extras?: OutcomeExtras,
  ): Promise<void> {
    this.outcomes.push({ record, outcome, ...(extras ? { extras } : {}) });
  }

  async waiting(record: DeliveryRecord, _log: CoreLogger, message: string): Promise<void> {
    this.waits.push({ record, message });
  }

  /** Outcomes announced for one object key, in order. */
  for(key: string): DeliveryOutcome[] {
    return this.outcomes.filter((o) => o.record.key === key).map((o) => o.outcome);
  }
}
