/** Shapes of the console API's answers (console/api.ts), as the page reads them. */

export interface Overview {
  readonly stack: string;
  readonly stage: string;
  readonly kind: 'local' | 'aws';
  readonly description: string;
  readonly bucket: string;
  readonly operator: string;
  readonly routes: ReadonlyArray<{ id: string; prefix: string; vendor: string }>;
  readonly vendors: readonly string[];
  readonly states: readonly string[];
  readonly queues: readonly string[];
  readonly windows: readonly string[];
}

export interface DeliverySummary {
  readonly key: string;
  readonly sk: string;
  readonly versionId?: string;
  readonly deliveryId: string;
  readonly routeId?: string;
  readonly vendor?: string;
  readonly state: string;
  readonly outcome?: string;
  readonly size?: number;
  readonly reason?: string;
  readonly vendorState?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly completedAt?: string;
}

export interface DeliveryPage {
  readonly items: DeliverySummary[];
  readonly next?: string;
}

export interface DeliveryRecord extends DeliverySummary {
  readonly bucket: string;
  readonly eTag?: string;
  readonly attempts?: number;
  readonly completionAttempts?: number;
  readonly replays?: number;
  readonly refs?: Record<string, unknown>;
  readonly vendorPhase?: string;
  readonly vendorDetail?: Record<string, unknown>;
  readonly lastError?: string;
  readonly failedStep?: string;
  readonly outcomeAt?: string;
  readonly uploadedAt?: string;
  readonly waitingFor?: string;
  readonly historyDropped?: number;
  readonly results?: { document?: string; errorFile?: string };
}

export interface DeliveryDetail {
  readonly record: DeliveryRecord;
  readonly versions: ReadonlyArray<{ sk: string; versionId?: string; createdAt: string; state: string }>;
  readonly timeline: ReadonlyArray<{
    at: string;
    state: string;
    note?: string;
    sincePreviousMs?: number;
    sinceCreatedMs?: number;
  }>;
  readonly durations: {
    dropToUploadedMs?: number;
    uploadedToCompletedMs?: number;
    dropToCompletedMs?: number;
    completedToOutcomeMs?: number;
  };
  readonly results: {
    document?: { key: string; href: string };
    errorFile?: { key: string; href: string };
  };
}

export interface DlqMessage {
  readonly queue: string;
  readonly queueId: string;
  readonly messageId: string;
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly retryable: string;
  readonly failedAt: string;
  readonly subject: string;
  readonly deliveryId?: string;
  readonly body: string;
  readonly attributes: Record<string, string>;
  readonly sentAt?: string;
  readonly receiveCount?: number;
}

export interface Breaker {
  readonly accountKey: string;
  readonly vendor?: string;
  readonly state: 'closed' | 'open';
  readonly openedAt?: string;
  readonly failures?: number;
  readonly lastError?: string;
  readonly updatedAt?: string;
}

export interface VendorBucket {
  readonly at: string;
  readonly filesPerHour: number;
  readonly failedPerHour: number;
  readonly bytesPerSecond: number;
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
}

export interface VendorStats {
  readonly vendor: string;
  readonly routes: readonly string[];
  readonly files: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly attention: number;
  readonly inFlight: number;
  readonly failureRate: number | null;
  readonly filesPerHour: number;
  readonly bytesPerSecond: number;
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  readonly buckets: readonly VendorBucket[];
  readonly breakers: readonly Breaker[];
  readonly truncated: boolean;
}

export interface StatsReport {
  readonly window: string;
  readonly from: string;
  readonly to: string;
  readonly bucketMs: number;
  readonly vendors: readonly VendorStats[];
}

export interface ConsoleAction {
  readonly at: string;
  readonly operator: string;
  readonly action: string;
  readonly subject: string;
  readonly ok: boolean;
  readonly result?: string;
  readonly error?: string;
}

export interface ActionAnswer {
  readonly ok: boolean;
  readonly result: string;
}
