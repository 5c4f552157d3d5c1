import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * SHA-256 of a stream, computed on a worker thread while the main thread keeps reading, when the
 * process has a second CPU to run it on: then a hashing pass costs about the read alone instead of read
 * plus hash (both are single-threaded work). On one CPU (Lambda below 1,769 MB) the worker would only
 * take turns with the reader, so the hash is computed inline.
 */
export interface StreamHasher {
  update(chunk: Uint8Array): Promise<void> | undefined;
  /** The digest, base64. */
  digest(): Promise<string>;
  /** Drops the job (the stream failed). */
  abort(): void;
}

/** Smaller objects are hashed inline: a worker's start and hand-over would cost more than it saves. */
export const OVERLAP_MIN_BYTES = 16 * 1024 * 1024;
/** Bytes handed over and not yet hashed before the reader waits (bounds memory per hashing job). */
const MAX_IN_FLIGHT_BYTES = 16 * 1024 * 1024;
/** Bytes gathered on the reading thread before they are handed over in one message. */
const BLOCK_BYTES = 2 * 1024 * 1024;

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const jobs = new Map();
parentPort.on('message', (m) => {
  if (m.type === 'chunk') {
    let hash = jobs.get(m.id);
    if (!hash) { hash = createHash('sha256'); jobs.set(m.id, hash); }
    hash.update(new Uint8Array(m.buffer, 0, m.length));
    // The block goes back to be filled again: no fresh memory (and its page faults) per block.
    parentPort.postMessage({ type: 'hashed', id: m.id, bytes: m.length, buffer: m.buffer }, [m.buffer]);
  } else if (m.type === 'end') {
    const hash = jobs.get(m.id) ?? createHash('sha256');
    jobs.delete(m.id);
    parentPort.postMessage({ type: 'digest', id: m.id, digest: hash.digest('base64') });
  } else if (m.type === 'abort') {
    jobs.delete(m.id);
  }
});
`;

interface Job {
  inFlight: number;
  drained?: () => void;
  done?: (digest: string) => void;
  failed?: Error;
}

/**
 * One worker per process, shared by every hashing job. It keeps the process alive only while a job is
 * open (a pending digest must hold the event loop, or Node would exit under it), never when idle.
 */
let shared: { worker: Worker; jobs: Map<number, Job>; nextId: number; free: ArrayBuffer[] } | undefined;

function sharedWorker(): NonNullable<typeof shared> {
  if (shared) return shared;
  const worker = new Worker(WORKER_SOURCE, { eval: true });
  worker.unref();
  const jobs = new Map<number, Job>();
  const free: ArrayBuffer[] = [];
  worker.on(
    'message',
    (m: { type: string; id: number; bytes?: number; digest?: string; buffer?: ArrayBuffer }) => {
      if (m.buffer && free.length < MAX_IN_FLIGHT_BYTES / BLOCK_BYTES) free.push(m.buffer);
      const job = jobs.get(m.id);
      if (!job) return;
      if (m.type === 'hashed') {
        job.inFlight -= m.bytes ?? 0;
        if (job.inFlight <= MAX_IN_FLIGHT_BYTES / 2 && job.drained) {
          const drained = job.drained;
          job.drained = undefined;
          drained();
        }
      } else if (m.type === 'digest') {
        jobs.delete(m.id);
        if (jobs.size === 0) worker.unref();
        job.done?.(m.digest ?? '');
      }
    },
  );
  const failAll = (error: unknown) => {
    shared = undefined;
    for (const job of jobs.values()) {
      job.failed = error instanceof Error ? error : new Error(String(error));
      job.drained?.();
      job.done?.('');
    }
    jobs.clear();
  };
  worker.on('error', failAll);
  worker.on('exit', (code) => {
    if (jobs.size > 0) failAll(new Error(`hash worker exited with ${code}`));
    shared = undefined;
  });
  shared = { worker, jobs, nextId: 1, free };
  return shared;
}

function inlineHasher(): StreamHasher {
  const hash = createHash('sha256');
  return {
    update(chunk) {
      hash.update(chunk);
      return undefined;
    },
    digest: async () => hash.digest('base64'),
    abort() {},
  };
}

function workerHasher(): StreamHasher {
  const pool = sharedWorker();
  const id = pool.nextId++;
  const job: Job = { inFlight: 0 };
  pool.jobs.set(id, job);
  pool.worker.ref();
  // Socket chunks are small views into pooled memory: they are copied into blocks the worker then owns
  // outright (one message per 2 MB instead of one per chunk).
  const nextBlock = () => {
    const reused = pool.free.pop();
    return reused ? Buffer.from(reused) : Buffer.allocUnsafeSlow(BLOCK_BYTES);
  };
  let block = nextBlock();
  let filled = 0;
  const handOver = () => {
    if (filled === 0) return;
    const { buffer } = block;
    const length = filled;
    job.inFlight += length;
    pool.worker.postMessage({ type: 'chunk', id, buffer, length }, [buffer as ArrayBuffer]);
    block = nextBlock();
    filled = 0;
  };
  return {
    update(chunk) {
      if (job.failed) throw job.failed;
      let at = 0;
      while (at < chunk.byteLength) {
        const n = Math.min(chunk.byteLength - at, BLOCK_BYTES - filled);
        block.set(chunk.subarray(at, at + n), filled);
        filled += n;
        at += n;
        if (filled === BLOCK_BYTES) handOver();
      }
      if (job.inFlight < MAX_IN_FLIGHT_BYTES) return undefined;
      return new Promise<void>((resolve) => {
        job.drained = resolve;
      });
    },
    digest() {
      return new Promise<string>((resolve, reject) => {
        if (job.failed) return reject(job.failed);
        handOver();
        job.done = (digest) => (job.failed ? reject(job.failed) : resolve(digest));
        pool.worker.postMessage({ type: 'end', id });
      });
    },
    abort() {
      pool.jobs.delete(id);
      if (pool.jobs.size === 0) pool.worker.unref();
      pool.worker.postMessage({ type: 'abort', id });
    },
  };
}

/** A hasher for `size` bytes: on the worker when it pays (a second CPU, a large object), else inline. */
export function streamHasher(size: number, cpus = availableParallelism()): StreamHasher {
  return cpus >= 2 && size >= OVERLAP_MIN_BYTES ? workerHasher() : inlineHasher();
}
