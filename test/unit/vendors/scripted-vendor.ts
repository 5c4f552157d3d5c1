import type { ResolvedRoute } from '../../../functions/shared/routes/schema';
import type {
  AnyVendorAdapter,
  CompletionContext,
  FileDescriptor,
  VendorHttp,
  VendorRefs,
  VendorRequest,
  VendorResponse,
} from '../../../functions/vendors/types';
import { MemoryTokenCache } from '../../support/memory-token-cache';

/** A scripted answer: status, optional JSON (or text) body and headers; or a function of the request. */
export type Reply =
  | { readonly status: number; readonly body?: unknown; readonly headers?: Record<string, string> }
  | ((request: VendorRequest) => Reply);

/**
 * A fake `VendorHttp`: records every request and answers from per-operation scripts (queued replies
 * first, then the operation's standing reply). An unscripted call fails the test.
 */
export class ScriptedHttp implements VendorHttp {
  readonly requests: VendorRequest[] = [];
  private readonly queued = new Map<string, Reply[]>();
  private readonly standing = new Map<string, Reply>();

  /** Answer the next calls of `operation` with `replies`, in order. */
  queue(operation: string, ...replies: Reply[]): this {
    this.queued.set(operation, [...(this.queued.get(operation) ?? []), ...replies]);
    return this;
  }

  /** Answer every further call of `operation` (after its queue) with `reply`. */
  always(operation: string, reply: Reply): this {
    this.standing.set(operation, reply);
    return this;
  }

  /** Requests of one operation, in order. */
  calls(operation: string): VendorRequest[] {
    return this.requests.filter((r) => r.operation === operation);
  }

  async request(request: VendorRequest): Promise<VendorResponse> {
    this.requests.push(request);
    // Yield so parallel callers interleave the way real I/O makes them.
    await new Promise((resolve) => setImmediate(resolve));
    let reply = this.queued.get(request.operation)?.shift() ?? this.standing.get(request.operation);
    if (reply === undefined)
      throw new Error(`unscripted ${request.operation} ${request.method} ${request.path}`);
    while (typeof reply === 'function') reply = reply(request);
    const body = reply.body === undefined ? '' : reply.body;
    return {
      status: reply.status,
      headers: reply.headers ?? {},
      body,
      text: typeof body === 'string' ? body : JSON.stringify(body),
    };
  }
}

/** A route as the core resolves it, with the fields adapters read. */
export function routeFor(
  vendor: string,
  baseUrl: string,
  overrides: Partial<ResolvedRoute> = {},
): ResolvedRoute {
  return {
    id: `${vendor}-test`,
    prefix: `${vendor}/`,
    vendor,
    secretId: `vendor-ingest/${vendor}`,
    baseUrl,
    uploadHostAllowList: ['storage.example.com'],
    options: {},
    pollStatus: true,
    partConcurrency: 4,
    filterPrefix: `${vendor}/`,
    segments: [],
    allowLoopbackHttp: false,
    stage: 'test',
    ...overrides,
  };
}

export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn';
  readonly message: string;
  readonly extra: Record<string, unknown> | undefined;
}

export interface ContextSetup {
  readonly secret: unknown;
  /** Raw route options (plus segments), validated with the adapter's schema as the core does. */
  readonly options: Record<string, unknown>;
  readonly baseUrl?: string;
  readonly http?: ScriptedHttp;
  readonly tokens?: MemoryTokenCache;
  readonly now?: number;
  readonly route?: Partial<ResolvedRoute>;
}

export interface TestContext<S, O> extends CompletionContext<S, O> {
  readonly http: ScriptedHttp;
  readonly tokens: MemoryTokenCache;
  readonly logs: LogLine[];
  readonly checkpoints: VendorRefs[];
}

/** A vendor/completion context for `adapter`, its secret and options validated by the adapter's schemas. */
export function contextFor<S, O>(adapter: AnyVendorAdapter, setup: ContextSetup): TestContext<S, O> {
  const baseUrl = setup.baseUrl ?? 'https://api.example.com';
  const logs: LogLine[] = [];
  const checkpoints: VendorRefs[] = [];
  const now = setup.now ?? Date.parse('2025-01-15T10:00:00Z');
  const log = (level: LogLine['level']) => (message: string, extra?: Record<string, unknown>) => {
    logs.push({ level, message, extra });
  };
  return {
    route: routeFor(adapter.name, baseUrl, setup.route),
    options: adapter.optionsSchema.parse(setup.options) as O,
    secret: adapter.secretSchema.parse(setup.secret) as S,
    http: setup.http ?? new ScriptedHttp(),
    tokens: setup.tokens ?? new MemoryTokenCache(() => now),
    log: { debug: log('debug'), info: log('info'), warn: log('warn') },
    now: () => now,
    logs,
    checkpoints,
    async checkpoint(refs) {
      checkpoints.push(refs);
    },
  };
}

/** The file as the core describes it, from its key. */
export function fileFor(key: string, size: number, extra: Partial<FileDescriptor> = {}): FileDescriptor {
  const fileName = key.slice(key.lastIndexOf('/') + 1);
  const dot = fileName.lastIndexOf('.');
  return {
    bucket: 'intake',
    key,
    versionId: 'v1',
    eTag: '"etag"',
    size,
    fileName,
    extension: dot > 0 ? fileName.slice(dot + 1).toLowerCase() : '',
    contentType: undefined,
    ...extra,
  };
}

/** The rejection of `promise`, for assertions on its class and fields. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail, it succeeded');
}

/** The error `fn` throws synchronously. */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw, it returned');
}
