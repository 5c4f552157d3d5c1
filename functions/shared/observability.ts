import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/** The logging surface the cores use (Powertools Logger satisfies it; tests pass a recorder). */
export interface CoreLogger {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
  /** A logger whose every line carries `keys` (correlation: bucket, key, versionId, route, vendor, attempt). */
  with(keys: Record<string, unknown>): CoreLogger;
}

/** Metric names published under the `VendorIngest` namespace; the stack's dashboard and alarms read them. */
export const MetricName = {
  FilesReceived: 'FilesReceived',
  FilesUploaded: 'FilesUploaded',
  FilesCompleted: 'FilesCompleted',
  FilesFailed: 'FilesFailed',
  FilesDuplicate: 'FilesDuplicate',
  DuplicateNotifications: 'DuplicateNotifications',
  BytesUploaded: 'BytesUploaded',
  UploadDurationMs: 'UploadDurationMs',
  Retries: 'Retries',
  CompletionUncertain: 'CompletionUncertain',
  VendorJobSucceeded: 'VendorJobSucceeded',
  VendorJobFailed: 'VendorJobFailed',
  /** 1 when a vendor account's circuit breaker opens, 0 when it closes (published on changes only). */
  VendorUnavailable: 'VendorUnavailable',
  /** The day's token mint count of a vendor secret, after each mint. */
  TokenMintsToday: 'TokenMintsToday',
  /** A vendor job still running when polling reached its deadline (its verdict is unknown). */
  VendorStatusUnknown: 'VendorStatusUnknown',
  /** Per route: deliveries by decided outcome, and the rows the vendor accepted and rejected. */
  DeliverySucceeded: 'DeliverySucceeded',
  DeliveryFailed: 'DeliveryFailed',
  DeliveryNeedsAttention: 'DeliveryNeedsAttention',
  RowsAccepted: 'RowsAccepted',
  RowsRejected: 'RowsRejected',
} as const;
export type MetricName = (typeof MetricName)[keyof typeof MetricName];

/** Per-vendor pipeline metrics. */
export interface PipelineMetrics {
  /** Adds `value` (default 1) with dimension Vendor; `reason` adds a second series with Vendor+Reason. */
  count(name: MetricName, vendor: string, value?: number, reason?: string): void;
  /** A duration in milliseconds or a byte count, dimension Vendor. */
  record(name: MetricName, vendor: string, value: number, unit: 'Milliseconds' | 'Bytes'): void;
  /** Adds `value` (default 1) with dimension Route. */
  countRoute(name: MetricName, routeId: string, value?: number): void;
}

/** A metric line with exactly the given dimensions (no default `service` dimension, so alarms can name them). */
function single(metrics: Metrics, dimensions: Record<string, string>): Metrics {
  const one = metrics.singleMetric();
  one.clearDefaultDimensions();
  for (const [name, value] of Object.entries(dimensions)) one.addDimension(name, value);
  return one;
}

function toCore(logger: Logger): CoreLogger {
  return {
    debug: (m, e) => (e ? logger.debug(m, e) : logger.debug(m)),
    info: (m, e) => (e ? logger.info(m, e) : logger.info(m)),
    warn: (m, e) => (e ? logger.warn(m, e) : logger.warn(m)),
    error: (m, e) => (e ? logger.error(m, e) : logger.error(m)),
    with(keys) {
      const child = logger.createChild();
      child.appendKeys(keys);
      return toCore(child);
    },
  };
}

/** Adapts a Powertools Logger to the core's interface. */
export function coreLoggerFrom(logger: Logger): CoreLogger {
  return toCore(logger);
}

/**
 * Powertools EMF metrics. Each call publishes its own metric line (`singleMetric`) because a batch can
 * mix vendors (the completion queue is shared) and dimensions must not bleed between records.
 */
export function powertoolsMetrics(metrics: Metrics): PipelineMetrics {
  return {
    count(name, vendor, value = 1, reason) {
      single(metrics, { Vendor: vendor }).addMetric(name, MetricUnit.Count, value);
      if (reason)
        single(metrics, { Vendor: vendor, Reason: reason }).addMetric(name, MetricUnit.Count, value);
    },
    countRoute(name, routeId, value = 1) {
      single(metrics, { Route: routeId }).addMetric(name, MetricUnit.Count, value);
    },
    record(name, vendor, value, unit) {
      single(metrics, { Vendor: vendor }).addMetric(
        name,
        unit === 'Bytes' ? MetricUnit.Bytes : MetricUnit.Milliseconds,
        value,
      );
    },
  };
}
