/**
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"):
 * a uniformly random wait between 0 and min(cap, base × 2^(attempt−1)), never shorter than a
 * server's Retry-After, never longer than SQS's 12-hour visibility limit.
 */
export function backoffSeconds(input: {
  readonly attempt: number;
  readonly baseSeconds: number;
  readonly maxSeconds: number;
  readonly retryAfterMs?: number | undefined;
  readonly random?: () => number;
}): number {
  const random = input.random ?? Math.random;
  const exponent = Math.min(Math.max(input.attempt, 1) - 1, 30);
  const ceiling = Math.min(input.maxSeconds, input.baseSeconds * 2 ** exponent);
  let seconds = Math.floor(random() * (Math.floor(ceiling) + 1));
  if (input.retryAfterMs !== undefined) seconds = Math.max(seconds, Math.ceil(input.retryAfterMs / 1000));
  return Math.min(Math.max(seconds, 0), 43_200);
}

/** SQS's longest `DelaySeconds`. */
export const MAX_DELAY_SECONDS = 900;

/**
 * The re-enqueue delay of a message waiting out a vendor-side failure (see `requeue`), seconds. It
 * is never shorter than 0.8 × a ceiling that doubles from `baseSeconds` (at least 1 s) up to
 * `waitSeconds`: d(k) = min(waitSeconds, max(1, baseSeconds) × 2^(k−1)) for attempt k, delay in
 * [0.8 × d(k), 1.2 × d(k)]. So after ⌈log2(waitSeconds / max(1, baseSeconds))⌉ shorter waits, every
 * wait is at least 0.8 × `waitSeconds`, and a waiting file wakes at most
 *   ⌈log2(waitSeconds / baseSeconds)⌉ + 3600 / (0.8 × waitSeconds)
 * times in any hour (with the defaults 300 s and 10 s: 5 + 15 in its first hour, 15 in each later one).
 * - breaker open (`VENDOR_DOWN`): about `waitSeconds` (±20 %) from the first wait; the breaker's probe
 *   notices the recovery, calling sooner would only find it closed;
 * - a Retry-After (throttling, the next mint day) is honoured up to 1.2 × `waitSeconds`, so a recovery
 *   is still noticed, and never shortens the floor.
 * Never more than 900 s (SQS) nor less than 1 s.
 */
export function waitDelaySeconds(input: {
  readonly attempt: number;
  readonly baseSeconds: number;
  readonly waitSeconds: number;
  /** The breaker is open: no ramp, wait about `waitSeconds`. */
  readonly breakerOpen: boolean;
  readonly retryAfterMs?: number | undefined;
  readonly random?: () => number;
}): number {
  const random = input.random ?? Math.random;
  const wait = Math.max(1, Math.min(MAX_DELAY_SECONDS, input.waitSeconds));
  const exponent = Math.min(Math.max(input.attempt, 1) - 1, 30);
  const ceiling = input.breakerOpen ? wait : Math.min(wait, Math.max(1, input.baseSeconds) * 2 ** exponent);
  let seconds = ceiling * (0.8 + 0.4 * random());
  if (input.retryAfterMs !== undefined)
    seconds = Math.max(seconds, (input.retryAfterMs / 1000) * (1 + 0.2 * random()));
  seconds = Math.min(seconds, 1.2 * wait, MAX_DELAY_SECONDS);
  // Rounded up (past float noise), so the floor 0.8 × ceiling holds in whole seconds too.
  return Math.max(1, Math.min(MAX_DELAY_SECONDS, Math.ceil(seconds - 1e-9)));
}
