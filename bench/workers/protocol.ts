/**
 * What the bench's child processes get and give back. Each worker reads one JSON input from argv[2],
 * does one measured job, and prints one line `BENCH_RESULT <json>` on stdout. Every figure is taken
 * inside the child, so it belongs to that process alone (not moto, not the sandbox, not the runner).
 */

export const RESULT_PREFIX = 'BENCH_RESULT ';

/** Figures of the measured job, taken in the worker process. */
export interface ProcessMetrics {
  /** Wall time of the measured job only (after imports and client setup), ms. */
  readonly wallMs: number;
  /** CPU time (user + system) of the measured job only, ms. */
  readonly cpuMs: number;
  readonly cpuUserMs: number;
  readonly cpuSystemMs: number;
  /** `process.resourceUsage().maxRSS`: the process's peak resident set, MB. */
  readonly peakRssMb: number;
  /** Resident set just before the job started (runtime, modules, clients), MB. */
  readonly rssBeforeMb: number;
  /** CPU time of the whole process, start-up included, ms. */
  readonly processCpuMs: number;
  /** The job's start and end on the monotonic clock (µs), to cut a CPU profile to the job. */
  readonly jobStartUs: number;
  readonly jobEndUs: number;
}

export interface S3Access {
  readonly endpoint: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface ObjectLocation {
  readonly bucket: string;
  readonly key: string;
  /** Quoted ETag; the uploader sends it as If-Match, as dispatch does on unversioned buckets. */
  readonly eTag?: string | undefined;
}

/** A presigned PUT as a vendor hands it out. */
export interface PutTarget {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface PartTarget extends PutTarget {
  readonly partNumber: number;
  readonly start: number;
  readonly end: number;
}

/** upload-worker: the real uploader (`uploadPlan`) with a single or multipart plan. */
export interface UploadWorkerInput {
  readonly s3: S3Access;
  readonly object: ObjectLocation;
  readonly size: number;
  readonly plan:
    | { readonly kind: 'single'; readonly target: PutTarget }
    | { readonly kind: 'multipart'; readonly parts: readonly PartTarget[] };
  readonly uploadHostAllowList: readonly string[];
  readonly partConcurrency: number;
}

export interface UploadWorkerOutput extends ProcessMetrics {
  readonly bytes: number;
  readonly eTag?: string | undefined;
  readonly parts?: ReadonlyArray<{ readonly partNumber: number; readonly eTag: string }> | undefined;
}

/** baseline-worker: `node:http` GET piped to `node:http` PUT, nothing else. */
export interface BaselineWorkerInput {
  readonly getUrl: string;
  readonly put: PutTarget;
  readonly size: number;
}

export interface BaselineWorkerOutput extends ProcessMetrics {
  readonly bytes: number;
  readonly status: number;
}

/** read-worker: one pass over an object through `openObject`, hashing it or not. */
export interface ReadWorkerInput {
  readonly s3: S3Access;
  readonly object: ObjectLocation;
  /** The object's size, as the dispatch passes it (a large object is hashed while it is read). */
  readonly size: number;
  readonly mode: 'sha256' | 'discard';
}

export interface ReadWorkerOutput extends ProcessMetrics {
  readonly bytes: number;
  readonly sha256Base64?: string | undefined;
}

/** import-worker: times `import()` of a bundled handler (module initialisation, no invocation). */
export interface ImportWorkerInput {
  readonly bundle: string;
}

export interface ImportWorkerOutput {
  readonly importMs: number;
  /** The import's start and end on the monotonic clock (µs), to cut a CPU profile to it. */
  readonly importStartUs: number;
  readonly importEndUs: number;
  readonly ok: boolean;
  readonly error?: string | undefined;
  readonly exportsHandler: boolean;
  readonly rssMb: number;
}

/** range-server: a file-backed stand-in for S3 GetObject whose ranged reads cost O(range). */
export interface RangeServerInput {
  readonly file: string;
  readonly bucket: string;
  readonly key: string;
  readonly eTag: string;
  readonly contentType: string;
}

/** warm-worker: deliveries one after another in one process, real uploader and baseline alternating. */
export interface WarmWorkerInput {
  readonly s3: S3Access;
  readonly object: ObjectLocation;
  readonly size: number;
  readonly uploadHostAllowList: readonly string[];
  readonly deliveries: ReadonlyArray<{
    readonly kind: 'pipeline' | 'baseline';
    readonly put: PutTarget;
    /** The baseline's presigned GET of the object. */
    readonly getUrl?: string;
  }>;
}

export interface WarmWorkerOutput {
  /** Wall ms of each delivery through the real uploader, in order. */
  readonly pipelineMs: readonly number[];
  /** Wall ms of each baseline copy, in order. */
  readonly baselineMs: readonly number[];
}
