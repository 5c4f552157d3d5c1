import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffSeconds, waitDelaySeconds } from '../../../../functions/shared/queue/backoff';

const ALMOST_ONE = 1 - Number.EPSILON;
const SQS_MAX_VISIBILITY = 43_200;

describe('backoffSeconds', () => {
  it.each([1, 2, 5, 30])('waits 0 s at attempt %i when the random draw is 0', (attempt) => {
    const seconds = backoffSeconds({ attempt, baseSeconds: 10, maxSeconds: 900, random: () => 0 });

    expect(seconds).toBe(0);
  });

  it.each([
    [1, 10],
    [2, 20],
    [3, 40],
    [6, 320],
    [7, 640],
    [8, 900],
    [50, 900],
  ])('waits the full ceiling at attempt %i when the draw is just under 1 (%i s)', (attempt, ceiling) => {
    const seconds = backoffSeconds({ attempt, baseSeconds: 10, maxSeconds: 900, random: () => ALMOST_ONE });

    expect(seconds).toBe(ceiling);
  });

  it('never waits less than the Retry-After, rounded up to a whole second', () => {
    const seconds = backoffSeconds({
      attempt: 1,
      baseSeconds: 10,
      maxSeconds: 900,
      retryAfterMs: 30_500,
      random: () => 0,
    });

    expect(seconds).toBe(31);
  });

  it('keeps the jittered wait when it is already longer than the Retry-After', () => {
    const seconds = backoffSeconds({
      attempt: 4,
      baseSeconds: 10,
      maxSeconds: 900,
      retryAfterMs: 5_000,
      random: () => 0.5,
    });

    expect(seconds).toBe(40);
  });

  it('caps every wait at 43,200 s, the SQS visibility limit', () => {
    const jittered = backoffSeconds({
      attempt: 40,
      baseSeconds: 10,
      maxSeconds: 100_000,
      random: () => ALMOST_ONE,
    });
    const retryAfter = backoffSeconds({
      attempt: 1,
      baseSeconds: 10,
      maxSeconds: 900,
      retryAfterMs: 10 ** 9,
      random: () => 0,
    });

    expect(jittered).toBe(SQS_MAX_VISIBILITY);
    expect(retryAfter).toBe(SQS_MAX_VISIBILITY);
  });

  it('treats an attempt below 1 as the first', () => {
    const seconds = backoffSeconds({
      attempt: 0,
      baseSeconds: 10,
      maxSeconds: 900,
      random: () => ALMOST_ONE,
    });

    expect(seconds).toBe(10);
  });

  it('stays within a fractional cap (the stage config allows non-integer seconds)', () => {
    const seconds = backoffSeconds({ attempt: 3, baseSeconds: 1, maxSeconds: 2.5, random: () => ALMOST_ONE });

    expect(seconds).toBeLessThanOrEqual(2.5);
  });

  it('draws a whole number of seconds within [Retry-After, min(cap, base·2^(n−1))], or the Retry-After (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -2, max: 200 }),
        fc.integer({ min: 0, max: 120 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.option(fc.integer({ min: 0, max: 10 ** 8 }), { nil: undefined }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, baseSeconds, maxSeconds, retryAfterMs, draw) => {
          const ceiling = Math.min(maxSeconds, baseSeconds * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
          const floor = retryAfterMs === undefined ? 0 : Math.ceil(retryAfterMs / 1000);

          const seconds = backoffSeconds({
            attempt,
            baseSeconds,
            maxSeconds,
            retryAfterMs,
            random: () => draw,
          });

          expect(Number.isInteger(seconds)).toBe(true);
          if (floor > ceiling) expect(seconds).toBe(Math.min(floor, SQS_MAX_VISIBILITY));
          else {
            expect(seconds).toBeGreaterThanOrEqual(Math.min(floor, SQS_MAX_VISIBILITY));
            expect(seconds).toBeLessThanOrEqual(Math.min(ceiling, SQS_MAX_VISIBILITY));
          }
        },
      ),
    );
  });
});

describe("waitDelaySeconds (a waiting file's re-enqueue delay)", () => {
  /** The ceiling of attempt k's wait: doubling from the base (at least 1 s) up to waitSeconds. */
  const ceilingOf = (attempt: number, base: number, wait: number) =>
    Math.min(wait, Math.max(1, base) * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
  /** Waits shorter than 0.8 × waitSeconds a file can have: ⌈log2(waitSeconds / retryBaseSeconds)⌉. */
  const rampOf = (base: number, wait: number) => Math.max(0, Math.ceil(Math.log2(wait / Math.max(1, base))));
  /** The documented bound on wake-ups in any hour (README, docs/deploy.md, stage-config.ts). */
  const hourlyBound = (base: number, wait: number) => rampOf(base, wait) + Math.ceil(3600 / (0.8 * wait));

  const errorKind = fc.constantFrom('down', 'unavailable', 'throttled');
  const retryAfter = fc.option(fc.integer({ min: 0, max: 10 ** 8 }), { nil: undefined });
  const draw = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

  it('ramps up from the base, then stays about waitSeconds (±20 %)', () => {
    const delays = Array.from({ length: 8 }, (_, i) =>
      waitDelaySeconds({
        attempt: i + 1,
        baseSeconds: 10,
        waitSeconds: 300,
        breakerOpen: false,
        random: () => 0,
      }),
    );

    expect(delays).toEqual([8, 16, 32, 64, 128, 240, 240, 240]);
  });

  it('waits about waitSeconds from the first wait while the breaker is open', () => {
    const low = waitDelaySeconds({
      attempt: 1,
      baseSeconds: 10,
      waitSeconds: 300,
      breakerOpen: true,
      random: () => 0,
    });
    const high = waitDelaySeconds({
      attempt: 1,
      baseSeconds: 10,
      waitSeconds: 300,
      breakerOpen: true,
      random: () => ALMOST_ONE,
    });

    expect([low, high]).toEqual([240, 360]);
  });

  it('does not let a short Retry-After wake a file that has waited a while more often (throttling)', () => {
    const seconds = waitDelaySeconds({
      attempt: 20,
      baseSeconds: 10,
      waitSeconds: 300,
      breakerOpen: false,
      retryAfterMs: 1_000,
      random: () => 0,
    });

    expect(seconds).toBe(240);
  });

  it("honours a long Retry-After up to 1.2 × waitSeconds, and never beyond SQS's 900 s", () => {
    const capped = (waitSeconds: number) =>
      waitDelaySeconds({
        attempt: 1,
        baseSeconds: 10,
        waitSeconds,
        breakerOpen: false,
        retryAfterMs: 6 * 3_600_000,
        random: () => 0,
      });

    expect([capped(300), capped(900)]).toEqual([360, 900]);
  });

  it('is a whole number of seconds in [max(1, 0.8 × ceiling), min(900, 1.2 × waitSeconds)] (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -2, max: 500 }),
        fc.double({ min: 0, max: 1000, noNaN: true }),
        fc.integer({ min: 1, max: 900 }),
        errorKind,
        retryAfter,
        draw,
        draw,
        (attempt, baseSeconds, waitSeconds, kind, retryAfterMs, a, b) => {
          const draws = [a, b];
          const seconds = waitDelaySeconds({
            attempt,
            baseSeconds,
            waitSeconds,
            breakerOpen: kind === 'down',
            retryAfterMs,
            random: () => draws.shift() ?? 0,
          });
          const ceiling = kind === 'down' ? waitSeconds : ceilingOf(attempt, baseSeconds, waitSeconds);

          expect(Number.isInteger(seconds)).toBe(true);
          expect(seconds).toBeGreaterThanOrEqual(Math.max(1, 0.8 * ceiling - 1e-6));
          expect(seconds).toBeLessThanOrEqual(Math.max(1, Math.min(900, Math.ceil(1.2 * waitSeconds))));
          if (attempt > rampOf(baseSeconds, waitSeconds))
            expect(seconds).toBeGreaterThanOrEqual(0.8 * waitSeconds - 1e-6);
        },
      ),
    );
  });

  it('wakes a waiting file at most ⌈log2(wait / base)⌉ + 3600 / (0.8 × wait) times in any hour, whatever the errors (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 900, noNaN: true }),
        fc.integer({ min: 1, max: 900 }),
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.tuple(errorKind, retryAfter, draw, draw), { minLength: 1, maxLength: 300 }),
        (baseSeconds, waitSeconds, firstAttempt, waits) => {
          // A file first received at t = 0 (attempt `firstAttempt`), then woken after each delay.
          const wakeUps = [0];
          waits.forEach(([kind, retryAfterMs, a, b], i) => {
            const draws = [a, b];
            const delay = waitDelaySeconds({
              attempt: firstAttempt + i,
              baseSeconds,
              waitSeconds,
              breakerOpen: kind === 'down',
              retryAfterMs,
              random: () => draws.shift() ?? 0,
            });
            wakeUps.push((wakeUps.at(-1) ?? 0) + delay);
          });
          const bound = hourlyBound(baseSeconds, waitSeconds);

          for (const [i, start] of wakeUps.entries()) {
            const inHour = wakeUps.slice(i).filter((t) => t < start + 3600).length;
            expect(inHour).toBeLessThanOrEqual(bound);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("gives 15 wake-ups an hour, 60 SQS and Lambda calls at 4 each, once the defaults' ramp is over", () => {
    expect(Math.ceil(3600 / (0.8 * 300))).toBe(15);
    expect(rampOf(10, 300)).toBe(5);
    expect(hourlyBound(10, 300)).toBe(20);
  });
});
