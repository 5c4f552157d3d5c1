import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RouteConfigError } from '../../../../functions/shared/errors';
import { resolveRouteFile, routesFromDocument } from '../../../../functions/shared/routes/load';
import { RouteMatcher } from '../../../../functions/shared/routes/match';
import type { ResolvedRoute, RouteFileInput } from '../../../../functions/shared/routes/schema';
import { decodeS3Key } from '../../../../functions/shared/s3-event';
import type { AnyVendorAdapter } from '../../../../functions/vendors/types';

/** load.ts reads only `name` and `optionsSchema` of an adapter. */
function fakeAdapter(name: string, optionsSchema: z.ZodType): AnyVendorAdapter {
  return { name, optionsSchema } as unknown as AnyVendorAdapter;
}

const fakeAdapters = new Map<string, AnyVendorAdapter>([
  [
    'gst',
    fakeAdapter(
      'gst',
      z.object({
        templateType: z.enum(['sales', 'purchase']),
        templateId: z.string().regex(/^[0-9a-f]{24}$/),
      }),
    ),
  ],
  [
    'catalog',
    fakeAdapter(
      'catalog',
      z.object({ catalogId: z.string().regex(/^[a-z0-9-]+$/), completedBy: z.string() }),
    ),
  ],
  ['photos', fakeAdapter('photos', z.object({ assetId: z.string().min(1) }))],
]);
const lookup = (vendor: string) => fakeAdapters.get(vendor);

type RouteInput = RouteFileInput['routes'][number];

function aRoute(overrides: Partial<RouteInput> = {}): RouteInput {
  return {
    id: 'cleartax-sales',
    prefix: 'cleartax/sales/',
    vendor: 'gst',
    secretId: 'vendor-ingest/cleartax',
    baseUrl: 'https://api-sandbox.clear.in',
    uploadHostAllowList: ['storage.clear.in'],
    options: { templateType: 'sales', templateId: '618a5623836651c01c1498ad' },
    ...overrides,
  };
}

function problemsOf(act: () => unknown): readonly string[] {
  try {
    act();
  } catch (error) {
    if (error instanceof RouteConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a RouteConfigError');
}

/** Routes as the functions see them, built from bare prefixes (ids r0, r1 …). */
function resolvedRoutes(prefixes: readonly string[]): ResolvedRoute[] {
  return routesFromDocument({
    stage: 'test',
    allowLoopbackHttp: false,
    routes: prefixes.map((prefix, i) => aRoute({ id: `r${i}`, prefix })),
  });
}

describe('resolveRouteFile', () => {
  it('resolves a valid file into the routes with their defaults', () => {
    const file: RouteFileInput = {
      routes: [
        aRoute(),
        aRoute({
          id: 'catalogs',
          prefix: 'clevertap/{catalogId}/',
          vendor: 'catalog',
          options: { completedBy: 'vendor-ingest' },
        }),
      ],
    };

    const doc = resolveRouteFile(file, 'dev', lookup);

    expect(doc.stage).toBe('dev');
    expect(doc.allowLoopbackHttp).toBe(false);
    expect(doc.routes.map((r) => r.id)).toEqual(['cleartax-sales', 'catalogs']);
    expect(doc.routes[0]).toMatchObject({ pollStatus: true, partConcurrency: 4 });
  });

  it('reports every problem of a file at once', () => {
    const file: RouteFileInput = {
      routes: [
        aRoute({ id: 'dup', prefix: 'one/' }),
        aRoute({ id: 'dup', prefix: 'two/' }),
        aRoute({ id: 'same-a', prefix: 'same/' }),
        aRoute({ id: 'same-b', prefix: 'same/' }),
        aRoute({ id: 'outer', prefix: 'a/' }),
        aRoute({ id: 'inner', prefix: 'a/b/' }),
        aRoute({ id: 'nobody', prefix: 'nobody/', vendor: 'no-such-vendor' }),
        aRoute({ id: 'bad-options', prefix: 'bad/', options: { templateType: 'returns' } }),
        aRoute({ id: 'plain-http', prefix: 'plain/', baseUrl: 'http://api.example.com' }),
      ],
      stages: { dev: { routes: { ghost: { secretId: 'x' } } } },
    };

    const problems = problemsOf(() => resolveRouteFile(file, 'dev', lookup));

    const expected = [
      /stage "dev" overrides unknown route "ghost"/,
      /duplicate route id "dup"/,
      /"same-a" and "same-b": duplicate prefix "same\/"/,
      /"outer" and "inner": prefixes "a\/" and "a\/b\/" overlap/,
      /route "nobody": unknown vendor "no-such-vendor"/,
      /route "bad-options" options\.templateType/,
      /route "bad-options" options\.templateId/,
      /route "plain-http": baseUrl must be https/,
    ];
    for (const pattern of expected)
      expect(
        problems.some((p) => pattern.test(p)),
        String(pattern),
      ).toBe(true);
    expect(problems).toHaveLength(expected.length);
  });

  it('lists the problems in the error message', () => {
    const file: RouteFileInput = {
      routes: [aRoute({ vendor: 'nope' }), aRoute({ id: 'other', prefix: 'x/', vendor: 'nope' })],
    };

    const act = () => resolveRouteFile(file, 'dev', lookup);

    expect(act).toThrow(/route configuration is invalid \(2 problems\)/);
    expect(act).toThrow(/route "other": unknown vendor "nope"/);
  });

  it('reports a literal prefix nested under a segment route as overlapping', () => {
    const file: RouteFileInput = {
      routes: [
        aRoute({
          id: 'catalogs',
          prefix: 'clevertap/{catalogId}/',
          vendor: 'catalog',
          options: { completedBy: 'x' },
        }),
        aRoute({ id: 'special', prefix: 'clevertap/special/' }),
      ],
    };

    const problems = problemsOf(() => resolveRouteFile(file, 'dev', lookup));

    expect(problems).toEqual([expect.stringMatching(/"catalogs" and "special".*overlap/)]);
  });

  it('does not require at load the option fields that prefix segments supply per key', () => {
    const file: RouteFileInput = {
      routes: [
        aRoute({
          id: 'catalogs',
          prefix: 'clevertap/{catalogId}/',
          vendor: 'catalog',
          options: { completedBy: 'x' },
        }),
        aRoute({ id: 'photos', prefix: 'inspect/{assetId}/', vendor: 'photos', options: {} }),
      ],
    };

    const doc = resolveRouteFile(file, 'dev', lookup);

    expect(doc.routes).toHaveLength(2);
  });

  it('still requires the option fields no segment supplies', () => {
    const file: RouteFileInput = {
      routes: [aRoute({ id: 'catalogs', prefix: 'clevertap/{catalogId}/', vendor: 'catalog', options: {} })],
    };

    const problems = problemsOf(() => resolveRouteFile(file, 'dev', lookup));

    expect(problems).toEqual([expect.stringMatching(/^route "catalogs" options\.completedBy: /)]);
  });

  it('reports a prefix that names the same segment twice', () => {
    const file: RouteFileInput = {
      routes: [
        aRoute({
          id: 'twice',
          prefix: 'c/{catalogId}/{catalogId}/',
          vendor: 'catalog',
          options: { completedBy: 'x' },
        }),
      ],
    };

    const problems = problemsOf(() => resolveRouteFile(file, 'dev', lookup));

    expect(problems).toEqual(['route "twice": prefix names segment {catalogId} twice']);
  });

  it('refuses loopback http unless the stage sets allowLoopbackHttp', () => {
    const file: RouteFileInput = {
      routes: [
        aRoute({ baseUrl: 'http://127.0.0.1:4566' }),
        aRoute({ id: 'v6', prefix: 'v6/', baseUrl: 'http://[::1]:9000' }),
      ],
      stages: { local: { allowLoopbackHttp: true } },
    };

    const problems = problemsOf(() => resolveRouteFile(file, 'dev', lookup));
    const local = resolveRouteFile(file, 'local', lookup);

    expect(problems).toEqual([
      expect.stringMatching(
        /"cleartax-sales": baseUrl is loopback http but the stage does not set allowLoopbackHttp/,
      ),
      expect.stringMatching(/"v6": baseUrl is loopback http but the stage does not set allowLoopbackHttp/),
    ]);
    expect(local.allowLoopbackHttp).toBe(true);
  });

  it.each(['http://api.example.com', 'http://10.0.0.1:8080', 'http://127.example.com', 'ftp://127.0.0.1/'])(
    'refuses base URL %s even when the stage allows loopback http',
    (baseUrl) => {
      const file: RouteFileInput = {
        routes: [aRoute({ baseUrl })],
        stages: { local: { allowLoopbackHttp: true } },
      };

      const problems = problemsOf(() => resolveRouteFile(file, 'local', lookup));

      expect(problems).toEqual([expect.stringMatching(/baseUrl must be https/)]);
    },
  );

  it('applies the stage overrides: baseUrl, secretId, allow-list, and options merged over the route’s', () => {
    const file: RouteFileInput = {
      routes: [aRoute(), aRoute({ id: 'other', prefix: 'other/' })],
      stages: {
        prod: {
          routes: {
            'cleartax-sales': {
              baseUrl: 'https://api.clear.in',
              secretId: 'vendor-ingest/prod/cleartax',
              uploadHostAllowList: ['*.s3.ap-south-1.amazonaws.com'],
              options: { templateId: '60e5613ff71f4a7aeca4336b' },
            },
          },
        },
      },
    };

    const prod = resolveRouteFile(file, 'prod', lookup);
    const dev = resolveRouteFile(file, 'dev', lookup);

    expect(prod.routes[0]).toMatchObject({
      baseUrl: 'https://api.clear.in',
      secretId: 'vendor-ingest/prod/cleartax',
      uploadHostAllowList: ['*.s3.ap-south-1.amazonaws.com'],
      options: { templateType: 'sales', templateId: '60e5613ff71f4a7aeca4336b' },
    });
    expect(prod.routes[1]).toMatchObject({
      baseUrl: 'https://api-sandbox.clear.in',
      secretId: 'vendor-ingest/cleartax',
    });
    expect(dev.routes[0]).toMatchObject({
      baseUrl: 'https://api-sandbox.clear.in',
      secretId: 'vendor-ingest/cleartax',
      options: { templateId: '618a5623836651c01c1498ad' },
    });
  });

  it('checks routes after the stage overrides are applied', () => {
    const file: RouteFileInput = {
      routes: [aRoute()],
      stages: {
        prod: {
          routes: { 'cleartax-sales': { baseUrl: 'http://api.clear.in', options: { templateType: 'x' } } },
        },
      },
    };

    const problems = problemsOf(() => resolveRouteFile(file, 'prod', lookup));

    expect(problems).toEqual([
      expect.stringMatching(/"cleartax-sales" options\.templateType/),
      expect.stringMatching(/"cleartax-sales": baseUrl must be https/),
    ]);
  });

  it('reports schema problems (bad id, bad prefix) as a RouteConfigError', () => {
    const file = { routes: [aRoute({ id: 'Upper_Case', prefix: '/leading-slash/' })] };

    const problems = problemsOf(() => resolveRouteFile(file, 'dev', lookup));

    expect(problems).toEqual([
      expect.stringMatching(/^routes file\.routes\.0\.id: /),
      expect.stringMatching(/^routes file\.routes\.0\.prefix: /),
    ]);
  });
});

describe('RouteMatcher', () => {
  it('captures one path component for a named segment', () => {
    const matcher = new RouteMatcher(resolvedRoutes(['clevertap/{catalogId}/']));

    const match = matcher.match('clevertap/cat-01/2024/list.csv');

    expect(match?.route.id).toBe('r0');
    expect(match?.segments).toEqual({ catalogId: 'cat-01' });
  });

  it('captures every segment of a prefix with several', () => {
    const matcher = new RouteMatcher(resolvedRoutes(['t/{tenant}/x-{kind}/']));

    const match = matcher.match('t/acme/x-daily/file.csv');

    expect(match?.segments).toEqual({ tenant: 'acme', kind: 'daily' });
  });

  it.each(['clevertap/list.csv', 'clevertap//list.csv', 'other/cat-01/list.csv', 'clevertap', ''])(
    'matches no route for %j',
    (key) => {
      const matcher = new RouteMatcher(resolvedRoutes(['clevertap/{catalogId}/', 'cleartax/sales/']));

      const match = matcher.match(key);

      expect(match).toBeUndefined();
    },
  );

  it('lets the longest prefix win, whatever the order of the routes', () => {
    const prefixes = ['data/', 'data/special/', 'data/{feed}/'];
    const forward = new RouteMatcher(resolvedRoutes(prefixes));
    const backward = new RouteMatcher(resolvedRoutes(prefixes).reverse());

    for (const matcher of [forward, backward]) {
      expect(matcher.match('data/special/a.csv')?.route.prefix).toBe('data/special/');
      expect(matcher.match('data/feed-1/a.csv')?.route.prefix).toBe('data/{feed}/');
      expect(matcher.match('data/a.csv')?.route.prefix).toBe('data/');
    }
  });

  it('treats regular-expression characters in a prefix literally', () => {
    const matcher = new RouteMatcher(resolvedRoutes(['a.b+(c)/']));

    expect(matcher.match('a.b+(c)/f.csv')?.route.id).toBe('r0');
    expect(matcher.match('axbb(c)/f.csv')).toBeUndefined();
  });

  it('matches decoded keys, not their notification encoding', () => {
    const matcher = new RouteMatcher(resolvedRoutes(['reports 2024/été/']));
    const encoded = 'reports+2024%2F%C3%A9t%C3%A9%2Fq1.csv';

    expect(matcher.match(decodeS3Key(encoded))?.route.id).toBe('r0');
    expect(matcher.match(encoded)).toBeUndefined();
  });

  it('finds a route by id', () => {
    const matcher = new RouteMatcher(resolvedRoutes(['a/', 'b/']));

    expect(matcher.byId('r1')?.prefix).toBe('b/');
    expect(matcher.byId('r9')).toBeUndefined();
  });
});

/** A path component a prefix may contain literally: no "/" and no braces. */
const component = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }).filter((s) => !/[/{}]/.test(s));
const literalPrefix = fc
  .array(component, { minLength: 1, maxLength: 3 })
  .map((parts) => `${parts.join('/')}/`);
/** Literal prefixes none of which is a prefix of another (as the route file requires). */
const disjointPrefixes = fc
  .uniqueArray(literalPrefix, { minLength: 1, maxLength: 6 })
  .map((all) => all.filter((p, i) => all.every((q, j) => j === i || (!p.startsWith(q) && !q.startsWith(p)))))
  .filter((kept) => kept.length > 0);
const anyKey = fc.string({ unit: 'grapheme', maxLength: 30 });

describe('RouteMatcher (properties)', () => {
  it('returns the route whose prefix a key starts with', () => {
    fc.assert(
      fc.property(disjointPrefixes, fc.nat(), anyKey, (prefixes, pick, rest) => {
        const index = pick % prefixes.length;
        const key = `${prefixes[index]}${rest}`;
        const matcher = new RouteMatcher(resolvedRoutes(prefixes));

        const match = matcher.match(key);

        expect(match?.route.id).toBe(`r${index}`);
        expect(match?.segments).toEqual({});
      }),
    );
  });

  it('returns undefined for a key under no prefix', () => {
    fc.assert(
      fc.property(disjointPrefixes, anyKey, (prefixes, key) => {
        fc.pre(prefixes.every((p) => !key.startsWith(p)));
        const matcher = new RouteMatcher(resolvedRoutes(prefixes));

        const match = matcher.match(key);

        expect(match).toBeUndefined();
      }),
    );
  });

  it('lets the deepest of nested literal prefixes win', () => {
    fc.assert(
      fc.property(fc.array(component, { minLength: 2, maxLength: 4 }), anyKey, (parts, rest) => {
        const prefixes = parts.map((_, i) => `${parts.slice(0, i + 1).join('/')}/`);
        const key = `${prefixes.at(-1)}${rest}`;
        const matcher = new RouteMatcher(resolvedRoutes([...prefixes].reverse()));

        const match = matcher.match(key);

        expect(match?.route.prefix).toBe(prefixes.at(-1));
      }),
    );
  });

  it('captures exactly the generated component for a segment', () => {
    const value = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 12 })
      .filter((s) => !s.includes('/'));
    fc.assert(
      fc.property(literalPrefix, value, literalPrefix, anyKey, (head, segment, tail, rest) => {
        const matcher = new RouteMatcher(resolvedRoutes([`${head}{catalogId}/${tail}`]));

        const match = matcher.match(`${head}${segment}/${tail}${rest}`);

        expect(match?.segments).toEqual({ catalogId: segment });
      }),
    );
  });
});
