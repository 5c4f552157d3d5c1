import type { z } from 'zod';
import type { AnyVendorAdapter } from '../../vendors/types';
import { PARSE_ONCE } from '../env';
import { RouteConfigError } from '../errors';
import { filterPrefixOf, segmentsOf } from './match';
import {
  type ResolvedRoute,
  type ResolvedRoutesDocument,
  ResolvedRoutesSchema,
  type Route,
  RouteFileSchema,
} from './schema';

export type AdapterLookup = (vendor: string) => AnyVendorAdapter | undefined;

function formatIssues(where: string, issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return `${where}${path ? `.${path}` : ''}: ${issue.message}`;
  });
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** True for `localhost`, `127.0.0.0/8` and `::1`. */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * Validates a route's options against its vendor's schema, leaving out the fields that named prefix
 * segments will supply per key (they are validated per object at dispatch).
 */
function optionProblems(route: Route, adapter: AnyVendorAdapter): string[] {
  const segments = new Set(segmentsOf(route.prefix));
  const result = adapter.optionsSchema.safeParse(route.options, PARSE_ONCE);
  if (result.success) return [];
  const issues = result.error.issues.filter(
    (issue) => !(issue.path.length > 0 && segments.has(String(issue.path[0]))),
  );
  return formatIssues(`route "${route.id}" options`, issues);
}

function resolveOne(route: Route, stage: string, allowLoopbackHttp: boolean): ResolvedRoute {
  return {
    ...route,
    filterPrefix: filterPrefixOf(route.prefix),
    segments: segmentsOf(route.prefix),
    allowLoopbackHttp,
    stage,
  };
}

/**
 * Reads a route file for a stage: applies the stage's overrides, validates every route against its
 * vendor, and checks the set as S3 will (notification filters on one bucket must not overlap).
 * Throws {@link RouteConfigError} listing every problem.
 */
export function resolveRouteFile(raw: unknown, stage: string, lookup: AdapterLookup): ResolvedRoutesDocument {
  const parsed = RouteFileSchema.safeParse(raw);
  if (!parsed.success) throw new RouteConfigError(formatIssues('routes file', parsed.error.issues));
  const file = parsed.data;
  const problems: string[] = [];

  const stageConfig = file.stages[stage] ?? { allowLoopbackHttp: false, routes: {} };
  const ids = new Set(file.routes.map((r) => r.id));
  for (const id of Object.keys(stageConfig.routes)) {
    if (!ids.has(id)) problems.push(`stage "${stage}" overrides unknown route "${id}"`);
  }

  const routes: Route[] = file.routes.map((route) => {
    const override = stageConfig.routes[route.id];
    if (!override) return route;
    return {
      ...route,
      ...(override.baseUrl !== undefined && { baseUrl: override.baseUrl }),
      ...(override.secretId !== undefined && { secretId: override.secretId }),
      ...(override.uploadHostAllowList !== undefined && {
        uploadHostAllowList: override.uploadHostAllowList,
      }),
      options: { ...route.options, ...override.options },
    };
  });

  problems.push(...checkRouteSet(routes, stageConfig.allowLoopbackHttp, lookup));
  if (problems.length > 0) throw new RouteConfigError(problems);
  return { stage, allowLoopbackHttp: stageConfig.allowLoopbackHttp, routes };
}

/** Checks a list of routes (after overrides): ids, prefixes, vendors, options, URLs. */
export function checkRouteSet(
  routes: readonly Route[],
  allowLoopbackHttp: boolean,
  lookup: AdapterLookup,
): string[] {
  const problems: string[] = [];
  const seenIds = new Map<string, number>();
  routes.forEach((route, i) => {
    const prior = seenIds.get(route.id);
    if (prior !== undefined)
      problems.push(`routes[${i}]: duplicate route id "${route.id}" (also routes[${prior}])`);
    else seenIds.set(route.id, i);

    const adapter = lookup(route.vendor);
    if (!adapter) {
      problems.push(`route "${route.id}": unknown vendor "${route.vendor}"`);
    } else {
      problems.push(...optionProblems(route, adapter));
      problems.push(
        ...(adapter.checkRoute?.(route, allowLoopbackHttp) ?? []).map((p) => `route "${route.id}": ${p}`),
      );
    }

    const base = new URL(route.baseUrl);
    if (base.protocol !== 'https:') {
      const loopback = base.protocol === 'http:' && isLoopbackHost(base.hostname);
      if (!loopback)
        problems.push(`route "${route.id}": baseUrl must be https (got ${base.protocol}//${base.host})`);
      else if (!allowLoopbackHttp) {
        problems.push(
          `route "${route.id}": baseUrl is loopback http but the stage does not set allowLoopbackHttp`,
        );
      }
    }
    const names = segmentsOf(route.prefix);
    const dup = names.find((n, j) => names.indexOf(n) !== j);
    if (dup) problems.push(`route "${route.id}": prefix names segment {${dup}} twice`);
  });

  // S3 refuses notification configurations whose prefix filters overlap for the same event type,
  // so two routes whose literal prefixes nest cannot both be wired to the bucket.
  for (let i = 0; i < routes.length; i++) {
    for (let j = i + 1; j < routes.length; j++) {
      const a = routes[i] as Route;
      const b = routes[j] as Route;
      if (a.prefix === b.prefix) {
        problems.push(`routes "${a.id}" and "${b.id}": duplicate prefix "${a.prefix}"`);
        continue;
      }
      const fa = filterPrefixOf(a.prefix);
      const fb = filterPrefixOf(b.prefix);
      if (fa.startsWith(fb) || fb.startsWith(fa)) {
        problems.push(
          `routes "${a.id}" and "${b.id}": prefixes "${a.prefix}" and "${b.prefix}" overlap (S3 notification filters "${fa}" and "${fb}" would both match)`,
        );
      }
    }
  }
  return problems;
}

/** Turns a resolved-routes document (as compiled into the bundle) into routes the functions use. */
export function routesFromDocument(raw: unknown): ResolvedRoute[] {
  const doc = ResolvedRoutesSchema.safeParse(raw, PARSE_ONCE);
  if (!doc.success) throw new RouteConfigError(formatIssues('resolved routes', doc.error.issues));
  return doc.data.routes.map((r) => resolveOne(r, doc.data.stage, doc.data.allowLoopbackHttp));
}
