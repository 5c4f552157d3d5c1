import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DynamoBreakers } from '../../../../functions/shared/state/breaker';
import { useEmbeddedStack } from '../../../support/stack';

/** The vendor circuit breaker on the deployed state table, shared by separate functions. */

const stack = useEmbeddedStack();

function clock(start = Date.parse('2026-12-05T10:00:00Z')) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function breakers(now: () => number, threshold = 3) {
  return new DynamoBreakers({
    doc: stack.aws.doc,
    tableName: stack.target.resources.stateTable,
    failureThreshold: threshold,
    probeIntervalMs: 10_000,
    cacheMs: 0,
    now,
  });
}

describe('DynamoBreakers', () => {
  it('opens after the threshold of consecutive failures across functions, and reports the change once', async () => {
    const time = clock();
    const key = `vendor:${randomUUID()}`;
    const [a, b] = [breakers(time.now), breakers(time.now)];

    const changes = [
      await a.failure(key, 'vendor', 'HTTP 503'),
      await b.failure(key, 'vendor', 'HTTP 503'),
      await a.failure(key, 'vendor', 'HTTP 503'),
      await b.failure(key, 'vendor', 'HTTP 503'),
    ];

    expect(changes).toEqual([undefined, undefined, 'opened', undefined]);
    expect(await b.current(key)).toMatchObject({ state: 'open', failures: 4, lastError: 'HTTP 503' });
  });

  it('lets a success reset the count, so only consecutive failures open it', async () => {
    const time = clock();
    const key = `vendor:${randomUUID()}`;
    const a = breakers(time.now);

    await a.failure(key, 'vendor', 'x');
    await a.failure(key, 'vendor', 'x');
    await a.success(key);
    await a.failure(key, 'vendor', 'x');

    expect(await a.current(key)).toMatchObject({ state: 'closed', failures: 1 });
  });

  it('while open, makes callers wait and grants one probe per interval among many concurrent callers', async () => {
    const time = clock();
    const key = `vendor:${randomUUID()}`;
    const opener = breakers(time.now, 1);
    await opener.failure(key, 'vendor', 'down');

    const during = await Promise.all(Array.from({ length: 8 }, () => breakers(time.now, 1).check(key)));
    time.advance(10_001);
    const after = await Promise.all(Array.from({ length: 8 }, () => breakers(time.now, 1).check(key)));

    expect(during.map((v) => v.kind)).toEqual(Array(8).fill('wait'));
    expect(after.filter((v) => v.kind === 'probe')).toHaveLength(1);
    expect(after.filter((v) => v.kind === 'wait')).toHaveLength(7);
  });

  it('closes on the probe’s success, and says so', async () => {
    const time = clock();
    const key = `vendor:${randomUUID()}`;
    const a = breakers(time.now, 1);
    await a.failure(key, 'vendor', 'down');
    time.advance(10_001);
    expect((await a.check(key)).kind).toBe('probe');

    const change = await a.success(key);

    expect(change).toBe('closed');
    expect((await breakers(time.now, 1).check(key)).kind).toBe('pass');
  });

  it('opens until a known time (a spent mint budget) with no probe before it', async () => {
    const time = clock();
    const key = `vendor:${randomUUID()}`;
    const a = breakers(time.now);
    const midnight = Date.parse('2026-12-06T00:00:00Z');

    await a.openUntil(key, 'vendor', midnight, 'token mint budget spent');
    time.advance(3_600_000);
    const before = await a.check(key);
    time.advance(midnight - time.now() + 1);
    const afterMidnight = await a.check(key);

    expect(before).toMatchObject({ kind: 'wait', retryAt: midnight });
    expect(afterMidnight.kind).toBe('probe');
  });

  it('costs no write on the happy path', async () => {
    const key = `vendor:${randomUUID()}`;
    let writes = 0;
    const send = stack.aws.doc.send.bind(stack.aws.doc);
    const counting = new DynamoBreakers({
      doc: {
        send: (command: Parameters<typeof send>[0], ...rest: unknown[]) => {
          if (command.constructor.name === 'UpdateCommand') writes++;
          return (send as (...args: unknown[]) => unknown)(command, ...rest);
        },
      } as unknown as typeof stack.aws.doc,
      tableName: stack.target.resources.stateTable,
      failureThreshold: 3,
      probeIntervalMs: 1000,
    });

    for (let i = 0; i < 5; i++) {
      expect((await counting.check(key)).kind).toBe('pass');
      await counting.success(key);
    }

    expect(writes).toBe(0);
  });
});
