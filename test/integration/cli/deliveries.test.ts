import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryQuery } from '../../../cli/ledger-admin';
import { deliveries } from '../../../cli/operations';
import { vendorStats } from '../../../cli/stats';
import { DeliveryLedger, type DeliveryRecord } from '../../../functions/shared/state/ledger';
import { useEmbeddedStack } from '../../support/stack';

/**
 * The console's and `status`'s listing: newest first across routes, from the route index (one query
 * per route, merged), paged by cursor, filtered by state, key prefix and creation time; and the
 * breakers from one query on the state index. Against the deployed table on moto.
 */

const stack = useEmbeddedStack();
const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const created: Array<{ key: string; route: string; at: number; failed: boolean }> = [];

async function record(route: string, prefix: string, vendor: string, i: number, at: number, failed: boolean) {
  let t = at;
  const ledger = new DeliveryLedger({
    doc: stack.aws.doc,
    tableName: stack.target.resources.stateTable,
    now: () => t++,
  });
  const object = {
    bucket: stack.target.resources.bucket,
    key: `${prefix}file-${String(i).padStart(3, '0')}.csv`,
    versionId: `v-${route}-${i}`,
    eTag: `e${i}`,
    size: 100 + i,
  };
  if (failed) {
    await ledger.refuseDispatch(object, {
      code: 'FILE_REJECTED',
      message: 'no',
      routeId: route,
      vendor,
      redrive: false,
    });
  } else {
    await ledger.deferDispatch(object, { routeId: route, vendor });
  }
  created.push({ key: object.key, route, at, failed });
}

beforeAll(async () => {
  const work: Array<Promise<void>> = [];
  for (let i = 0; i < 24; i++)
    work.push(record('cleartax-sales', 'cleartax/sales/', 'cleartax-gst', i, T0 + i * 2000, i % 5 === 0));
  for (let i = 0; i < 15; i++)
    work.push(
      record('cleartax-purchase', 'cleartax/purchase/', 'cleartax-gst', i, T0 + i * 2000 + 1000, i % 4 === 0),
    );
  for (let i = 0; i < 6; i++)
    work.push(
      record(
        'inspect-photos',
        'inspect/0b4cf1d2-6a8e-4f3a-9c1b-7d2e5f8a9b10/',
        'inspect',
        i,
        T0 + i * 7000 + 500,
        false,
      ),
    );
  await Promise.all(work);
}, 60_000);

async function all(query: Omit<DeliveryQuery, 'routeIds' | 'cursor'> & { route?: string; vendor?: string }) {
  const items: DeliveryRecord[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await deliveries(stack.target, { ...query, cursor });
    items.push(...page.items);
    cursor = page.next;
    pages++;
  } while (cursor && pages < 100);
  return { items, pages };
}

const keysNewestFirst = (xs: typeof created) => [...xs].sort((a, b) => b.at - a.at).map((x) => x.key);

describe('deliveries across routes from the route index', () => {
  it('pages through every delivery newest first, each once', async () => {
    const { items, pages } = await all({ limit: 7 });
    expect(items.map((r) => r.key)).toEqual(keysNewestFirst(created));
    expect(pages).toBe(Math.ceil(created.length / 7));
  });

  it('filters by route, by vendor (its routes), by state and by key prefix', async () => {
    const purchase = await all({ route: 'cleartax-purchase', limit: 4 });
    expect(purchase.items.map((r) => r.key)).toEqual(
      keysNewestFirst(created.filter((c) => c.route === 'cleartax-purchase')),
    );

    const gst = await all({ vendor: 'cleartax-gst', limit: 10 });
    expect(gst.items.map((r) => r.key)).toEqual(
      keysNewestFirst(created.filter((c) => c.route !== 'inspect-photos')),
    );

    const failed = await all({ state: 'FAILED', limit: 3 });
    expect(failed.items.map((r) => r.key)).toEqual(keysNewestFirst(created.filter((c) => c.failed)));
    expect(failed.items.every((r) => r.state === 'FAILED')).toBe(true);

    const prefixed = await all({ keyPrefix: 'cleartax/sales/file-01', limit: 5 });
    expect(prefixed.items.map((r) => r.key)).toEqual(
      keysNewestFirst(created.filter((c) => c.key.startsWith('cleartax/sales/file-01'))),
    );
  });

  it('bounds the creation time: from inclusive, to exclusive', async () => {
    const from = new Date(T0 + 10_000).toISOString();
    const to = new Date(T0 + 30_000).toISOString();
    const { items } = await all({ from, to, limit: 6 });
    expect(items.map((r) => r.key)).toEqual(
      keysNewestFirst(created.filter((c) => c.at >= T0 + 10_000 && c.at < T0 + 30_000)),
    );
  });

  it('refuses a cursor it did not make and an unknown route', async () => {
    await expect(deliveries(stack.target, { cursor: 'bm90LWEtY3Vyc29y' })).rejects.toThrow(/cursor/);
    await expect(deliveries(stack.target, { route: 'nope' })).rejects.toThrow(/no route "nope"/);
  });

  it('lists circuit breakers with one query on the state index, and the vendor figures carry them', async () => {
    const table = stack.target.resources.stateTable;
    for (const [accountKey, state] of [
      ['clevertap:SANDBOX-ACCOUNT-1', 'open'],
      ['cleartax:abc', 'closed'],
    ] as const) {
      await stack.aws.doc.send(
        new PutCommand({
          TableName: table,
          Item: {
            pk: `breaker#${accountKey}`,
            sk: 'breaker',
            gsi1pk: 'breakers',
            gsi1sk: accountKey,
            vendor: accountKey.startsWith('clevertap') ? 'clevertap-catalog' : 'cleartax-gst',
            state,
            ...(state === 'open' ? { openedAt: '2026-03-01T10:00:00.000Z' } : {}),
            failures: state === 'open' ? 5 : 0,
            updatedAt: '2026-03-01T10:00:00.000Z',
          },
        }),
      );
    }
    const breakers = await stack.target.ledger.listBreakers();
    expect(breakers).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ accountKey: 'clevertap:SANDBOX-ACCOUNT-1', state: 'open', failures: 5 }),
        expect.objectContaining({ accountKey: 'cleartax:abc', state: 'closed' }),
      ]),
    );
    const report = await vendorStats(stack.target, '1h', T0 + 60_000);
    const gst = report.vendors.find((v) => v.vendor === 'cleartax-gst');
    expect(gst).toMatchObject({ files: 39, routes: ['cleartax-sales', 'cleartax-purchase'] });
    expect(gst?.failed).toBe(created.filter((c) => c.failed).length);
    expect(report.vendors.find((v) => v.vendor === 'clevertap-catalog')?.breakers).toMatchObject([
      { state: 'open' },
    ]);
  });
});
