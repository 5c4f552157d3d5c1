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

  it('re-mints once after a refusal, even when several functions saw the refused token', async () => {
    const key = `cleartax:${randomUUID()}`;
    const m = minter(100);
    const a = cache();
    const b = cache();
    const bad = await a.get(key, m.mint);
    await b.get(key, m.mint);

    // Both were refused with the same token (the vendor revoked it).
    const verdicts = await Promise.all([a.refused(key, bad), b.refused(key, bad)]);
    const [ta, tb] = await Promise.all([a.get(key, m.mint), b.get(key, m.mint)]);

    expect(verdicts).toEqual(['remint', 'remint']);
    expect(m.mints).toBe(2);
    expect(ta).toBe(tb);
    expect(ta).not.toBe(bad);
  });

  it('stops minting when the fresh token is refused too: bad credentials fail AUTH_FAILED without a vendor call', async () => {
    const key = `cleartax:${randomUUID()}`;
    const m = minter(0);
    const a = cache();
    const first = await a.get(key, m.mint);
    await a.refused(key, first);
    const fresh = await a.get(key, m.mint);

    const verdict = await a.refused(key, fresh);
    const other = cache(); // another function, later

    expect(verdict).toBe('refused');
    await expect(other.get(key, m.mint)).rejects.toMatchObject({
      code: ErrorCode.AUTH_FAILED,
      retryable: false,
    });
    expect(m.mints).toBe(2);
  });

  it('tries a refused re-mint again after the cooldown, and allows a re-mint for a token that worked a while', async () => {
    let now = Date.now();
    const key = `cleartax:${randomUUID()}`;
    const m = minter(0, 86_400_000);
    const at = () => cache({ now: () => now, refusedCooldownMs: 60_000 });
    const first = await at().get(key, m.mint);
    await at().refused(key, first);
    const fresh = await at().get(key, m.mint);
    await at().refused(key, fresh);

    now += 60_001;
    const afterCooldown = await at().get(key, m.mint);

    expect(afterCooldown).toBe(fresh);
    expect(await at().refused(key, fresh)).toBe('remint');
    expect(m.mints).toBe(2);
  });

  it('does not drop a newer token when a late refusal names the old one', async () => {
    const key = `cleartax:${randomUUID()}`;
    const m = minter(0);
    const a = cache();
    const old = await a.get(key, m.mint);
    await a.refused(key, old);
    const fresh = await a.get(key, m.mint);

    await cache().refused(key, old); // another function, late, with the old token

    expect(await cache().get(key, m.mint)).toBe(fresh);
    expect(m.mints).toBe(2);
  });

  it('counts mints per UTC day against the daily limit and refuses the one beyond it until the next day', async () => {
    const day = Date.parse('2026-12-05T10:00:00Z');
    let now = day;
    const key = `cleartax:${randomUUID()}`;
    const counts: number[] = [];
    let mints = 0;
    // Each token lives 1 ms of the test's clock, so every get mints.
    const m = {
      mint: async (): Promise<MintedToken> => ({ token: `tok-${++mints}`, validUntil: now + 1 }),
    };
    const at = () =>
      cache({ now: () => now, marginMs: 0, onMint: (_key, mintsToday) => counts.push(mintsToday) });
    const policy = { dailyLimit: 3 };
    for (let i = 0; i < 3; i++) {
      await at().get(key, m.mint, policy);
      now += 10; // each token lives 1 ms
    }

    const refused = await at()
      .get(key, m.mint, policy)
      .catch((e: unknown) => e);
    now = Date.parse('2026-12-06T00:00:01Z');
    await at().get(key, m.mint, policy);

    expect(counts).toEqual([1, 2, 3, 1]);
    expect(refused).toMatchObject({ code: ErrorCode.TOKEN_BUDGET_EXHAUSTED, retryable: true });
    expect((refused as { retryAfterMs: number }).retryAfterMs).toBe(
      Date.parse('2026-12-06T00:00:00Z') - (day + 30),
    );
    expect(mints).toBe(4);
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
