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
import {
  type AwsTimingProxy,
  isAnnouncement,
  type OperationTiming,
  startAwsTimingProxy,
} from '../lib/aws-proxy';
import { rebuildFunction } from '../lib/build-options';
import type { BenchContext } from '../lib/context';
import { loadNow } from '../lib/machine';
import { progress } from '../lib/measured';
import { childPids, commandOf, cpuMsOf, pidOfClientSocket } from '../lib/proc';
import { type ProfileSummary, summarizeProfile } from '../lib/profile';
import { fixed, pct, table } from '../lib/render';
import { percentile, round } from '../lib/stats';
import type { TargetResult } from '../lib/targets';
import { FUNCTION_ENTRIES } from './coldstart';
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
    /** NaN (`null` in the results file) when no warm dispatch ran. */
    readonly medianWarmDispatchMs: number;
  };
  /**
   * Invocation wall time per file and function, ms (the function's invocations summed ÷ completed
   * files). Absent in results files written before it existed.
   */
  readonly functionWallMsPerFile?: Readonly<Record<'dispatch' | 'completion', number>> | undefined;
  /** Unloaded latency: one file per route at a time, warm functions, drop → COMPLETED. */
  readonly isolatedLatency: LatencySummary;
  /** The AWS calls of the burst per caller and operation (timing proxy): how calls per file are counted. */
  readonly awsCalls: readonly OperationTiming[];
  /**
   * moto's DynamoDB write latency and throughput at 1 and 10 concurrent writers (after the burst,
   * timed directly): the embedded AWS's own write capacity, which bounds files/s here.
   */
  readonly motoWriteProbe: readonly WriteProbe[];
  /**
   * CPU of the function processes per file (our code + SDK + Node), ms. Absent in results files
   * written before it existed.
   */
  readonly functionCpuMsPerFile?: number | undefined;
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

/** Counts what the functions log and how long invocations take, from the pipeline's events. */
function recorder(pipeline: LocalPipeline) {
  const invokes: Array<{ fn: string; ms: number; cold: boolean; records: number }> = [];
  let active = false;
  const logs = { lines: 0, bytes: 0 };
  pipeline.events.on('log', ({ entry }: FunctionLogLine) => {
    if (!active) return;
    logs.lines++;
    logs.bytes += JSON.stringify(entry).length + 1;
  });
  pipeline.events.on('invoke', ({ fn, records, outcome }) => {
    if (active) invokes.push({ fn, ms: outcome.ms, cold: outcome.coldStart, records });
  });
  return {
    start() {
      active = true;
    },
    invokes,
    logs,
  };
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
 * sandbox, both deployed bundles behind emulated event sources), timed from drop to COMPLETED, with
 * the AWS calls the functions make per file and moto's own write capacity to read files/s against.
 */
export async function overheadSection(ctx: BenchContext): Promise<OverheadSectionResult> {
  const files = ctx.options.files;
  const moto = await startMoto();
  let proxy: AwsTimingProxy | undefined;
  let pipeline: LocalPipeline | undefined;
  try {
    proxy = await startAwsTimingProxy(moto.endpoint, callerOf);
    progress('overhead: starting the local pipeline');
    pipeline = await startLocalPipeline({
      awsEndpoint: proxy.url,
      sandbox: { jobDurationMs: 200 },
      // Vendor job status checks start after the run: the measurement is drop → COMPLETED. Secrets are
      // cached as in the deployed stages (300 s; the local stage's 5 s is for trying rotations by hand).
      overrides: { statusPollFirstSeconds: 900, secretCacheSeconds: 300 },
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

    proxy.reset();
    events.start();
    const cpuBefore = functionCpu(pipeline);
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
      const rebuilt = await rebuildFunction(
        FUNCTION_ENTRIES.dispatch.entry,
        path.join(ctx.tmpDir, 'rebuilt', 'dispatch.mjs'),
        bundle,
      );
      dispatchProfile = summarizeProfile('dispatch sandbox during the burst', profileText, {
        file: bundle,
        map: rebuilt.fullMap ?? `${bundle}.map`,
      });
    }
    const functionInvokes = [...events.invokes];

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

    progress("overhead: timing moto's DynamoDB writes directly");
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
    const wallPerFile = (fn: string) =>
      round(functionInvokes.filter((i) => i.fn === fn).reduce((s, i) => s + i.ms, 0) / n);
    const warmDispatch = functionInvokes.filter((i) => i.fn === 'dispatch' && !i.cold).map((i) => i.ms);

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
      },
      functionWallMsPerFile: { dispatch: wallPerFile('dispatch'), completion: wallPerFile('completion') },
      isolatedLatency: latencySummary(isolated),
      awsCalls,
      motoWriteProbe,
      functionCpuMsPerFile: round(functionsCpu / n),
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

const WRITE_OPERATION = /^DynamoDB (UpdateItem|PutItem|DeleteItem|TransactWriteItems)\b/;

/** The burst's AWS calls made by the two functions (not by the event-source emulation). */
function functionCalls(o: OverheadSectionResult): OperationTiming[] {
  return o.awsCalls.filter((t) => t.caller === 'dispatch' || t.caller === 'completion');
}

/** The functions' DynamoDB writes by item kind (`ledger`, `semaphore`, …; `unknown` if unnamed). */
function writesByKind(o: OverheadSectionResult): Map<string, number> {
  const byKind = new Map<string, number>();
  for (const t of functionCalls(o).filter((c) => WRITE_OPERATION.test(c.operation))) {
    const kind = /\((.+)\)$/.exec(t.operation)?.[1] ?? 'unknown';
    byKind.set(kind, (byKind.get(kind) ?? 0) + t.calls);
  }
  return byKind;
}

/** AWS calls of the functions per delivered file, from the overhead section's timing proxy. */
export interface CallsPerFile {
  /** DynamoDB writes of every kind, and split by the item written (ledger, semaphore, breaker, …). */
  readonly writes: number;
  readonly writesByKind: Readonly<Record<string, number>>;
  /** Calls that deliver the file (ledger, S3 reads, secrets, queues, breaker) … */
  readonly delivery: number;
  /** … and those that announce its outcome to the producer (event, result document, tags). */
  readonly announcement: number;
  readonly all: number;
}

export function callsPerFile(o: OverheadSectionResult): CallsPerFile {
  const perFile = (calls: number) => round(calls / Math.max(1, o.completed), 2);
  const fromFunctions = functionCalls(o);
  const byKind = writesByKind(o);
  const sum = (list: readonly OperationTiming[]) => list.reduce((total, t) => total + t.calls, 0);
  const announcement = sum(fromFunctions.filter((t) => isAnnouncement(t.operation)));
  const all = sum(fromFunctions);
  return {
    writes: perFile([...byKind.values()].reduce((total, calls) => total + calls, 0)),
    writesByKind: Object.fromEntries([...byKind].map(([kind, calls]) => [kind, perFile(calls)])),
    delivery: perFile(all - announcement),
    announcement: perFile(announcement),
    all: perFile(all),
  };
}

/** DynamoDB writes and AWS calls per delivered file. */
export function overheadTargets(o: OverheadSectionResult | undefined): TargetResult[] {
  const ids = [
    ['writes-per-file', 'DynamoDB writes per delivered file ≤ 3'],
    ['calls-per-file', 'AWS calls per delivered file, all kinds ≤ 8'],
  ] as const;
  const counted = o ? callsPerFile(o) : undefined;
  if (!o || !counted || counted.all === 0) {
    // No overhead section, or the timing proxy attributed no call to a function process.
    return ids.map(([id, target]) => ({
      id,
      target,
      status: 'not measured' as const,
      detail: o
        ? 'the timing proxy attributed no AWS call to the function processes'
        : 'overhead section not run',
    }));
  }
  const kinds = Object.entries(counted.writesByKind)
    .sort((a, b) => b[1] - a[1])
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ');
  return [
    {
      id: ids[0][0],
      target: ids[0][1],
      status: counted.writes <= 3 ? 'met' : 'missed',
      detail: `${counted.writes} writes per file (${kinds}) over ${o.completed} files (every route, burst)`,
    },
    {
      id: ids[1][0],
      target: ids[1][1],
      status: counted.all <= 8 ? 'met' : 'missed',
      detail:
        `${counted.all} calls per file: ${counted.delivery} to deliver, ${counted.announcement} to announce the outcome ` +
        `(event, result document, tags) over ${o.completed} files (every route, burst; drop → COMPLETED: a polled ` +
        `route's status checks, verdict and announcement come after the run and are not counted)`,
    },
  ];
}

/**
 * The burst's DynamoDB writes per second (every kind: they share the table's capacity) next to what
 * moto takes from 10 concurrent writers when timed directly: how close files/s came to the embedded
 * AWS's own write capacity.
 */
function writeCapacity(o: OverheadSectionResult): string | undefined {
  const probe = o.motoWriteProbe?.find((p) => p.concurrency === 10);
  const writes = [...writesByKind(o).values()].reduce((a, b) => a + b, 0);
  const seconds = o.wallMs / 1000;
  if (!probe || !(probe.opsPerSecond > 0) || writes === 0 || !(seconds > 0)) return undefined;
  const perSecond = writes / seconds;
  return (
    `Against moto's own write capacity: at ${o.filesPerSecond.toFixed(2)} files/s the functions made ${perSecond.toFixed(1)} ` +
    `DynamoDB writes/s during the burst (${writes} in ${seconds.toFixed(1)} s), ` +
    `${pct(perSecond / probe.opsPerSecond)} of the ${probe.opsPerSecond} writes/s moto takes from ${probe.concurrency} ` +
    `concurrent writers timed directly after the burst (p50 ${probe.p50Ms} ms a write).`
  );
}

export function renderOverhead(o: OverheadSectionResult | undefined): string[] {
  if (!o) return [];
  const out: string[] = [
    '',
    `### Per-file overhead: ${o.files} small files through the whole local pipeline`,
    '',
    table(
      [
        'Files',
        'Completed',
        'Files/s',
        'Latency p50 ms',
        'Latency p95 ms',
        'Max ms',
        'Isolated p50 ms',
        'Isolated p95 ms',
      ],
      [
        [
          o.files,
          o.completed,
          o.filesPerSecond.toFixed(2),
          fixed(o.latency.p50Ms),
          fixed(o.latency.p95Ms),
          fixed(o.latency.maxMs),
          fixed(o.isolatedLatency.p50Ms),
          fixed(o.isolatedLatency.p95Ms),
        ],
      ],
    ),
    '',
    'Latency by route (burst):',
    '',
    table(
      ['Route', 'n', 'p50 ms', 'p95 ms'],
      Object.entries(o.latencyByRoute).map(([id, l]) => [id, l.n, fixed(l.p50Ms), fixed(l.p95Ms)]),
    ),
    '',
    "Where a file's time goes (medians of ledger timestamps, burst):",
    '',
    table(
      ['Drop → dispatch starts', 'Dispatch (lease → uploaded)', 'Uploaded → COMPLETED'],
      [[fixed(o.legs.dropToDispatchStartMs), fixed(o.legs.dispatchMs), fixed(o.legs.uploadedToCompletedMs)]],
    ),
  ];
  const inv = o.invocations;
  const wall = o.functionWallMsPerFile;
  const functionTime = [
    wall
      ? `invocation wall time dispatch ${fixed(wall.dispatch)} ms, completion ${fixed(wall.completion)} ms`
      : '',
    o.functionCpuMsPerFile === undefined
      ? ''
      : `CPU of the function processes ${fixed(o.functionCpuMsPerFile)} ms`,
  ].filter((part) => part !== '');
  out.push(
    '',
    [
      functionTime.length > 0 ? `Per file: ${functionTime.join('; ')}.` : '',
      `The functions wrote ${o.logLinesPerFile} log lines (${(o.logBytesPerFile / 1024).toFixed(1)} KB) per file.`,
      `Invocations: ${inv.dispatch} dispatch${Number.isFinite(inv.medianWarmDispatchMs) ? ` (warm median ${fixed(inv.medianWarmDispatchMs)} ms)` : ''}, ` +
        `${inv.completion} completion, ${inv.coldStarts} cold starts.`,
    ]
      .filter((sentence) => sentence !== '')
      .join(' '),
  );
  const capacity = writeCapacity(o);
  if (capacity) out.push('', capacity);
  out.push(
    '',
    'AWS calls of the functions during the burst:',
    '',
    table(
      ['Caller', 'Operation', 'Calls', 'Per file', 'Mean ms'],
      functionCalls(o).map((c) => [
        c.caller,
        c.operation,
        c.calls,
        (c.calls / Math.max(o.completed, 1)).toFixed(2),
        c.meanMs.toFixed(1),
      ]),
    ),
  );
  return out;
}
