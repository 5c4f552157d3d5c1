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
