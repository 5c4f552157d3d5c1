import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadSourceMap, packageOf, type SourceLookup } from './sourcemap';
import { round } from './stats';

/** Where a profile's CPU time went, by package and by function (self time). */
export interface ProfileSummary {
  readonly name: string;
  /** Time sampled (inside the window when one was given), ms. */
  readonly totalMs: number;
  /** The part of it the thread was not idle, ms; the shares below are of this. */
  readonly busyMs: number;
  /** Share of busy time in this project's own source files (functions/, bench/ …), percent. */
  readonly projectPct: number;
  /** True when only the measured job's samples were counted (not process start-up). */
  readonly windowed: boolean;
  readonly byPackage: ReadonlyArray<{ readonly what: string; readonly ms: number; readonly pct: number }>;
  readonly byFunction: ReadonlyArray<{ readonly what: string; readonly ms: number; readonly pct: number }>;
}

interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    hitCount?: number;
  }>;
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** A stretch of the process's life in µs of the monotonic clock V8's profiler uses (process.hrtime). */
export interface ProfileWindow {
  readonly fromUs: number;
  readonly toUs: number;
}

/** Self time per profile node id, ms, from the sample stream (optionally only inside `window`). */
function selfTimes(
  profile: CpuProfile,
  window: ProfileWindow | undefined,
): { ms: Map<number, number>; windowed: boolean } {
  const ms = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let at = profile.startTime;
  let inside = 0;
  for (let i = 0; i < samples.length; i++) {
    const delta = deltas[i] ?? 0;
    at += delta;
    if (window && (at < window.fromUs || at > window.toUs)) continue;
    const id = samples[i];
    if (id === undefined) continue;
    inside++;
    ms.set(id, (ms.get(id) ?? 0) + delta / 1000);
  }
  if (window && inside === 0) return selfTimes(profile, undefined);
  return { ms, windowed: window !== undefined };
}

/** The one `.cpuprofile` a child wrote into `dir`. */
export function profileIn(dir: string): string | undefined {
  try {
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    return file === undefined ? undefined : path.join(dir, file);
  } catch {
    return undefined;
  }
}

/**
 * Self time per package and per function of a V8 CPU profile. Frames of `bundle` are mapped back to
 * their original sources through its source map (`map`, default the bundle's own `.map`), so a
 * minified bundle still names zod, the SDK or our own files.
 */
export function summarizeProfile(
  name: string,
  /** A `.cpuprofile` file, or its JSON text. */
  profileFile: string,
  bundle: string | { readonly file: string; readonly map: string },
  window?: ProfileWindow,
  top = 12,
): ProfileSummary {
  const bundleFile = typeof bundle === 'string' ? bundle : bundle.file;
  const mapFile = typeof bundle === 'string' ? `${bundle}.map` : bundle.map;
  const text = profileFile.startsWith('{') ? profileFile : readFileSync(profileFile, 'utf8');
  const profile = JSON.parse(text) as CpuProfile;
  const bundleUrl = pathToFileURL(bundleFile).href;
  let lookup: SourceLookup | undefined;
  try {
    lookup = loadSourceMap(mapFile);
  } catch {
    lookup = undefined;
  }
  const self = selfTimes(profile, window);
  const totalMs = [...self.ms.values()].reduce((sum, v) => sum + v, 0);
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const node of profile.nodes) {
    const ms = self.ms.get(node.id) ?? 0;
    if (ms === 0) continue;
    const { functionName, url, lineNumber, columnNumber } = node.callFrame;
    let where: string;
    if (url === '') where = functionName.startsWith('(') ? functionName : '(native)';
    else if (url === bundleUrl && lineNumber === 0 && columnNumber === 0) {
      // esbuild hoists every ES module into one scope: the bundle's top-level code is one frame.
      where = '(bundle top-level code)';
    } else if (url.startsWith('node:')) where = 'node internals';
    else if (url === bundleUrl && lookup) {
      const source = lookup.sourceAt(lineNumber, columnNumber);
      where =
        source === null
          ? '(unmapped: dependency code under a trimmed map)'
          : source === undefined
            ? '(esbuild runtime: __commonJS/__esm module wrappers)'
            : packageOf(source);
    } else where = url.startsWith('file:') ? path.basename(url) : url;
    byPackage.set(where, (byPackage.get(where) ?? 0) + ms);
    const fn = `${functionName || '(anonymous)'} [${where}]`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms);
  }
  const busyMs = totalMs - (byPackage.get('(idle)') ?? 0);
  const projectMs = [...byPackage.entries()]
    .filter(([what]) => what.startsWith('project:'))
    .reduce((sum, [, ms]) => sum + ms, 0);
  const ranked = (m: Map<string, number>) =>
    [...m.entries()]
      .filter(([what]) => !what.startsWith('(idle)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([what, ms]) => ({ what, ms: round(ms), pct: round((ms / Math.max(busyMs, 1e-9)) * 100) }));
  return {
    name,
    totalMs: round(totalMs),
    busyMs: round(busyMs),
    projectPct: round((projectMs / Math.max(busyMs, 1e-9)) * 100),
    windowed: self.windowed,
    byPackage: ranked(byPackage),
    byFunction: ranked(byFunction),
  };
}
