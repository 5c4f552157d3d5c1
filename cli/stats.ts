import type { DeliveryRecord } from '../functions/shared/state/ledger';
import type { Breaker } from './ledger-admin';
import type { Target } from './target';

/**
 * Per-vendor figures over a window, computed from the ledger: the deliveries created in the window,
 * read per route from the route index (never a scan). What the console's vendor charts show.
 */

/** Windows the figures are offered for, with the bucket each chart point covers. */
export const WINDOWS = {
  '1h': { ms: 3_600_000, bucketMs: 5 * 60_000 },
  '6h': { ms: 6 * 3_600_000, bucketMs: 15 * 60_000 },
  '24h': { ms: 24 * 3_600_000, bucketMs: 3_600_000 },
  '7d': { ms: 7 * 24 * 3_600_000, bucketMs: 6 * 3_600_000 },
} as const;
export type WindowName = keyof typeof WINDOWS;

/** Deliveries read per route at most; a route with more in the window is marked truncated. */
const MAX_PER_ROUTE = 20_000;

export interface VendorBucket {
  /** Start of the bucket (ISO-8601). */
  readonly at: string;
  /** Files dropped in the bucket, per hour. */
  readonly filesPerHour: number;
  /** Of those, failed (ledger FAILED, or the vendor's job failed), per hour. */
  readonly failedPerHour: number;
  /** Bytes of the files dropped in the bucket that completed, per second of the bucket. */
  readonly bytesPerSecond: number;
  /** Drop → completed latency of the bucket's completed files, ms (null: none completed). */
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
}

export interface VendorStats {
  readonly vendor: string;
  readonly routes: readonly string[];
  readonly files: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Parked for an operator (COMPLETION_UNCERTAIN). */
  readonly attention: number;
  readonly inFlight: number;
  /** failed / (succeeded + failed); null with nothing settled. */
  readonly failureRate: number | null;
  readonly filesPerHour: number;
  /** Completed bytes per second over the window. */
  readonly bytesPerSecond: number;
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  readonly buckets: readonly VendorBucket[];
  /** The vendor's accounts' circuit breakers (none until one has tripped). */
  readonly breakers: readonly Breaker[];
  /** Some route had more deliveries in the window than were read. */
  readonly truncated: boolean;
}

export interface StatsReport {
  readonly window: WindowName;
  readonly from: string;
  readonly to: string;
  readonly bucketMs: number;
  readonly vendors: readonly VendorStats[];
}

/** The `q` quantile (0..1) of sorted numbers, nearest rank. */
export function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? null;
}

type Verdict = 'succeeded' | 'failed' | 'attention' | 'running';

/** How a delivery stands: the ledger's outcome once decided, else what its state says. */
function verdictOf(r: DeliveryRecord): Verdict {
  if (r.outcome) return r.outcome;
  if (r.state === 'FAILED') return 'failed';
  if (r.state === 'COMPLETION_UNCERTAIN') return 'attention';
  if (r.state === 'DUPLICATE') return 'succeeded';
  // COMPLETED awaiting the vendor's verdict, or not yet delivered.
  return 'running';
}

/** Drop (ledger creation) → completed, ms: for a delivery the vendor accepted. */
export function latencyMs(r: DeliveryRecord): number | undefined {
  if (r.state !== 'COMPLETED' && r.state !== 'DUPLICATE') return undefined;
  const end = Date.parse(r.completedAt ?? '');
  const start = Date.parse(r.createdAt);
  return Number.isFinite(end) && Number.isFinite(start) ? Math.max(0, end - start) : undefined;
}

/** The figures of one vendor's deliveries (pure: the console's charts and the tests use it). */
export function summarize(
  vendor: string,
  routes: readonly string[],
  records: readonly DeliveryRecord[],
  window: { from: number; to: number; bucketMs: number },
  extra: { breakers?: readonly Breaker[]; truncated?: boolean } = {},
): VendorStats {
  const count = Math.max(1, Math.ceil((window.to - window.from) / window.bucketMs));
  const buckets = Array.from({ length: count }, () => ({
    files: 0,
    failed: 0,
    bytes: 0,
    latencies: [] as number[],
  }));
  const latencies: number[] = [];
  const tally = { succeeded: 0, failed: 0, attention: 0, running: 0 };
  let bytes = 0;
  for (const r of records) {
    const created = Date.parse(r.createdAt);
    if (!(created >= window.from && created < window.to)) continue;
    const bucket = buckets[Math.min(count - 1, Math.floor((created - window.from) / window.bucketMs))];
    const verdict = verdictOf(r);
    tally[verdict]++;
    if (!bucket) continue;
    bucket.files++;
    if (verdict === 'failed') bucket.failed++;
    const latency = latencyMs(r);
    if (latency !== undefined) {
      latencies.push(latency);
      bucket.latencies.push(latency);
      bucket.bytes += r.size ?? 0;
      bytes += r.size ?? 0;
    }
  }
  const perHour = 3_600_000 / window.bucketMs;
  const sort = (xs: number[]) => xs.sort((a, b) => a - b);
  sort(latencies);
  const files = tally.succeeded + tally.failed + tally.attention + tally.running;
  const settled = tally.succeeded + tally.failed;
  return {
    vendor,
    routes,
    files,
    succeeded: tally.succeeded,
    failed: tally.failed,
    attention: tally.attention,
    inFlight: tally.running,
    failureRate: settled === 0 ? null : tally.failed / settled,
    filesPerHour: (files * 3_600_000) / (window.to - window.from),
    bytesPerSecond: (bytes * 1000) / (window.to - window.from),
    p50Ms: quantile(latencies, 0.5),
    p95Ms: quantile(latencies, 0.95),
    buckets: buckets.map((b, i) => {
      const sorted = sort(b.latencies);
      return {
        at: new Date(window.from + i * window.bucketMs).toISOString(),
        filesPerHour: b.files * perHour,
        failedPerHour: b.failed * perHour,
        bytesPerSecond: (b.bytes * 1000) / window.bucketMs,
        p50Ms: quantile(sorted, 0.5),
        p95Ms: quantile(sorted, 0.95),
      };
    }),
    breakers: extra.breakers ?? [],
    truncated: extra.truncated ?? false,
  };
}

/** Every delivery of a route created in [from, to), newest first, up to {@link MAX_PER_ROUTE}. */
async function routeWindow(
  target: Target,
  routeId: string,
  from: string,
  to: string,
): Promise<{ records: DeliveryRecord[]; truncated: boolean }> {
  const records: DeliveryRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await target.ledger.listDeliveries({ routeIds: [routeId], from, to, limit: 500, cursor });
    records.push(...page.items);
    cursor = page.next;
  } while (cursor && records.length < MAX_PER_ROUTE);
  return { records, truncated: cursor !== undefined };
}

/** The figures of every vendor of the stack over a window ending now. */
export async function vendorStats(target: Target, name: WindowName, now = Date.now()): Promise<StatsReport> {
  const { ms, bucketMs } = WINDOWS[name];
  // Buckets end on a boundary, so a chart's points do not shift as time passes within a bucket.
  const to = Math.ceil(now / bucketMs) * bucketMs;
  const from = to - ms;
  const fromIso = new Date(from).toISOString();
  const toIso = new Date(to).toISOString();
  const [reads, breakers] = await Promise.all([
    Promise.all(target.routes.map((r) => routeWindow(target, r.id, fromIso, toIso))),
    target.ledger.listBreakers(),
  ]);
  const vendors = [...new Set(target.routes.map((r) => r.vendor))].sort();
  return {
    window: name,
    from: fromIso,
    to: toIso,
    bucketMs,
    vendors: vendors.map((vendor) => {
      const indexes = target.routes.flatMap((r, i) => (r.vendor === vendor ? [i] : []));
      return summarize(
        vendor,
        indexes.map((i) => target.routes[i]?.id ?? ''),
        indexes.flatMap((i) => reads[i]?.records ?? []),
        { from, to, bucketMs },
        {
          breakers: breakers.filter((b) => b.vendor === vendor),
          truncated: indexes.some((i) => reads[i]?.truncated),
        },
      );
    }),
  };
}
