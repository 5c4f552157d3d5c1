import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { LedgerAdmin } from '../../cli/ledger-admin';
import { type DeliveryRecord, DeliveryState } from '../../functions/shared/state/ledger';
import { awsClients } from '../../local/aws';
import { startMoto } from '../../local/moto';
import { type FunctionLogLine, type LocalPipeline, startLocalPipeline } from '../../local/pipeline';
import { attachProfiler } from '../lib/attach-profiler';
import { type AwsTimingProxy, type OperationTiming, startAwsTimingProxy } from '../lib/aws-proxy';
import type { BenchContext } from '../lib/context';
import { loadNow } from '../lib/machine';
import { progress } from '../lib/measured';
import { childPids, commandOf, cpuMsOf, pidOfClientSocket } from '../lib/proc';
import { type ProfileSummary, summarizeProfile } from '../lib/profile';
import { percentile, round } from '../lib/stats';
import { PROFILE_DIR } from './profiles';

/** One route of config/routes.json and a body its vendor accepts (unique per file: Inspect dedupes by hash). */
interface RouteSample {
  readonly routeId: string;
  readonly prefix: string;
  readonly name: string;
  readonly contentType: string;
  body(id: string): Buffer;
}

const csv = (id: string) =>
  Buffer.from(
    [
      'invoice,date,gstin,amount',
      ...Array.from({ length: 20 }, (_, i) => `INV-${id}-${i},2026-03-01,29AABCT1332L1ZU,${100 + i}`),
    ].join('\n'),
  );

const ROUTES: readonly RouteSample[] = [
  {
    routeId: 'cleartax-sales',
    prefix: 'cleartax/sales/',
    name: 'sales.csv',
    contentType: 'text/csv',
    body: csv,
  },
  {
    routeId: 'cleartax-purchase',
    prefix: 'cleartax/purchase/',
    name: 'purchase.csv',
    contentType: 'text/csv',
    body: csv,
  },
  {
    routeId: 'cleartax-one-sales',
    prefix: 'cleartax-one/sales/',
    name: 'one.csv',
    contentType: 'text/csv',
    body: csv,
  },
  {
    routeId: 'clevertap-catalogs',
    prefix: 'clevertap/1001/',
    name: 'catalog.csv',
    contentType: 'text/csv',
    body: (id) => Buffer.from(`id,title\n${id}-1,shoe\n${id}-2,sock\n`),
  },
  {
    routeId: 'inspect-photos',
    prefix: 'inspect/0b4cf1d2-6a8e-4f3a-9c1b-7d2e5f8a9b10/',
    name: 'photo.jpg',
    contentType: 'image/jpeg',
    body: (id) => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from(` bench photo ${id}`)]),
  },
];

interface Dropped {
  readonly key: string;
  readonly routeId: string;
  /** Epoch ms when PutObject returned (moto has queued the notification by then). */
  readonly droppedAt: number;
}

export interface LatencySummary {
  readonly n: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly maxMs: number;
}

export interface FunctionSplit {
  readonly wallMs: number;
  readonly vendorApiMs: number;
  readonly awsMs: number;
  readonly restMs: number;
}

export interface OverheadSectionResult {
  readonly files: number;
  readonly completed: number;
  readonly notCompleted: number;
  /** Files ÷ (last completion − first drop). */
  readonly filesPerSecond: number;
  readonly wallMs: number;
  /** Drop (PutObject returned) → COMPLETED in the ledger. */
  readonly latency: LatencySummary;
  readonly latencyByRoute: Readonly<Record<string, LatencySummary>>;
  /** Medians of each leg from the ledger timestamps, ms. */
  readonly legs: {
    readonly dropToDispatchStartMs: number;
    readonly dispatchMs: number;
    readonly uploadedToCompletedMs: number;
  };
  readonly invocations: {
    readonly dispatch: number;
    readonly completion: number;
    readonly coldStarts: number;
    readonly medianWarmDispatchMs: number;
    readonly medianColdDispatchMs: number;
  };
  /**
   * Per file and per function, ms: invocation wall time, time inside vendor API calls (function
   * logs), time inside AWS calls (timing proxy, attributed to the calling process), and the rest —
   * our code, SDK marshalling, Node, the presigned PUT, waits. Completion works on a batch's records
   * concurrently, so its call times can add up to more than its wall time (negative rest).
   */
  readonly split: Readonly<Record<'dispatch' | 'completion', FunctionSplit>>;
  /** `uploaded` log's durationMs per file (presign + S3 GET + PUT), for reference. */
  readonly uploadStepMsPerFile: number;
  /** Unloaded latency: one file per route at a time, warm functions, drop → COMPLETED. */
  readonly isolatedLatency: LatencySummary;
  readonly vendorCalls: ReadonlyArray<{
    readonly fn: string;
    readonly operation: string;
    readonly calls: number;
    readonly meanMs: number;
  }>;
  readonly awsCalls: readonly OperationTiming[];
  /** Extra time per AWS call the timing proxy adds (direct vs proxied DynamoDB GetItem), ms. */
  readonly proxyOverheadMs: number;
  /** moto's median time for one DynamoDB GetItem between phases (direct), ms. */
  readonly motoGetItemMs: number;
  /** moto's DynamoDB write latency and throughput at 1 and 10 concurrent writers (after the burst). */
  readonly motoWriteProbe: readonly WriteProbe[];
  /** CPU per file, ms: the function processes (our code + SDK + Node), moto, and the host process. */
  readonly cpuMsPerFile: { readonly functions: number; readonly moto: number; readonly host: number };
  /** The same CPU ÷ burst wall time: how many cores each part kept busy. */
  readonly coresBusy: { readonly functions: number; readonly moto: number; readonly host: number };
  /** Structured log lines the functions wrote per file (JSON, at the stage's log level), and their bytes. */
  readonly logLinesPerFile: number;
  readonly logBytesPerFile: number;
  /** With --cpu-prof: one dispatch sandbox profiled over the burst (inspector attached by SIGUSR1). */
  readonly dispatchProfile?: ProfileSummary | undefined;
  readonly load1: number;
}

function latencySummary(values: readonly number[]): LatencySummary {
  return {
    n: values.length,
    p50Ms: round(percentile(values, 50)),
    p95Ms: round(percentile(values, 95)),
    maxMs: round(values.length === 0 ? Number.NaN : Math.max(...values)),
  };
}

/** Collects what the functions log and how long invocations take, from the pipeline's events. */
function recorder(pipeline: LocalPipeline) {
  const vendor = new Map<string, { fn: string; calls: number; ms: number }>();
  const invokes: Array<{ fn: string; ms: number; cold: boolean; records: number }> = [];
  let uploadMs = 0;
  let active = false;
  const logs = { lines: 0, bytes: 0 };
  pipeline.events.on('log', ({ fn, entry }: FunctionLogLine) => {
    if (!active) return;
    logs.lines++;
    logs.bytes += JSON.stringify(entry).length + 1;
    if (entry.message === 'vendor call' && typeof entry.ms === 'number') {
      const op = `${String(entry.vendor ?? '?')} ${String(entry.operation ?? '?')}`;
      const v = vendor.get(op) ?? { fn, calls: 0, ms: 0 };
      v.calls++;
      v.ms += entry.ms;
      vendor.set(op, v);
    } else if (entry.message === 'uploaded' && typeof entry.durationMs === 'number') {
      uploadMs += entry.durationMs;
    }
  });
  pipeline.events.on('invoke', ({ fn, records, outcome }) => {
    if (active) invokes.push({ fn, ms: outcome.ms, cold: outcome.coldStart, records });
  });
  return {
    start() {
      active = true;
    },
    vendor,
    invokes,
    logs,
    uploadMs: () => uploadMs,
  };
}

/** moto's latency for one small call, and what the timing proxy adds: the same GetItem direct and through it. */
async function proxyOverhead(
  direct: LedgerAdmin,
  proxied: LedgerAdmin,
): Promise<{ directMs: number; addedMs: number }> {
  const key = { pk: 'd#bench/none', sk: 'v#none' };
  const time = async (ledger: LedgerAdmin) => {
    const samples: number[] = [];
    for (let i = 0; i < 30; i++) {
      const started = performance.now();
      await ledger.get(key);
      samples.push(performance.now() - started);
    }
    return percentile(samples, 50);
  };
  await time(direct);
  await time(proxied);
  const viaProxy = await time(proxied);
  const directMs = await time(direct);
  return { directMs: round(directMs, 2), addedMs: round(viaProxy - directMs, 2) };
}

async function drop(
  s3: ReturnType<typeof awsClients>['s3'],
  bucket: string,
  route: RouteSample,
  tag: string,
): Promise<Dropped> {
  const id = randomUUID().slice(0, 8);
  const dot = route.name.lastIndexOf('.');
  const key = `${route.prefix}${route.name.slice(0, dot)}-${tag}-${id}${route.name.slice(dot)}`;
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: route.body(id), ContentType: route.contentType }),
  );
  return { key, routeId: route.routeId, droppedAt: Date.now() };
}

const TERMINAL: readonly DeliveryState[] = [
  DeliveryState.COMPLETED,
  DeliveryState.FAILED,
  DeliveryState.DUPLICATE,
  DeliveryState.COMPLETION_UNCERTAIN,
];

/** Polls the ledger's state index until every key is terminal or the deadline passes. */
async function settle(
  ledger: LedgerAdmin,
  keys: ReadonlySet<string>,
  timeoutMs: number,
): Promise<Map<string, DeliveryRecord>> {
  const found = new Map<string, DeliveryRecord>();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const state of TERMINAL) {
      for (const record of await ledger.listByState(state, { limit: 5000 })) {
        if (keys.has(record.key)) found.set(record.key, record);
      }
    }
    if (found.size >= keys.size) break;
    await sleep(1000);
  }
  return found;
}

export interface WriteProbe {
  readonly concurrency: number;
  readonly p50Ms: number;
  readonly opsPerSecond: number;
}

/**
 * moto's DynamoDB capacity, timed directly: ledger-shaped conditional-free UpdateItems (GSI keys,
 * a list_append) on the deployed state table (keys of their own), by 1 and then 10 concurrent writers.
 */
async function probeMotoWrites(clients: ReturnType<typeof awsClients>, table: string): Promise<WriteProbe[]> {
  const out: WriteProbe[] = [];
  let next = 0;
  for (const concurrency of [1, 10]) {
    const latencies: number[] = [];
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = 0; i < 30; i++) {
          const at = performance.now();
          await clients.doc.send(
            new UpdateCommand({
              TableName: table,
              Key: { pk: `d#probe/${next++}`, sk: 'v#1' },
              UpdateExpression:
                'SET #s = :s, gsi1pk = :g, gsi1sk = :t, history = list_append(if_not_exists(history, :e), :h)',
              ExpressionAttributeNames: { '#s': 'state' },
              ExpressionAttributeValues: {
                ':s': 'UPLOADING',
                ':g': 'state#UPLOADING',
                ':t': new Date().toISOString(),
                ':e': [],
                ':h': [{ at: new Date().toISOString(), state: 'UPLOADING' }],
              },
            }),
          );
          latencies.push(performance.now() - at);
        }
      }),
    );
    const elapsed = performance.now() - started;
    out.push({
      concurrency,
      p50Ms: round(percentile(latencies, 50), 1),
      opsPerSecond: round((latencies.length / elapsed) * 1000),
    });
  }
  return out;
}

/** Drops `count` files round-robin across the routes, 8 PutObjects at a time. */
async function dropAll(
  s3: ReturnType<typeof awsClients>['s3'],
  bucket: string,
  count: number,
  tag: string,
): Promise<Dropped[]> {
  const out: Dropped[] = [];
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const route = ROUTES[i % ROUTES.length];
      if (route) out.push(await drop(s3, bucket, route, tag));
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return out;
}

/**
 * Which process opened a connection to the timing proxy: one of the emulated Lambda sandboxes
 * (children running local/worker-host.mjs with the dispatch or completion bundle), or this process
 * (the event-source emulation). Found from the socket's owner in /proc.
 */
function callerOf(port: number, proxyPort: number): string {
  const sandboxes = childPids(process.pid, 'worker-host');
  const pid = pidOfClientSocket(port, proxyPort, [...sandboxes, process.pid]);
  if (pid === undefined) return 'other';
  if (pid === process.pid) return 'host';
  // A sandbox runs its function's deployed package under the function's name (`…-dispatch`).
  const command = commandOf(pid);
  if (/-dispatch\b/.test(command)) return 'dispatch';
  if (/-completion\b/.test(command)) return 'completion';
  return 'other';
}

function functionCpu(pipeline: LocalPipeline): Map<number, number> {
  const cpu = new Map<number, number>();
  for (const pid of [...pipeline.pools.dispatch.pids(), ...pipeline.pools.completion.pids()]) {
    const ms = cpuMsOf(pid);
    if (ms !== undefined) cpu.set(pid, ms);
  }
  return cpu;
}

/**
 * Per-file overhead of the whole pipeline: small files dropped into the local pipeline (moto, the
 * sandbox, both deployed bundles behind emulated event sources), timed from drop to COMPLETED, and
 * the time split between our functions, vendor calls and AWS calls.
 */
export async function overheadSection(ctx: BenchContext): Promise<OverheadSectionResult> {
  const files = ctx.options.files;
  const motoBefore = new Set(childPids(process.pid, 'moto'));
  const moto = await startMoto();
  const motoPid = childPids(process.pid, 'moto').find((pid) => !motoBefore.has(pid));
  let proxy: AwsTimingProxy | undefined;
  let pipeline: LocalPipeline | undefined;
  try {
    proxy = await startAwsTimingProxy(moto.endpoint, callerOf);
    progress('overhead: starting the local pipeline');
    pipeline = await startLocalPipeline({
      awsEndpoint: proxy.url,
      sandbox: { jobDurationMs: 200 },
      // Vendor job status checks start after the run: the measurement is drop → COMPLETED.
      overrides: { statusPollFirstSeconds: 900 },
      pollWaitSeconds: 1,
      logDir: path.join(ctx.tmpDir, 'overhead-logs'),
    });
    const direct = awsClients(moto.endpoint, pipeline.clients.region);
    const ledger = new LedgerAdmin({ doc: direct.doc, tableName: pipeline.resources.stateTable });
    const bucket = pipeline.resources.bucket;
    const events = recorder(pipeline);

    progress('overhead: warm-up, one file per route');
    const warm = await dropAll(direct.s3, bucket, ROUTES.length, 'warm');
    const warmed = await settle(ledger, new Set(warm.map((d) => d.key)), 120_000);
    if (warmed.size < warm.length)
      throw new Error(`warm-up: ${warm.length - warmed.size} files did not settle`);
    const calibration = await proxyOverhead(ledger, pipeline.ledger);

    proxy.reset();
    events.start();
    const cpuBefore = functionCpu(pipeline);
    const motoCpuBefore = motoPid === undefined ? undefined : cpuMsOf(motoPid);
    const hostCpuBefore = process.cpuUsage();
    const coldBefore = pipeline.pools.dispatch.coldStarts + pipeline.pools.completion.coldStarts;

    const profiledPid = ctx.options.cpuProf ? pipeline.pools.dispatch.pids()[0] : undefined;
    const profiler = profiledPid === undefined ? undefined : await attachProfiler(profiledPid);
    if (ctx.options.cpuProf && !profiler)
      progress('overhead: could not attach a profiler to a dispatch sandbox');

    progress(`overhead: dropping ${files} files`);
    const started = Date.now();
    const dropped = await dropAll(direct.s3, bucket, files, 'run');
    const records = await settle(ledger, new Set(dropped.map((d) => d.key)), Math.max(120_000, files * 1000));
    const wallMs = Date.now() - started;

    const cpuAfter = functionCpu(pipeline);
    let functionsCpu = 0;
    for (const [pid, ms] of cpuAfter) functionsCpu += ms - (cpuBefore.get(pid) ?? 0);
    const motoCpu =
      motoPid === undefined || motoCpuBefore === undefined
        ? Number.NaN
        : (cpuMsOf(motoPid) ?? 0) - motoCpuBefore;
    const host = process.cpuUsage(hostCpuBefore);
    const coldStarts = pipeline.pools.dispatch.coldStarts + pipeline.pools.completion.coldStarts - coldBefore;
    const awsCalls = proxy.timings();
    const logs = { ...events.logs };
    let dispatchProfile: ProfileSummary | undefined;
    const profileText = await profiler?.stop();
    const bundle =
      profiledPid === undefined ? undefined : /\S+dispatch\.mjs/.exec(commandOf(profiledPid))?.[0];
    if (profileText && bundle) {
      mkdirSync(PROFILE_DIR, { recursive: true });
      writeFileSync(path.join(PROFILE_DIR, 'dispatch-sandbox.cpuprofile'), profileText);
      dispatchProfile = summarizeProfile('dispatch sandbox during the burst', profileText, bundle);
    }
    const functionInvokes = [...events.invokes];
    const vendorCalls = new Map(events.vendor);
    const uploadMs = events.uploadMs();

    progress('overhead: isolated latency, one file per route at a time');
    const isolated: number[] = [];
    for (let pass = 0; pass < 2; pass++) {
      const batch = await dropAll(direct.s3, bucket, ROUTES.length, `solo${pass}`);
      const done = await settle(ledger, new Set(batch.map((d) => d.key)), 60_000);
      for (const d of batch) {
        const r = done.get(d.key);
        if (r?.completedAt) isolated.push(Date.parse(r.completedAt) - d.droppedAt);
      }
    }

    progress('overhead: timing moto directly');
    const motoWriteProbe = await probeMotoWrites(direct, pipeline.resources.stateTable);

    const latencies: number[] = [];
    const byRoute = new Map<string, number[]>();
    const legs = {
      start: [] as number[],
      dispatch: [] as number[],
      completion: [] as number[],
    };
    let lastCompleted = started;
    for (const d of dropped) {
      const r = records.get(d.key);
      if (r?.state !== DeliveryState.COMPLETED || !r.completedAt) continue;
      const completedAt = Date.parse(r.completedAt);
      lastCompleted = Math.max(lastCompleted, completedAt);
      latencies.push(completedAt - d.droppedAt);
      byRoute.set(d.routeId, [...(byRoute.get(d.routeId) ?? []), completedAt - d.droppedAt]);
      const created = Date.parse(r.createdAt);
      legs.start.push(created - d.droppedAt);
      if (r.uploadedAt) {
        const uploaded = Date.parse(r.uploadedAt);
        legs.dispatch.push(uploaded - created);
        legs.completion.push(completedAt - uploaded);
      }
    }
    const completed = latencies.length;
    const n = Math.max(completed, 1);
    const sumMs = (fn: string) => functionInvokes.filter((i) => i.fn === fn).reduce((s, i) => s + i.ms, 0);
    const dispatchMs = sumMs('dispatch');
    const completionMs = sumMs('completion');
    const splitOf = (fn: 'dispatch' | 'completion', wall: number): FunctionSplit => {
      const vendorMs = [...vendorCalls.values()].filter((v) => v.fn === fn).reduce((sum, v) => sum + v.ms, 0);
      const awsMs = awsCalls.filter((t) => t.caller === fn).reduce((sum, t) => sum + t.totalMs, 0);
      return {
        wallMs: round(wall / n),
        vendorApiMs: round(vendorMs / n),
        awsMs: round(awsMs / n),
        restMs: round((wall - vendorMs - awsMs) / n),
      };
    };
    const warmDispatch = functionInvokes.filter((i) => i.fn === 'dispatch' && !i.cold).map((i) => i.ms);
    const coldDispatch = functionInvokes.filter((i) => i.fn === 'dispatch' && i.cold).map((i) => i.ms);

    return {
      files,
      completed,
      notCompleted: files - completed,
      filesPerSecond: round(completed / Math.max((lastCompleted - started) / 1000, 0.001), 2),
      wallMs,
      latency: latencySummary(latencies),
      latencyByRoute: Object.fromEntries([...byRoute.entries()].map(([id, v]) => [id, latencySummary(v)])),
      legs: {
        dropToDispatchStartMs: round(percentile(legs.start, 50)),
        dispatchMs: round(percentile(legs.dispatch, 50)),
        uploadedToCompletedMs: round(percentile(legs.completion, 50)),
      },
      invocations: {
        dispatch: functionInvokes.filter((i) => i.fn === 'dispatch').length,
        completion: functionInvokes.filter((i) => i.fn === 'completion').length,
        coldStarts,
        medianWarmDispatchMs: round(percentile(warmDispatch, 50)),
        medianColdDispatchMs: round(percentile(coldDispatch, 50)),
      },
      split: { dispatch: splitOf('dispatch', dispatchMs), completion: splitOf('completion', completionMs) },
      uploadStepMsPerFile: round(uploadMs / n),
      isolatedLatency: latencySummary(isolated),
      vendorCalls: [...vendorCalls.entries()]
        .map(([operation, v]) => ({ fn: v.fn, operation, calls: v.calls, meanMs: round(v.ms / v.calls, 2) }))
        .sort((a, b) => b.calls * b.meanMs - a.calls * a.meanMs),
      awsCalls,
      proxyOverheadMs: calibration.addedMs,
      motoGetItemMs: calibration.directMs,
      motoWriteProbe,
      cpuMsPerFile: {
        functions: round(functionsCpu / n),
        moto: round(motoCpu / n),
        host: round((host.user + host.system) / 1000 / n),
      },
      coresBusy: {
        functions: round(functionsCpu / wallMs, 2),
        moto: round(motoCpu / wallMs, 2),
        host: round((host.user + host.system) / 1000 / wallMs, 2),
      },
      logLinesPerFile: round(logs.lines / n, 1),
      logBytesPerFile: round(logs.bytes / n),
      dispatchProfile,
      load1: loadNow(),
    };
  } finally {
    await pipeline?.stop();
    await proxy?.close();
    await moto.stop();
  }
}
