import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import type { UploadedPart, UploadPart, UploadPlan, UploadResult, UploadTarget } from '../../vendors/types';
import { ErrorCode, isRetryable, PermanentError, RetryableError, UploadUrlExpiredError } from '../errors';
import { unsignedUrl } from '../redact';
import { type FirstRead, type ObjectVersion, openObject } from './s3-source';
import { streamPut } from './stream-put';
import { assertSafeUploadTarget, type UploadGuardPolicy } from './url-guard';

export interface UploadOptions {
  readonly s3: S3Client;
  readonly object: ObjectVersion;
  /** Object size in bytes (from the object's head). */
  readonly size: number;
  /** The object already opened (or read): a single upload's first try streams it instead of a new GET. */
  readonly first?: FirstRead | undefined;
  readonly policy: UploadGuardPolicy;
  /** Parallel part uploads for multipart plans. */
  readonly partConcurrency: number;
  /** Tries per URL for transient failures (reset, 5xx) while the URL is still valid. */
  readonly attemptsPerTarget?: number;
  /** Pause between tries, ms (doubles each time). */
  readonly retryDelayMs?: number;
  readonly signal?: AbortSignal | undefined;
  /** Abort an upload (or its S3 source) whose bytes stop moving for this long, ms. */
  readonly stallMs?: number | undefined;
  readonly now?: () => number;
  /** Bytes acknowledged so far (whole parts or the whole object), for progress display. */
  readonly onProgress?: ((bytesSent: number) => void) | undefined;
  /** Called before each retry of a target (for metrics). */
  readonly onRetry?: ((error: unknown) => void) | undefined;
}

class ByteCounter extends Transform {
  constructor(private readonly onBytes: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.onBytes(chunk.length);
    callback(null, chunk);
  }
}

async function putRange(
  options: UploadOptions,
  target: UploadTarget,
  url: URL,
  range: { start: number; end: number } | undefined,
  onBytes: ((n: number) => void) | undefined,
): Promise<string | undefined> {
  const attempts = options.attemptsPerTarget ?? 3;
  const now = options.now ?? Date.now;
  let delay = options.retryDelayMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    if (target.expiresAt !== undefined && target.expiresAt <= now()) {
      throw new UploadUrlExpiredError(
        `upload URL for ${unsignedUrl(target.url)} expired before the upload started`,
      );
    }
    const source =
      (range === undefined ? options.first?.take() : undefined) ??
      (await openObject(options.s3, options.object, range, options.signal));
    let sentHere = 0;
    let body: Readable = source.body;
    if (onBytes) {
      const counter = new ByteCounter((n) => {
        sentHere += n;
        onBytes(n);
      });
      // pipeline (not pipe) so an S3 read error reaches the PUT, and destroying either end frees both.
      pipeline(source.body, counter).catch(() => undefined);
      body = counter;
    }
    try {
      const result = await streamPut({
        url,
        headers: target.headers,
        body,
        contentLength: source.length,
        signal: options.signal,
        method: target.method,
        stallMs: options.stallMs,
      });
      return result.eTag;
    } catch (error) {
      body.destroy();
      source.body.destroy();
      if (onBytes && sentHere > 0) onBytes(-sentHere);
      const expired = error instanceof UploadUrlExpiredError;
      if (expired || !isRetryable(error) || attempt >= attempts || options.signal?.aborted) throw error;
      options.onRetry?.(error);
      await sleep(delay);
      delay *= 2;
    }
  }
}

/**
 * Streams the object to the vendor as the plan says: one PUT, or ranged S3 GETs piped to part URLs
 * with bounded parallelism. Every URL is checked against the route's allow-list before any byte is
 * read. Memory is bounded by stream buffers × parallel parts, never by the object size.
 */
export async function uploadPlan(
  plan: Extract<UploadPlan, { kind: 'single' | 'multipart' }>,
  options: UploadOptions,
): Promise<UploadResult> {
  let sent = 0;
  const report = options.onProgress
    ? (n: number) => {
        sent += n;
        options.onProgress?.(sent);
      }
    : undefined;

  if (plan.kind === 'single') {
    const url = assertSafeUploadTarget(plan.target.url, options.policy);
    const eTag = await putRange(options, plan.target, url, undefined, report);
    return { kind: 'single', url: unsignedUrl(plan.target.url), signedUrl: plan.target.url, eTag };
  }

  // Parts are ranged reads: bytes opened ahead for a single upload are not used.
  options.first?.dispose();
  const parts: readonly UploadPart[] = [...plan.parts].sort((a, b) => a.partNumber - b.partNumber);
  checkPartsCoverObject(parts, options.size);
  const urls = parts.map((part) => assertSafeUploadTarget(part.target.url, options.policy));

  const done: UploadedPart[] = [];
  const controller = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
  let next = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (failure === undefined) {
      const index = next++;
      const part = parts[index];
      const url = urls[index];
      if (!part || !url) return;
      try {
        const eTag = await putRange(
          { ...options, signal },
          part.target,
          url,
          { start: part.start, end: part.end },
          report,
        );
        if (!eTag) {
          throw new RetryableError(
            ErrorCode.VENDOR_BAD_RESPONSE,
            `part ${part.partNumber}: the upload answer carried no ETag`,
          );
        }
        done.push({ partNumber: part.partNumber, eTag });
      } catch (error) {
        failure ??= error;
        controller.abort();
      }
    }
  };
  const workers = Math.max(1, Math.min(options.partConcurrency, parts.length));
  await Promise.all(Array.from({ length: workers }, worker));
  if (failure !== undefined) throw failure;
  done.sort((a, b) => a.partNumber - b.partNumber);
  const first = parts[0];
  return { kind: 'multipart', url: first ? unsignedUrl(first.target.url) : '', parts: done };
}

/** A multipart plan must cover bytes 0..size-1 exactly once, in order. */
function checkPartsCoverObject(parts: readonly UploadPart[], size: number): void {
  let expectedStart = 0;
  parts.forEach((part, i) => {
    if (part.partNumber !== i + 1 || part.start !== expectedStart || part.end < part.start) {
      // The adapter built the plan: a gap is a defect, not the file's or the vendor's fault.
      throw new PermanentError(
        ErrorCode.PIPELINE_DEFECT,
        `multipart plan does not cover the object: part ${part.partNumber} is ${part.start}-${part.end}`,
      );
    }
    expectedStart = part.end + 1;
  });
  if (expectedStart !== size) {
    throw new PermanentError(
      ErrorCode.PIPELINE_DEFECT,
      `multipart plan covers ${expectedStart} of ${size} bytes`,
    );
  }
}
