import { ErrorCode, errorCodeOf, errorMessageOf, RetryableError } from './errors';
import { type CoreLogger, MetricName, type PipelineMetrics } from './observability';
import { type DynamoBreakers, isOutage } from './state/breaker';
import { nextUtcMidnight } from './state/dynamo-token-cache';

/** The route facts a breaker is keyed by: one breaker per vendor account (a vendor and its credentials). */
export interface GuardedRoute {
  readonly vendor: string;
  readonly secretId: string;
}

/** The breaker key of a route's vendor account. */
export function breakerKeyOf(route: GuardedRoute): string {
  return `${route.vendor}:${route.secretId}`;
}

/**
 * Wraps the cores' vendor work in the account's circuit breaker: `check` before any vendor call
 * (throws `VENDOR_DOWN` while the breaker is open and this caller is not its probe), `record` after
 * (an outage failure counts toward opening, a success closes; a spent mint budget opens it until the
 * next UTC day). `VendorUnavailable` is published 1 when a breaker opens and 0 when it closes.
 */
export interface VendorGuard {
  check(route: GuardedRoute, log: CoreLogger): Promise<void>;
  record(route: GuardedRoute, outcome: unknown | undefined, log: CoreLogger): Promise<void>;
}

export function createVendorGuard(breakers: DynamoBreakers, metrics: PipelineMetrics): VendorGuard {
  const announce = (route: GuardedRoute, change: 'opened' | 'closed' | undefined, log: CoreLogger) => {
    if (!change) return;
    metrics.count(MetricName.VendorUnavailable, route.vendor, change === 'opened' ? 1 : 0);
    if (change === 'opened')
      log.error('vendor circuit breaker opened: deliveries wait', { breaker: breakerKeyOf(route) });
    else log.info('vendor circuit breaker closed: deliveries flow again', { breaker: breakerKeyOf(route) });
  };
  return {
    async check(route, log) {
      const verdict = await breakers.check(breakerKeyOf(route));
      if (verdict.kind === 'pass') return;
      if (verdict.kind === 'probe') {
        log.info('vendor circuit breaker open: this delivery probes the vendor', {
          breaker: breakerKeyOf(route),
        });
        return;
      }
      throw new RetryableError(
        ErrorCode.VENDOR_DOWN,
        `${route.vendor} is unavailable (circuit breaker open since ${verdict.item.openedAt ?? 'recently'}: ${
          verdict.item.reason ?? 'consecutive failures'
        }${verdict.item.lastError ? `; last error: ${verdict.item.lastError}` : ''})`,
        { retryAfterMs: Math.max(0, verdict.retryAt - Date.now()), waitingFor: breakerKeyOf(route) },
      );
    },
    async record(route, outcome, log) {
      const key = breakerKeyOf(route);
      try {
        if (outcome === undefined) {
          announce(route, await breakers.success(key), log);
        } else if (errorCodeOf(outcome) === ErrorCode.TOKEN_BUDGET_EXHAUSTED) {
          // The budget is per UTC day: open until the day turns.
          announce(
            route,
            await breakers.openUntil(
              key,
              route.vendor,
              nextUtcMidnight(Date.now()),
              'token mint budget spent',
            ),
            log,
          );
        } else if (isOutage(outcome)) {
          announce(route, await breakers.failure(key, route.vendor, errorMessageOf(outcome)), log);
        }
      } catch (error) {
        // The breaker is advisory: a failed write never fails the delivery it describes.
        log.warn('could not update the vendor circuit breaker', {
          breaker: key,
          error: errorMessageOf(error),
        });
      }
    },
  };
}
