import { setTimeout as sleep } from 'node:timers/promises';
import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  GetObjectTaggingCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
  type Tag,
} from '@aws-sdk/client-s3';
import * as z from 'zod';
import { EVENT_SOURCE } from './deployment';
import { ERROR_TABLE, ErrorCode, errorMessageOf, RetryableError, waitsForVendor } from './errors';
import type { CoreLogger, PipelineMetrics } from './observability';
import { MetricName } from './observability';
import type { RecordContext } from './queue/sqs-batch';
import { redactor } from './redact';
import {
  type DeliveryKey,
  type DeliveryLedger,
  type DeliveryOutcome,
  type DeliveryRecord,
  DeliveryState,
} from './state/ledger';

/**
 * Brings a delivery's outcome back to whoever dropped the file, the AWS way: one EventBridge event per
 * end state (decided by the ledger transition that reaches it), a result document next to the files
 * in the ingest bucket (outside every route, so it never triggers a delivery), and tags on the source
 * object version. The detail's shape is versioned and documented in docs/events.md, with a JSON Schema
 * in docs/events.schema.json.
 */

/** The version of the event detail and result document shape. */
export const DETAIL_SCHEMA_VERSION = 1;

export const DetailType = {
  succeeded: 'Delivery Succeeded',
  failed: 'Delivery Failed',
  attention: 'Delivery Needs Attention',
} as const satisfies Record<DeliveryOutcome, string>;
export type DetailType = (typeof DetailType)[keyof typeof DetailType];

/** Tag keys set on the source object version. */
export const OutcomeTag = {
  STATE: 'vendor-ingest-state',
  VENDOR_ID: 'vendor-ingest-vendor-id',
} as const;

/** The refs that name the vendor's record of the file, most telling first. */
const VENDOR_ID_REFS = ['activityId', 'taskId', 'jobId', 'fileId', 'uploadId'];

/** Rows the vendor counted: in the file, accepted, rejected. */
export const RowStatsSchema = z.object({
  total: z.number().int().nonnegative().optional(),
  accepted: z.number().int().nonnegative().optional(),
  rejected: z.number().int().nonnegative().optional(),
});
export type RowStats = z.infer<typeof RowStatsSchema>;

const Iso = z.iso.datetime();

/**
 * The detail of every outcome event and the content of every result document, schema version 1. It is
 * the definition `docs/events.schema.json` is generated from (`npm run docs:events`).
 */
export const DeliveryEventDetailSchema = z
  .object({
    schemaVersion: z.literal(DETAIL_SCHEMA_VERSION),
    eventId: z.string().min(1).describe('the same for every copy of one announcement: deduplicate on it'),
    stack: z.string().min(1).describe('the CloudFormation stack that delivered the file'),
    deliveryId: z.string().min(1),
    bucket: z.string().min(1),
    key: z.string().min(1),
    versionId: z.string().min(1).optional(),
    size: z.number().int().nonnegative().optional(),
    route: z.string().min(1).optional(),
    vendor: z.string().min(1).optional(),
    state: z.enum(Object.values(DeliveryState) as [DeliveryState, ...DeliveryState[]]),
    outcome: z.enum(['succeeded', 'failed', 'attention']),
    errorCode: z.string().min(1).optional().describe('the reason code (see the runbook)'),
    errorMeaning: z.string().optional(),
    errorMessage: z.string().optional().describe('redacted: no secret, no URL signature'),
    retryable: z.boolean().optional(),
    vendorIds: z.record(z.string(), z.unknown()).describe('ids the vendor gave the file'),
    vendorId: z.string().optional(),
    vendorJob: z
      .object({
        state: z.string().optional(),
        phase: z.string().optional(),
        stats: RowStatsSchema.optional(),
        detail: z.record(z.string(), z.unknown()).optional(),
      })
      .optional()
      .describe("the vendor's own job, for vendors that publish one"),
    note: z.string().optional(),
    resultDocument: z.string().startsWith('s3://'),
    errorFile: z
      .string()
      .startsWith('s3://')
      .optional()
      .describe("the vendor's file of rejected rows, copied"),
    attempts: z.object({
      dispatch: z.number().int().nonnegative(),
      completion: z.number().int().nonnegative(),
    }),
    replays: z.number().int().positive().optional(),
    timings: z.object({
      droppedAt: Iso,
      uploadedAt: Iso.optional(),
      completedAt: Iso.optional(),
      decidedAt: Iso,
      totalMs: z.number().nonnegative(),
    }),
  })
  .strict();
export type DeliveryEventDetail = z.infer<typeof DeliveryEventDetailSchema>;

/** The version part of result keys: the version id, or the identity of an unversioned write. */
function versionLabel(record: Pick<DeliveryRecord, 'versionId' | 'sk'>): string {
  return record.versionId ?? record.sk.replace(/^e#/, 'etag-').replaceAll('#', '-');
}

/** Key of a delivery's result document under the results prefix. */
export function resultKeyOf(
  prefix: string,
  record: Pick<DeliveryRecord, 'key' | 'versionId' | 'sk'>,
): string {
  return `${prefix}${record.key}/${versionLabel(record)}.json`;
}

/** Key of the vendor's error file fetched for a delivery. */
export function errorFileKeyOf(
  prefix: string,
  record: Pick<DeliveryRecord, 'key' | 'versionId' | 'sk'>,
  extension: string,
): string {
  return `${prefix}${record.key}/${versionLabel(record)}.errors.${extension}`;
}

export interface OutcomeDeps {
  readonly s3: S3Client;
  readonly events: EventBridgeClient;
  readonly busName: string;
  readonly stackName: string;
  readonly resultsPrefix: string;
  readonly tagObjects: boolean;
  readonly metrics: PipelineMetrics;
}

export interface OutcomeExtras {
  readonly note?: string;
  /** Key (in the ingest bucket) of the vendor's error file, fetched into the results prefix. */
  readonly errorFileKey?: string;
  /** The vendor's row counts, when its job reports them. */
  readonly stats?: RowStats | undefined;
}

/** The detail of a delivery's outcome event (and its result document), from its ledger record. */
export function outcomeDetail(
  deps: Pick<OutcomeDeps, 'stackName' | 'resultsPrefix'>,
  record: DeliveryRecord,
  outcome: DeliveryOutcome,
  extras: OutcomeExtras = {},
): DeliveryEventDetail {
  const refs = (record.refs ?? {}) as Record<string, unknown>;
  const vendorId = VENDOR_ID_REFS.map((name) => refs[name]).find((v) => typeof v === 'string' && v !== '');
  const code = record.reason as ErrorCode | undefined;
  const spec = code
    ? (ERROR_TABLE as Record<string, { meaning: string; retryable: boolean } | undefined>)[code]
    : undefined;
  const decidedAt = record.outcomeAt ?? record.updatedAt;
  const stats = extras.stats;
  const hasJob = record.vendorState !== undefined || stats !== undefined || record.vendorDetail !== undefined;
  return {
    schemaVersion: DETAIL_SCHEMA_VERSION,
    eventId: `${record.deliveryId}#${decidedAt}#${outcome}`,
    stack: deps.stackName,
    deliveryId: record.deliveryId,
    bucket: record.bucket,
    key: record.key,
    ...(record.versionId ? { versionId: record.versionId } : {}),
    ...(record.size !== undefined ? { size: record.size } : {}),
    ...(record.routeId ? { route: record.routeId } : {}),
    ...(record.vendor ? { vendor: record.vendor } : {}),
    state: record.state,
    outcome,
    ...(code
      ? {
          errorCode: code,
          ...(spec ? { errorMeaning: spec.meaning, retryable: spec.retryable } : {}),
          ...(record.lastError ? { errorMessage: redactor.text(record.lastError).slice(0, 1000) } : {}),
        }
      : {}),
    vendorIds: refs,
    ...(typeof vendorId === 'string' ? { vendorId } : {}),
    ...(hasJob
      ? {
          vendorJob: {
            ...(record.vendorState ? { state: record.vendorState } : {}),
            ...(record.vendorPhase ? { phase: record.vendorPhase } : {}),
            ...(stats ? { stats } : {}),
            ...(record.vendorDetail ? { detail: record.vendorDetail } : {}),
          },
        }
      : {}),
    ...(extras.note ? { note: extras.note } : {}),
    resultDocument: `s3://${record.bucket}/${resultKeyOf(deps.resultsPrefix, record)}`,
    ...(extras.errorFileKey ? { errorFile: `s3://${record.bucket}/${extras.errorFileKey}` } : {}),
    attempts: { dispatch: record.attempts ?? 0, completion: record.completionAttempts ?? 0 },
    ...(record.replays ? { replays: record.replays } : {}),
    timings: {
      droppedAt: record.createdAt,
      ...(record.uploadedAt ? { uploadedAt: record.uploadedAt } : {}),
      ...(record.completedAt ? { completedAt: record.completedAt } : {}),
      decidedAt,
      totalMs: Math.max(0, Date.parse(decidedAt) - Date.parse(record.createdAt)),
    },
  };
}

/** Tries `work` up to three times (transient AWS errors), 200 ms then 800 ms apart. */
async function withRetries<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= 3) throw error;
      await sleep(200 * 4 ** (attempt - 1));
    }
  }
}

/**
 * Announces a decided outcome: the result document, the event, the tags, the per-route metrics. Each
 * step is idempotent and retried; one that still fails is logged (`announce failed`) and the others go
 * on: the delivery itself is done. A crash before this finishes is made good when the message that
 * decided the outcome comes back (the ledger records which one, `decidedBy`). Events may then repeat:
 * `detail.eventId` is the same, for consumers to deduplicate.
 */
export async function announceOutcome(
  deps: OutcomeDeps,
  record: DeliveryRecord,
  outcome: DeliveryOutcome,
  log: CoreLogger,
  extras: OutcomeExtras = {},
): Promise<DeliveryEventDetail> {
  const detail = outcomeDetail(deps, record, outcome, extras);
  const steps: Array<[string, () => Promise<unknown>]> = [
    [
      'result document',
      () =>
        deps.s3.send(
          new PutObjectCommand({
            Bucket: record.bucket,
            Key: resultKeyOf(deps.resultsPrefix, record),
            Body: `${JSON.stringify(detail, null, 2)}\n`,
            ContentType: 'application/json',
          }),
        ),
    ],
    [
      'event',
      async () => {
        const out = await deps.events.send(
          new PutEventsCommand({
            Entries: [
              {
                Source: EVENT_SOURCE,
                DetailType: DetailType[outcome],
                Detail: JSON.stringify(detail),
                EventBusName: deps.busName,
                Resources: [`arn:aws:s3:::${record.bucket}/${record.key}`],
              },
            ],
          }),
        );
        if ((out.FailedEntryCount ?? 0) > 0) {
          throw new RetryableError(
            ErrorCode.INTERNAL,
            `PutEvents refused the event: ${out.Entries?.[0]?.ErrorCode ?? 'unknown'}`,
          );
        }
      },
    ],
  ];
  if (deps.tagObjects && record.versionId) {
    steps.push(['tags', () => tagObject(deps.s3, record, outcome, detail.vendorId)]);
  }
  // Independent of each other: done side by side.
  await Promise.all(
    steps.map(async ([what, step]) => {
      try {
        await withRetries(step);
      } catch (error) {
        log.error('announce failed', { step: what, outcome, error: errorMessageOf(error) });
      }
    }),
  );
  if (record.routeId) {
    const metric =
      outcome === 'succeeded'
        ? MetricName.DeliverySucceeded
        : outcome === 'failed'
          ? MetricName.DeliveryFailed
          : MetricName.DeliveryNeedsAttention;
    deps.metrics.countRoute(metric, record.routeId);
    if (extras.stats?.accepted !== undefined)
      deps.metrics.countRoute(MetricName.RowsAccepted, record.routeId, extras.stats.accepted);
    if (extras.stats?.rejected !== undefined)
      deps.metrics.countRoute(MetricName.RowsRejected, record.routeId, extras.stats.rejected);
  }
  log.info('outcome announced', {
    outcome,
    detailType: DetailType[outcome],
    eventId: detail.eventId,
    resultDocument: detail.resultDocument,
    ...(detail.errorFile ? { errorFile: detail.errorFile } : {}),
    ...(extras.stats ? { rows: extras.stats } : {}),
  });
  return detail;
}

/**
 * A delivery still waiting for its vendor past the attention threshold: one "Needs Attention" event
 * (its outcome is not decided; the delivery goes on waiting, and announces its end state later).
 */
export async function announceWaiting(
  deps: OutcomeDeps,
  record: DeliveryRecord,
  log: CoreLogger,
  message: string,
): Promise<void> {
  const detail = {
    ...outcomeDetail(deps, record, 'attention'),
    eventId: `${record.deliveryId}#waiting#${record.waitingSince ?? ''}`,
    errorCode: 'VENDOR_DOWN',
    errorMeaning: ERROR_TABLE.VENDOR_DOWN.meaning,
    errorMessage: redactor.text(message).slice(0, 1000),
    retryable: true,
    note: `still waiting for the vendor since ${record.waitingSince ?? 'a while'}; the delivery goes on by itself when the vendor answers again`,
  };
  try {
    await withRetries(() =>
      deps.events.send(
        new PutEventsCommand({
          Entries: [
            {
              Source: EVENT_SOURCE,
              DetailType: DetailType.attention,
              Detail: JSON.stringify(detail),
              EventBusName: deps.busName,
            },
          ],
        }),
      ),
    );
    if (record.routeId) deps.metrics.countRoute(MetricName.DeliveryNeedsAttention, record.routeId);
    log.warn('delivery waiting past the attention threshold: announced', { eventId: detail.eventId });
  } catch (error) {
    log.error('announce failed', { step: 'waiting event', error: errorMessageOf(error) });
  }
}

/** Merges the outcome tags into the object version's tag set (a producer's own tags stay). */
async function tagObject(
  s3: S3Client,
  record: DeliveryRecord,
  outcome: DeliveryOutcome,
  vendorId: string | undefined,
): Promise<void> {
  const current = await s3.send(
    new GetObjectTaggingCommand({ Bucket: record.bucket, Key: record.key, VersionId: record.versionId }),
  );
  const ours = new Set<string>(Object.values(OutcomeTag));
  const kept: Tag[] = (current.TagSet ?? []).filter((tag) => !ours.has(tag.Key ?? ''));
  const tags: Tag[] = [
    ...kept,
    { Key: OutcomeTag.STATE, Value: outcome },
    ...(vendorId ? [{ Key: OutcomeTag.VENDOR_ID, Value: tagValue(vendorId) }] : []),
  ].slice(0, 10);
  await s3.send(
    new PutObjectTaggingCommand({
      Bucket: record.bucket,
      Key: record.key,
      VersionId: record.versionId,
      Tagging: { TagSet: tags },
    }),
  );
}

/** S3 tag values: at most 256 characters of letters, digits, spaces and `+ - = . _ : / @`. */
function tagValue(value: string): string {
  return value.replace(/[^\p{L}\p{N} +\-=._:/@]/gu, '_').slice(0, 256);
}

/** What the cores call to announce outcomes (the real one, or a test's recorder). */
export interface Announcer {
  /** Key prefix of result documents and error files (for the error file a completion copies). */
  readonly resultsPrefix: string;
  outcome(
    record: DeliveryRecord,
    outcome: DeliveryOutcome,
    log: CoreLogger,
    extras?: OutcomeExtras,
  ): Promise<void>;
  waiting(record: DeliveryRecord, log: CoreLogger, message: string): Promise<void>;
}

export function createAnnouncer(deps: OutcomeDeps): Announcer {
  return {
    resultsPrefix: deps.resultsPrefix,
    async outcome(record, outcome, log, extras) {
      await announceOutcome(deps, record, outcome, log, extras);
    },
    waiting: (record, log, message) => announceWaiting(deps, record, log, message),
  };
}

/**
 * A delivery waiting for its vendor past the attention threshold is announced once as needing
 * attention (the message carries that it was); it goes on waiting.
 */
export async function announceLongWait(
  deps: {
    readonly announcer: Announcer;
    readonly attentionAfterMs: number;
    readonly ledger: Pick<DeliveryLedger, 'get'>;
  },
  ctx: RecordContext,
  key: DeliveryKey,
  error: unknown,
  log: CoreLogger,
): Promise<void> {
  if (!waitsForVendor(error) || ctx.notes.attentionAnnounced || ctx.waitingSince === undefined) return;
  if (Date.now() - ctx.waitingSince < deps.attentionAfterMs) return;
  const record = await deps.ledger.get(key);
  if (!record) return;
  await deps.announcer.waiting(
    { ...record, waitingSince: record.waitingSince ?? new Date(ctx.waitingSince).toISOString() },
    log,
    errorMessageOf(error),
  );
  ctx.notes.attentionAnnounced = true;
}
