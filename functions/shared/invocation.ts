import type { Context } from 'aws-lambda';

/** Per-invocation facts from the Lambda context, as both cores use them. */
export interface InvocationInfo {
  /** Unique per invocation: the lease owner. */
  readonly requestId: string;
  /** Epoch ms by which all work must have stopped (the Lambda's deadline minus a safety margin). */
  readonly deadline: () => number;
  /** How long a lease taken now must last: the rest of the invocation plus a margin. */
  readonly leaseMs: () => number;
}

/** Deadline and lease length for one invocation, from the Lambda context. */
export function invocationFrom(context: Context): InvocationInfo {
  const startedAt = Date.now();
  const remaining = context.getRemainingTimeInMillis();
  // Stop early enough to record the outcome and hand the message back before Lambda kills us.
  const margin = Math.round(Math.min(10_000, Math.max(1_000, remaining * 0.1)));
  const deadline = startedAt + remaining - margin;
  return {
    requestId: context.awsRequestId,
    deadline: () => deadline,
    // A lease outlives the invocation slightly, so a live worker is never mistaken for a dead one.
    leaseMs: () => Math.max(0, startedAt + remaining - Date.now()) + 5_000,
  };
}
