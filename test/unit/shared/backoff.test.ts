import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffSeconds } from '../../../functions/shared/queue/backoff';

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
