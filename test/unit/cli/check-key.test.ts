import { describe, expect, it } from 'vitest';
import { checkKey, keyFor } from '../../../cli/operations';
import { fakeTarget, ROUTES } from './fake-target';

const target = fakeTarget();
const ASSET = '0b4cf1d2-6a8e-4f3a-9c1b-7d2e5f8a9b10';

describe('drop: the key is checked before anything is uploaded', () => {
  it('accepts keys the dispatch would route, with their segments', () => {
    expect(checkKey(target, 'cleartax/sales/march.csv').route.id).toBe('cleartax-sales');
    expect(checkKey(target, 'clevertap/1001/catalog.csv')).toMatchObject({
      route: { id: 'clevertap-catalogs' },
      segments: { catalogId: '1001' },
    });
    expect(checkKey(target, `inspect/${ASSET}/crack.jpg`).segments).toEqual({ assetId: ASSET });
  });

  it('refuses a key under no route, listing the prefixes', () => {
    expect(() => checkKey(target, 'unknown/x.csv')).toThrow(
      /no route for "unknown\/x.csv"[\s\S]*cleartax\/sales\//,
    );
  });

  it('refuses a key whose segment is missing', () => {
    expect(() => checkKey(target, 'clevertap/catalog.csv')).toThrow(/\{catalogId\} missing/);
  });

  it("refuses segments the vendor's option schema refuses", () => {
    expect(() => checkKey(target, 'clevertap/abc/catalog.csv')).toThrow(/\{catalogId\} = "abc".*digits/);
    expect(() => checkKey(target, 'inspect/not-a-uuid/crack.jpg')).toThrow(/\{assetId\} = "not-a-uuid"/);
  });

  it('validates the whole option set when the outputs carry the route options', () => {
    const withOptions = fakeTarget(
      undefined,
      ROUTES.map((r) =>
        r.id === 'clevertap-catalogs' ? { ...r, options: { contentType: 'text/plain' } } : r,
      ),
    );
    expect(() => checkKey(withOptions, 'clevertap/1001/catalog.csv')).toThrow(/contentType/);
  });

  it('refuses a folder', () => {
    expect(() => checkKey(target, 'cleartax/sales/')).toThrow(/folder/);
  });

  it('--route puts the file under a route without segments, never under one with them', () => {
    expect(keyFor(target, '/tmp/march.csv', { route: 'cleartax-sales' })).toBe('cleartax/sales/march.csv');
    expect(() => keyFor(target, '/tmp/c.csv', { route: 'clevertap-catalogs' })).toThrow(
      /give the full --key/,
    );
    expect(() => keyFor(target, '/tmp/c.csv', { route: 'nope' })).toThrow(/no route "nope"/);
  });
});
