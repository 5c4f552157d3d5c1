import type { ResolvedRoute } from './schema';

const SEGMENT = /\{([A-Za-z][A-Za-z0-9]*)\}/g;

/** Literal part before the first `{segment}`. */
export function filterPrefixOf(prefix: string): string {
  const i = prefix.indexOf('{');
  return i === -1 ? prefix : prefix.slice(0, i);
}

/** Names of the `{segments}` of a prefix, in order. */
export function segmentsOf(prefix: string): string[] {
  return [...prefix.matchAll(SEGMENT)].map((m) => m[1] as string);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A regular expression matching keys under `prefix`, capturing each segment (one path component, non-empty). */
export function compilePrefix(prefix: string): RegExp {
  let source = '^';
  let last = 0;
  for (const m of prefix.matchAll(SEGMENT)) {
    source += escapeRegExp(prefix.slice(last, m.index));
    source += '([^/]+)';
    last = (m.index ?? 0) + m[0].length;
  }
  source += escapeRegExp(prefix.slice(last));
  return new RegExp(source, 'u');
}

/** What matching needs of a route. */
export type RoutePattern = Pick<ResolvedRoute, 'id' | 'prefix' | 'filterPrefix' | 'segments'>;

export interface RouteMatch<R extends RoutePattern = ResolvedRoute> {
  readonly route: R;
  /** Values of the named prefix segments. */
  readonly segments: Readonly<Record<string, string>>;
}

/** Specificity used to break ties: the longest literal prefix, then the longest pattern. */
function specificity(route: RoutePattern): [number, number] {
  return [route.filterPrefix.length, route.prefix.length];
}

/**
 * Finds the route for an object key: the longest matching prefix wins. Keys are matched after URL
 * decoding. Returns `undefined` when no route matches.
 */
export class RouteMatcher<R extends RoutePattern = ResolvedRoute> {
  private readonly compiled: ReadonlyArray<{ route: R; pattern: RegExp }>;

  constructor(routes: readonly R[]) {
    this.compiled = [...routes]
      .sort((a, b) => {
        const [a1, a2] = specificity(a);
        const [b1, b2] = specificity(b);
        return b1 - a1 || b2 - a2;
      })
      .map((route) => ({ route, pattern: compilePrefix(route.prefix) }));
  }

  match(key: string): RouteMatch<R> | undefined {
    for (const { route, pattern } of this.compiled) {
      const m = pattern.exec(key);
      if (!m) continue;
      const segments: Record<string, string> = {};
      route.segments.forEach((name, i) => {
        segments[name] = m[i + 1] as string;
      });
      return { route, segments };
    }
    return undefined;
  }

  get routes(): readonly R[] {
    return this.compiled.map((c) => c.route);
  }

  byId(id: string): R | undefined {
    return this.compiled.find((c) => c.route.id === id)?.route;
  }
}
