import http, { type IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { S3Client } from '@aws-sdk/client-s3';
import { type ProcessMetrics, type PutTarget, RESULT_PREFIX, type S3Access } from './protocol';

/** An S3 client configured as the dispatch handler configures its own. */
export function dispatchS3Client(access: S3Access): S3Client {
  return new S3Client({
    endpoint: access.endpoint,
    region: access.region,
    credentials: { accessKeyId: access.accessKeyId, secretAccessKey: access.secretAccessKey },
    forcePathStyle: true,
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
}

function get(url: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    http.get(url, resolve).once('error', reject);
  });
}

/**
 * The baseline: the simplest correct streaming copy — a `node:http` GET (presigned URL) piped into a
 * `node:http` PUT with Content-Length. No SDK, no retries, no guards. Returns the PUT's status.
 */
export async function baselineCopy(getUrl: string, put: PutTarget, size: number): Promise<number> {
  const source = await get(getUrl);
  if (source.statusCode !== 200) {
    source.resume();
    throw new Error(`GET answered ${source.statusCode}`);
  }
  const request = http.request(put.url, {
    method: 'PUT',
    headers: { ...put.headers, 'content-length': String(size) },
  });
  const answered = new Promise<IncomingMessage>((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', reject);
  });
  await pipeline(source, request);
  const response = await answered;
  response.resume();
  const status = response.statusCode ?? 0;
  if (status !== 200) throw new Error(`PUT answered ${status}`);
  return status;
}

/** Monotonic clock in µs: the clock V8's CPU profiler stamps samples with. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** The worker's input (argv[2], JSON). The runner built it from the same types. */
export function readInput<T>(): T {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('worker input (argv[2]) is missing');
  return JSON.parse(raw) as T;
}

/** Runs `job` and takes the process's own figures around it. */
export async function measure<T>(job: () => Promise<T>): Promise<{ value: T; metrics: ProcessMetrics }> {
  const rssBeforeMb = process.memoryUsage.rss() / 1024 / 1024;
  const cpuBefore = process.cpuUsage();
  const jobStartUs = monotonicUs();
  const started = performance.now();
  const value = await job();
  const wallMs = performance.now() - started;
  const jobEndUs = monotonicUs();
  const cpu = process.cpuUsage(cpuBefore);
  const total = process.cpuUsage();
  return {
    value,
    metrics: {
      wallMs,
      cpuMs: (cpu.user + cpu.system) / 1000,
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      // maxRSS is in kilobytes.
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      rssBeforeMb,
      processCpuMs: (total.user + total.system) / 1000,
      jobStartUs,
      jobEndUs,
    },
  };
}

/** Prints the result line the runner looks for. */
export function report(result: object): void {
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

/** Runs a worker's main, reporting a failure as a non-zero exit with the message on stderr. */
export function runMain(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
