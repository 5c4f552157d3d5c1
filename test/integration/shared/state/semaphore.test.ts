import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ErrorCode, RetryableError } from '../../../../functions/shared/errors';
import { DynamoSemaphore, type SemaphoreOptions } from '../../../../functions/shared/state/semaphore';
import { useEmbeddedStack } from '../../../support/stack';

/** The semaphore that holds CleverTap's per-account call limit, on the deployed state table. */

const stack = useEmbeddedStack();

function semaphore(options: Partial<SemaphoreOptions> & Pick<SemaphoreOptions, 'key'>): DynamoSemaphore {
  return new DynamoSemaphore({
    doc: stack.aws.doc,
    tableName: stack.target.resources.stateTable,
    slots: 3,
    leaseMs: 10_000,
    maxWaitMs: 5_000,
    ...options,
  });
}

/** Runs `callers` workers through the semaphore, each holding a slot for `holdMs`; returns the peak. */
async function peakHolders(limiters: readonly DynamoSemaphore[], callers: number, holdMs: number) {
  let holding = 0;
  let peak = 0;
  await Promise.all(
    Array.from({ length: callers }, async (_, i) => {
      const release = await (limiters[i % limiters.length] as DynamoSemaphore).acquire();
      holding++;
      peak = Math.max(peak, holding);
      await sleep(holdMs);
      holding--;
      await release();
    }),
  );
  return peak;
}

describe('DynamoSemaphore', () => {
  it('lets at most `slots` of many concurrent callers hold a slot, across separate instances', async () => {
    const key = `clevertap:${randomUUID()}`;
    // Six instances stand for six Lambdas of two functions sharing the account's limit.
    const limiters = Array.from({ length: 6 }, () => semaphore({ key, slots: 3 }));

    const peak = await peakHolders(limiters, 18, 60);

    expect(peak).toBe(3);
  });

  it('hands a released slot to the next caller', async () => {
    const one = semaphore({ key: `k:${randomUUID()}`, slots: 1 });

    const first = await one.acquire();
    await first();
    const second = await one.acquire();
    await second();

    // Both acquired in turn: nothing left held (a third gets a slot at once).
    const third = await Promise.race([one.acquire(), sleep(2000).then(() => undefined)]);
    expect(third).toBeTypeOf('function');
  });

  it('reclaims a slot whose holder died once its lease has expired', async () => {
    let now = 1_000_000;
    const key = `k:${randomUUID()}`;
    const dead = semaphore({ key, slots: 1, leaseMs: 5_000, now: () => now });
    await dead.acquire(); // never released: the holder's Lambda was killed
    const next = semaphore({ key, slots: 1, leaseMs: 5_000, maxWaitMs: 0, now: () => now });

    await expect(next.acquire()).rejects.toThrow(RetryableError);
    now += 5_001;
    const release = await next.acquire();

    expect(release).toBeTypeOf('function');
  });

  it('gives up after maxWaitMs with a retryable CONCURRENCY_LIMIT naming the key', async () => {
    const key = `clevertap:${randomUUID()}`;
    const held = semaphore({ key, slots: 2 });
    await held.acquire();
    await held.acquire();
    const waiting = semaphore({ key, slots: 2, maxWaitMs: 300 });

    const started = Date.now();
    const error = await waiting.acquire().then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(RetryableError);
    expect(error).toMatchObject({ code: ErrorCode.CONCURRENCY_LIMIT });
    expect((error as Error).message).toContain(key);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('does not let a holder whose lease lapsed release the slot its successor took', async () => {
    let now = 2_000_000;
    const key = `k:${randomUUID()}`;
    const slow = semaphore({ key, slots: 1, leaseMs: 1_000, now: () => now });
    const releaseSlow = await slow.acquire();
    now += 1_001;
    const successor = semaphore({ key, slots: 1, leaseMs: 60_000, maxWaitMs: 0, now: () => now });
    await successor.acquire();

    await releaseSlow(); // late: must not free the successor's slot
    const third = semaphore({ key, slots: 1, maxWaitMs: 0, now: () => now });

    await expect(third.acquire()).rejects.toMatchObject({ code: ErrorCode.CONCURRENCY_LIMIT });
  });
});
