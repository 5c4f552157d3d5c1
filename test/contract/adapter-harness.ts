import { createHash } from 'node:crypto';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CallLimiter, createVendorHttp } from '../../functions/shared/http/vendor-http';
import type { ResolvedRoute } from '../../functions/shared/routes/schema';
import type {
  AnyVendorAdapter,
  CompletionContext,
  TokenCache,
  UploadedPart,
  UploadPlan,
  UploadResult,
  UploadTarget,
  VendorRefs,
} from '../../functions/vendors/types';
import { MemoryTokenCache } from '../support/memory-token-cache';

/**
 * Runs an adapter against the vendor sandbox the way the core does, minus the core: the real
 * `VendorHttp`, options and secret validated by the adapter's schemas, and a plain node:http PUT for
 * the bytes (the pipeline's streaming uploader is tested elsewhere).
 */

export interface HarnessSetup {
  readonly baseUrl: string;
  readonly secret: unknown;
  /** Route options plus key segments, as the core merges them. */
  readonly options: Record<string, unknown>;
  readonly tokens?: TokenCache;
  readonly limiter?: CallLimiter;
}

export interface HarnessContext<S, O> extends CompletionContext<S, O> {
  readonly checkpoints: VendorRefs[];
}

/** A context on the sandbox for `adapter`. */
export function sandboxContext<S, O>(adapter: AnyVendorAdapter, setup: HarnessSetup): HarnessContext<S, O> {
  const route: ResolvedRoute = {
    id: `${adapter.name}-contract`,
    prefix: `${adapter.name}/`,
    vendor: adapter.name,
    secretId: `contract/${adapter.name}`,
    baseUrl: setup.baseUrl,
    uploadHostAllowList: ['127.0.0.1'],
    options: setup.options,
    pollStatus: true,
    partConcurrency: 4,
    filterPrefix: `${adapter.name}/`,
    segments: [],
    allowLoopbackHttp: true,
    stage: 'contract',
  };
  const checkpoints: VendorRefs[] = [];
  const ignore = () => undefined;
  return {
    route,
    options: adapter.optionsSchema.parse(setup.options) as O,
    secret: adapter.secretSchema.parse(setup.secret) as S,
    http: createVendorHttp({ baseUrl: setup.baseUrl, timeoutMs: 2000, limiter: setup.limiter }),
    tokens: setup.tokens ?? new MemoryTokenCache(),
    log: { debug: ignore, info: ignore, warn: ignore },
    now: Date.now,
    checkpoints,
    async checkpoint(refs) {
      checkpoints.push(refs);
    },
  };
}

export interface PutAnswer {
  readonly status: number;
  readonly eTag: string | undefined;
  readonly text: string;
}

/** PUTs `bytes` to a plan target with exactly its headers and a Content-Length. */
export function putBytes(target: UploadTarget, bytes: Buffer): Promise<PutAnswer> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      target.url,
      { method: target.method, headers: { ...target.headers, 'Content-Length': bytes.length }, agent: false },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
        });
        response.on('end', () => {
          const eTag = response.headers.etag;
          resolve({
            status: response.statusCode ?? 0,
            eTag: typeof eTag === 'string' ? eTag : undefined,
            text,
          });
        });
      },
    );
    request.on('error', reject);
    request.end(bytes);
  });
}

/**
 * Uploads `bytes` as `plan` says (parts in parallel) and reports what the completion step gets.
 * Throws when any PUT is refused.
 */
export async function upload(plan: UploadPlan, bytes: Buffer): Promise<UploadResult> {
  if (plan.kind === 'already-present') throw new Error('nothing to upload: the vendor holds the bytes');
  if (plan.kind === 'single') {
    const answer = await putBytes(plan.target, bytes);
    if (answer.status !== 200) throw new Error(`PUT answered ${answer.status}: ${answer.text}`);
    const url = new URL(plan.target.url);
    return {
      kind: 'single',
      url: `${url.origin}${url.pathname}`,
      signedUrl: plan.target.url,
      eTag: answer.eTag,
    };
  }
  const parts: UploadedPart[] = await Promise.all(
    plan.parts.map(async (part) => {
      const answer = await putBytes(part.target, bytes.subarray(part.start, part.end + 1));
      if (answer.status !== 200 || answer.eTag === undefined) {
        throw new Error(`part ${part.partNumber} PUT answered ${answer.status}: ${answer.text}`);
      }
      return { partNumber: part.partNumber, eTag: answer.eTag };
    }),
  );
  const first = new URL(plan.parts[0]?.target.url ?? '');
  return { kind: 'multipart', url: `${first.origin}${first.pathname}`, parts };
}

export function sha256Base64(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('base64');
}

/** A file name no other test uses. */
export function uniqueName(extension: string): string {
  return `contract-${Math.random().toString(36).slice(2, 10)}.${extension}`;
}

/** CSV text of about `size` bytes (exactly `size`), header first. */
export function csvOfSize(size: number): Buffer {
  const header = 'sku,name,price\n';
  const rows: string[] = [header];
  let length = header.length;
  for (let i = 0; length < size; i++) {
    const row = `SKU-${i},Item ${i},${(i % 997) + 0.5}\n`;
    rows.push(row);
    length += row.length;
  }
  return Buffer.from(rows.join('')).subarray(0, size);
}

/** Polls `check` until it returns a value, at most `tries` times, `everyMs` apart. */
export async function poll<T>(check: () => Promise<T | undefined>, tries = 60, everyMs = 50): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await sleep(everyMs);
  }
  throw new Error(`condition not met after ${tries} tries`);
}
