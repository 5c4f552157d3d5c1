import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ErrorCode, RetryableError } from '../../../../functions/shared/errors';
import {
  DynamoTokenCache,
  type DynamoTokenCacheOptions,
} from '../../../../functions/shared/state/dynamo-token-cache';
import type { MintedToken } from '../../../../functions/vendors/types';
import { useEmbeddedStack } from '../../../support/stack';

/** The shared vendor token and its mint lock (ClearTax: 288 mints a day), on the deployed state table. */

const stack = useEmbeddedStack();

function cache(options: Partial<DynamoTokenCacheOptions> = {}): DynamoTokenCache {
  return new DynamoTokenCache({
    doc: stack.aws.doc,
    tableName: stack.target.resources.stateTable,
    ...options,
  });
}

/** A mint that counts its calls and takes `ms`. */
function minter(ms = 100, validForMs = 3_600_000) {
  let mints = 0;
  return {
    get mints() {
      return mints;
    },
    mint: async (): Promise<MintedToken> => {
      mints++;
      await sleep(ms);
      return { token: `tok-${mints}-${randomUUID()}`, validUntil: Date.now() + validForMs };
    },
  };
}

describe('DynamoTokenCache', () => {
  it('mints once for many concurrent callers in separate functions, and all get that token', async () => {
    const key = `cleartax:${randomUUID()}`;
    const m = minter(200);
    // Twelve caches: twelve warm Lambdas of two functions, none with the token in memory.
    const caches = Array.from({ length: 12 }, () => cache());

    const tokens = await Promise.all(caches.map((c) => c.get(key, m.mint)));

    expect(m.mints).toBe(1);
    expect(new Set(tokens).size).toBe(1);
  });

  it('serves a warm function from memory without reading the table again', async () => {
    const key = `cleartax:${randomUUID()}`;
    const m = minter(0);
    const warm = cache();
    const first = await warm.get(key, m.mint);
    const sends = stack.aws.doc.send.bind(stack.aws.doc);
    let reads = 0;
    const spied = new DynamoTokenCache({
      doc: {
        send: (...args: Parameters<typeof sends>) => {
          reads++;
          return sends(...args);
        },
      } as typeof stack.aws.doc,
      tableName: stack.target.resources.stateTable,
    });

    const again = await warm.get(key, m.mint);
    await spied.get(key, m.mint); // another function: one read, no mint
    await spied.get(key, m.mint); // now warm

    expect(again).toBe(first);
    expect(reads).toBe(1);
    expect(m.mints).toBe(1);
  });

  it('mints again after an invalidate, once, even when several functions saw the bad token', async () => {
    const key = `cleartax:${randomUUID()}`;
    const m = minter(100);
    const a = cache();
    const b = cache();
    const bad = await a.get(key, m.mint);
    await b.get(key, m.mint);

    // Both were refused with the same token (the vendor revoked it) and invalidate it.
    await Promise.all([a.invalidate(key, bad), b.invalidate(key, bad)]);
    const [ta, tb] = await Promise.all([a.get(key, m.mint), b.get(key, m.mint)]);

    expect(m.mints).toBe(2);
    expect(ta).toBe(tb);
    expect(ta).not.toBe(bad);
  });

  it('does not drop a newer token when a late invalidate names the old one', async () => {
    const key = `cleartax:${randomUUID()}`;
    const m = minter(0);
    const a = cache();
    const old = await a.get(key, m.mint);
    await a.invalidate(key, old);
    const fresh = await a.get(key, m.mint);

    await cache().invalidate(key, old); // another function, late, with the old token

    expect(await cache().get(key, m.mint)).toBe(fresh);
    expect(m.mints).toBe(2);
  });

  it('lets another function take over a mint lock whose holder died', async () => {
    let now = Date.now();
    const key = `cleartax:${randomUUID()}`;
    const dies = cache({ mintLockMs: 1_000, now: () => now });
    // The first holder takes the lock and dies mid-mint (its promise never settles).
    void dies.get(key, () => new Promise<MintedToken>(() => undefined));
    await sleep(200);
    const m = minter(0);
    const waiting = cache({ mintLockMs: 1_000, maxWaitMs: 0, now: () => now });

    await expect(waiting.get(key, m.mint)).rejects.toMatchObject({ code: ErrorCode.TOKEN_BUSY });
    now += 1_001;
    const token = await cache({ mintLockMs: 1_000, now: () => now }).get(key, m.mint);

    expect(token).toMatch(/^tok-1-/);
    expect(m.mints).toBe(1);
  });

  it('releases the lock when a mint fails, so the next caller mints at once', async () => {
    const key = `cleartax:${randomUUID()}`;
    const failing = cache();
    await expect(
      failing.get(key, async () => {
        throw new RetryableError(ErrorCode.VENDOR_UNAVAILABLE, 'token endpoint 503');
      }),
    ).rejects.toMatchObject({ code: ErrorCode.VENDOR_UNAVAILABLE });
    const m = minter(0);

    const token = await cache({ maxWaitMs: 0 }).get(key, m.mint);

    expect(token).toMatch(/^tok-1-/);
  });
});
