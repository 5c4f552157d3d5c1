import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { drop } from '../cli/operations';
import type { Target } from '../cli/target';
import type { ResolvedRoute } from '../functions/shared/routes/schema';
import { type DeliveryRecord, TERMINAL_STATES } from '../functions/shared/state/ledger';
import { adapterFor } from '../functions/vendors/registry';
import type { LocalPipeline } from './pipeline';
import { formatBytes, green, red, table, vendorId, type Watcher } from './ui';

export interface DemoRow {
  readonly file: string;
  readonly route: string;
  readonly bytes: number;
  readonly mbPerSecond: number | undefined;
  readonly vendorId: string;
  readonly finalState: string;
  readonly seconds: number;
  readonly ok: boolean;
}

/** Every file under `dir`, as [path, key relative to dir]. */
export function exampleFiles(dir: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const full = path.join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.push([full, path.relative(dir, full).split(path.sep).join('/')]);
    }
  };
  walk(dir);
  return out;
}

/**
 * A delivery is settled when nothing more will happen to it: a terminal ledger state, and for
 * routes whose vendor publishes job status, the vendor's own terminal state.
 */
export function settled(
  record: DeliveryRecord | undefined,
  routes: readonly ResolvedRoute[],
): { done: boolean; ok: boolean; state: string } {
  if (!record) return { done: false, ok: false, state: 'NOT SEEN' };
  const state = record.state;
  if (!TERMINAL_STATES.has(state)) return { done: false, ok: false, state };
  if (state === 'DUPLICATE') return { done: true, ok: true, state: 'DUPLICATE (vendor already had it)' };
  if (state !== 'COMPLETED')
    return { done: true, ok: false, state: `${state} ${record.reason ?? ''}`.trim() };
  const route = routes.find((r) => r.id === record.routeId);
  const polls = route?.pollStatus && adapterFor(route.vendor)?.status !== undefined;
  if (!polls)
    return {
      done: true,
      ok: true,
      state: `COMPLETED${record.vendorState ? ` (${record.vendorState})` : ''}`,
    };
  if (record.vendorPhase === 'succeeded')
    return { done: true, ok: true, state: `COMPLETED → ${record.vendorState}` };
  if (record.vendorPhase === 'failed')
    return { done: true, ok: false, state: `VENDOR FAILED ${record.vendorState}` };
  return { done: false, ok: false, state: `COMPLETED, vendor ${record.vendorState ?? 'pending'}` };
}

/** Drops every example file, waits until each settles (bounded), and returns one row per file. */
export async function runDemo(
  pipeline: LocalPipeline,
  target: Target,
  watcher: Watcher,
  dir: string,
  timeoutMs = 120_000,
): Promise<DemoRow[]> {
  const files = exampleFiles(dir);
  const dropped = await Promise.all(
    files.map(async ([file, key]) => {
      const started = Date.now();
      const { bytes } = await drop(target, file, key);
      return { file, key, bytes, started };
    }),
  );
  const rows = new Map<string, DemoRow>();
  const deadline = Date.now() + timeoutMs;
  while (rows.size < dropped.length && Date.now() < deadline) {
    for (const d of dropped) {
      if (rows.has(d.key)) continue;
      const [record] = await pipeline.ledger.listByKey(target.resources.bucket, d.key);
      const s = settled(record, pipeline.routes);
      if (!s.done) continue;
      const view = watcher.latest(d.key);
      rows.set(d.key, {
        file: d.key,
        route: record?.routeId ?? '-',
        bytes: d.bytes,
        mbPerSecond: view?.mbPerSecond,
        vendorId: vendorId(record?.refs as Record<string, unknown> | undefined),
        finalState: s.state,
        seconds: (Date.now() - d.started) / 1000,
        ok: s.ok,
      });
    }
    if (rows.size < dropped.length) await new Promise((r) => setTimeout(r, 250));
  }
  for (const d of dropped) {
    if (rows.has(d.key)) continue;
    const [record] = await pipeline.ledger.listByKey(target.resources.bucket, d.key);
    rows.set(d.key, {
      file: d.key,
      route: record?.routeId ?? '-',
      bytes: d.bytes,
      mbPerSecond: undefined,
      vendorId: vendorId(record?.refs as Record<string, unknown> | undefined),
      finalState: `TIMED OUT in ${settled(record, pipeline.routes).state}`,
      seconds: (Date.now() - d.started) / 1000,
      ok: false,
    });
  }
  return dropped.map((d) => rows.get(d.key) as DemoRow);
}

export function demoTable(rows: readonly DemoRow[]): string {
  return table(
    ['file', 'route', 'bytes', 'MB/s', 'vendor id', 'final state', 'time'],
    rows.map((r) => [
      r.file,
      r.route,
      formatBytes(r.bytes),
      r.mbPerSecond === undefined ? '-' : r.mbPerSecond.toFixed(1),
      r.vendorId,
      r.ok ? green(r.finalState) : red(r.finalState),
      `${r.seconds.toFixed(1)} s`,
    ]),
    { middle: [0] },
  );
}
