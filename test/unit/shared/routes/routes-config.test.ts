import { describe, expect, it } from 'vitest';
import routesFile from '../../../../config/routes.json';
import { resolveRouteFile, routesFromDocument } from '../../../../functions/shared/routes/load';
import { RouteMatcher } from '../../../../functions/shared/routes/match';
import { adapterFor } from '../../../../functions/vendors/registry';

/** Every route of the shipped file, in its order: adding one changes no test. */
const ROUTE_IDS = routesFile.routes.map((r) => r.id);

/** A key under a route prefix: each `{segment}` filled with a sample value. */
const keyUnder = (prefix: string) => `${prefix.replace(/\{(\w+)\}/g, '$1-7')}report.csv`;

describe('config/routes.json with the vendor registry', () => {
  it.each(['dev', 'prod'])('resolves for stage %s and routes a key under each prefix', (stage) => {
    const doc = resolveRouteFile(routesFile, stage, adapterFor);
    const matcher = new RouteMatcher(routesFromDocument(doc));

    expect(doc.routes.map((r) => r.id)).toEqual(ROUTE_IDS);
    expect(doc.allowLoopbackHttp).toBe(false);
    for (const route of doc.routes) expect(new URL(route.baseUrl).protocol).toBe('https:');
    expect(matcher.match('cleartax/sales/march 2024.xlsx')?.route.id).toBe('cleartax-sales');
    expect(matcher.match('cleartax/purchase/march.csv')?.route.id).toBe('cleartax-purchase');
    expect(matcher.match('cleartax-one/sales/march.csv')?.route.id).toBe('cleartax-one-sales');
    expect(matcher.match('clevertap/cat-7/list.csv')).toMatchObject({
      route: { id: 'clevertap-catalogs' },
      segments: { catalogId: 'cat-7' },
    });
    expect(matcher.match('inspect/asset-1/photo.jpg')).toMatchObject({
      route: { id: 'inspect-photos' },
      segments: { assetId: 'asset-1' },
    });
    for (const route of doc.routes) expect(matcher.match(keyUnder(route.prefix))?.route.id).toBe(route.id);
    expect(matcher.match('unrouted/file.csv')).toBeUndefined();
  });

  it('points prod at the production APIs and secrets, dev at the sandboxes', () => {
    const dev = resolveRouteFile(routesFile, 'dev', adapterFor);
    const prod = resolveRouteFile(routesFile, 'prod', adapterFor);

    const byId = (doc: typeof dev, id: string) => doc.routes.find((r) => r.id === id);
    expect(byId(prod, 'cleartax-sales')).toMatchObject({
      baseUrl: 'https://api.clear.in',
      secretId: 'vendor-ingest/prod/cleartax',
    });
    expect(byId(dev, 'cleartax-sales')).toMatchObject({
      baseUrl: 'https://api-sandbox.clear.in',
      secretId: 'vendor-ingest/cleartax',
    });
    for (const route of prod.routes) expect(route.secretId).toMatch(/^vendor-ingest\/prod\//);
    for (const route of dev.routes) expect(route.secretId).not.toMatch(/\/prod\//);
  });
});

describe('adapter route checks at load', () => {
  it('refuses a CleverTap region that disagrees with the base URL, naming both', () => {
    const raw = structuredClone(routesFile) as {
      routes: Array<{ id: string; options: Record<string, unknown> }>;
    };
    const clevertap = raw.routes.find((r) => r.id === 'clevertap-catalogs');
    if (!clevertap) throw new Error('fixture lost its clevertap route');
    clevertap.options.region = 'us1';

    expect(() => resolveRouteFile(raw, 'dev', adapterFor)).toThrow(
      /route "clevertap-catalogs": clevertap-catalog: region us1 needs base URL https:\/\/us1\.api\.clevertap\.com, the route has in1\.api\.clevertap\.com/,
    );
  });

  it('accepts a region that matches the base URL', () => {
    const raw = structuredClone(routesFile) as {
      routes: Array<{ id: string; options: Record<string, unknown> }>;
    };
    const clevertap = raw.routes.find((r) => r.id === 'clevertap-catalogs');
    if (!clevertap) throw new Error('fixture lost its clevertap route');
    clevertap.options.region = 'in1';

    expect(resolveRouteFile(raw, 'dev', adapterFor).routes).toHaveLength(raw.routes.length);
  });
});
