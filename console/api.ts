import { type OperatorAction, recordAction } from '../cli/audit';
import {
  deliveries,
  delivery,
  deliveryResult,
  dlqDelete,
  dlqList,
  recordOfDlqMessage,
  redrive,
  redriveMessage,
  replay,
  resolve,
  resultsOf,
} from '../cli/operations';
import { vendorStats, WINDOWS, type WindowName } from '../cli/stats';
import type { Target } from '../cli/target';
import { type DeliveryRecord, DeliveryState } from '../functions/shared/state/ledger';

/**
 * The console's HTTP API. Every handler calls the operations the CLI's commands call
 * (cli/operations.ts, cli/ledger-admin.ts, cli/stats.ts): there is no second implementation of any
 * listing or action here, only argument checking and the shape of the answers.
 *
 * Reads: GET /api/overview, /api/deliveries, /api/delivery, /api/delivery/result, /api/dlq,
 * /api/vendors, /api/actions (and /api/events, server-sent events, in watch.ts). Actions (POST,
 * JSON body with `"confirmed": true`): /api/dlq/redrive, /api/dlq/delete, /api/replay, /api/resolve.
 */

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** One operator action taken through the console, as recorded (cli/audit.ts, shared with the CLI). */
export type ConsoleAction = OperatorAction;

export interface ApiContext {
  readonly target: Target;
  readonly operator: string;
  readonly actions: readonly ConsoleAction[];
  record(action: ConsoleAction): void;
}

export interface ApiRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly body: unknown;
}

export type ApiResponse =
  | { readonly kind: 'json'; readonly value: unknown }
  | {
      readonly kind: 'file';
      readonly body: Uint8Array;
      readonly contentType: string;
      readonly fileName: string;
    };

const STATES = Object.values(DeliveryState) as string[];

function param(q: URLSearchParams, name: string): string | undefined {
  const v = q.get(name);
  return v === null || v === '' ? undefined : v;
}

function isoParam(q: URLSearchParams, name: string): string | undefined {
  const v = param(q, name);
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw new HttpError(400, `${name}: not a time ("${v}")`);
  return new Date(t).toISOString();
}

function bodyOf(req: ApiRequest): Record<string, unknown> {
  const body = req.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new HttpError(400, 'the body must be a JSON object');
  const b = body as Record<string, unknown>;
  if (b.confirmed !== true)
    throw new HttpError(400, 'an action needs "confirmed": true (the page asks the operator first)');
  return b;
}

function field(b: Record<string, unknown>, name: string, required: true): string;
function field(b: Record<string, unknown>, name: string, required?: false): string | undefined;
function field(b: Record<string, unknown>, name: string, required = false): string | undefined {
  const v = b[name];
  if (v === undefined || v === null || v === '') {
    if (required) throw new HttpError(400, `"${name}" is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw new HttpError(400, `"${name}" must be a string`);
  return v;
}

/** A delivery as the list shows it. */
function summary(r: DeliveryRecord) {
  return {
    key: r.key,
    sk: r.sk,
    versionId: r.versionId,
    deliveryId: r.deliveryId,
    routeId: r.routeId,
    vendor: r.vendor,
    state: r.state,
    outcome: r.outcome,
    size: r.size,
    reason: r.reason,
    vendorState: r.vendorState,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    completedAt: r.completedAt,
  };
}

function ms(from: string | undefined, to: string | undefined): number | undefined {
  const a = Date.parse(from ?? '');
  const b = Date.parse(to ?? '');
  return Number.isFinite(a) && Number.isFinite(b) ? Math.max(0, b - a) : undefined;
}

/** One delivery with its timeline and durations, as the delivery page shows it. */
function detail(target: Target, record: DeliveryRecord, versions: readonly DeliveryRecord[]) {
  const history = record.history ?? [];
  const timeline = history.map((h, i) => ({
    at: h.at,
    state: h.state,
    note: h.note,
    sincePreviousMs: i === 0 ? ms(record.createdAt, h.at) : ms(history[i - 1]?.at, h.at),
    sinceCreatedMs: ms(record.createdAt, h.at),
  }));
  const link = (which: 'document' | 'errorFile') => {
    const key = resultsOf(target, record)[which];
    if (!key) return undefined;
    const q = new URLSearchParams({ key: record.key, version: record.sk, which });
    return { key, href: `/api/delivery/result?${q}` };
  };
  return {
    record,
    versions: versions.map((v) => ({
      sk: v.sk,
      versionId: v.versionId,
      createdAt: v.createdAt,
      state: v.state,
    })),
    timeline,
    durations: {
      dropToUploadedMs: ms(record.createdAt, record.uploadedAt),
      uploadedToCompletedMs: ms(record.uploadedAt, record.completedAt),
      dropToCompletedMs: ms(record.createdAt, record.completedAt),
      completedToOutcomeMs: ms(record.completedAt, record.outcomeAt),
    },
    results: { document: link('document'), errorFile: link('errorFile') },
  };
}

/** Runs an action, records it (who, what, how it went: cli/audit.ts, as the CLI does) and returns its result. */
async function act<T>(
  ctx: ApiContext,
  action: string,
  subject: string,
  run: () => Promise<T>,
  describe: (value: T) => string,
): Promise<ApiResponse> {
  const actor = {
    operator: ctx.operator,
    via: 'console' as const,
    record: (a: ConsoleAction) => ctx.record(a),
  };
  const { value, result } = await recordAction(actor, action, subject, run, describe);
  return { kind: 'json', value: { ok: true, result, value } };
}

export async function routeApi(ctx: ApiContext, req: ApiRequest): Promise<ApiResponse> {
  const { target } = ctx;
  const q = req.query;
  const route = `${req.method} ${req.path}`;
  switch (route) {
    case 'GET /api/overview':
      return {
        kind: 'json',
        value: {
          stack: target.stackName,
          stage: target.stage,
          kind: target.kind,
          description: target.description,
          bucket: target.resources.bucket,
          operator: ctx.operator,
          routes: target.routes.map((r) => ({ id: r.id, prefix: r.prefix, vendor: r.vendor })),
          vendors: [...new Set(target.routes.map((r) => r.vendor))].sort(),
          states: STATES,
          queues: [...target.resources.intake.map((i) => i.routeId), 'completion'],
          windows: Object.keys(WINDOWS),
        },
      };
    case 'GET /api/deliveries': {
      const state = param(q, 'state');
      if (state && !STATES.includes(state)) throw new HttpError(400, `state: one of ${STATES.join(', ')}`);
      const limit = Number(param(q, 'limit') ?? 50);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new HttpError(400, 'limit: 1 to 500');
      const page = await deliveries(target, {
        route: param(q, 'route'),
        vendor: param(q, 'vendor'),
        state: state as DeliveryState | undefined,
        from: isoParam(q, 'from'),
        to: isoParam(q, 'to'),
        keyPrefix: param(q, 'prefix'),
        limit,
        cursor: param(q, 'cursor'),
      }).catch((error: unknown) => {
        if (error instanceof Error && /cursor|no route/.test(error.message))
          throw new HttpError(400, error.message);
        throw error;
      });
      return { kind: 'json', value: { items: page.items.map(summary), next: page.next } };
    }
    case 'GET /api/delivery': {
      const key = param(q, 'key');
      if (!key) throw new HttpError(400, 'key is required');
      const { record, versions } = await delivery(target, key, param(q, 'version'));
      return { kind: 'json', value: detail(target, record, versions) };
    }
    case 'GET /api/delivery/result': {
      const key = param(q, 'key');
      const which = param(q, 'which');
      if (!key) throw new HttpError(400, 'key is required');
      if (which !== 'document' && which !== 'errorFile')
        throw new HttpError(400, 'which: document or errorFile');
      const { record } = await delivery(target, key, param(q, 'version'));
      const out = await deliveryResult(target, record, which);
      return {
        kind: 'file',
        body: out.body,
        // Shown as text in the page's viewer whatever it is: never rendered as HTML from this origin.
        contentType: /json|csv|text|xml/.test(out.contentType)
          ? 'text/plain; charset=utf-8'
          : 'application/octet-stream',
        fileName: out.key.slice(out.key.lastIndexOf('/') + 1),
      };
    }
    case 'GET /api/dlq': {
      const messages = await dlqList(target, param(q, 'queue'));
      return { kind: 'json', value: { messages } };
    }
    case 'GET /api/vendors': {
      const window = (param(q, 'window') ?? '24h') as WindowName;
      if (!(window in WINDOWS)) throw new HttpError(400, `window: one of ${Object.keys(WINDOWS).join(', ')}`);
      return { kind: 'json', value: await vendorStats(target, window) };
    }
    case 'GET /api/actions':
      return { kind: 'json', value: { actions: ctx.actions } };
    case 'POST /api/dlq/redrive': {
      const b = bodyOf(req);
      const queue = field(b, 'queue');
      const messageId = field(b, 'messageId');
      if (messageId) {
        if (!queue) throw new HttpError(400, '"queue" is required with "messageId"');
        return act(
          ctx,
          'redrive',
          `${queue} DLQ message ${messageId}`,
          () => redriveMessage(target, queue, messageId),
          (m) => `${m.subject} moved back to the ${m.queue} queue`,
        );
      }
      return act(
        ctx,
        'redrive',
        queue ? `the ${queue} DLQ` : 'every DLQ',
        () => redrive(target, queue),
        (results) =>
          results
            .map(
              (r) =>
                `${r.queue}: ${r.moved === 'started' ? 'move task started' : `${r.moved} moved back`}${r.left ? `, ${r.left} in the DLQ now` : ''}`,
            )
            .join('; '),
      );
    }
    case 'POST /api/dlq/delete': {
      const b = bodyOf(req);
      const queue = field(b, 'queue', true);
      const messageId = field(b, 'messageId', true);
      return act(
        ctx,
        'delete',
        `${queue} DLQ message ${messageId}`,
        () => dlqDelete(target, queue, messageId),
        (m) => `deleted (${m.subject}, ${m.errorCode})`,
      );
    }
    case 'POST /api/replay': {
      const b = bodyOf(req);
      const key = field(b, 'key', true);
      return act(
        ctx,
        'replay',
        key,
        () => replay(target, key, ctx.operator, field(b, 'version')),
        (r) => `replay #${r.replays ?? 1} of ${r.deliveryId}: back in ${r.state}, notification queued`,
      );
    }
    case 'POST /api/resolve': {
      const b = bodyOf(req);
      const key = field(b, 'key', true);
      const as = field(b, 'as', true);
      if (as !== 'completed' && as !== 'retry') throw new HttpError(400, '"as": completed or retry');
      const queue = field(b, 'queue');
      const messageId = field(b, 'messageId');
      return act(
        ctx,
        `resolve as ${as}`,
        key,
        async () => {
          const record = await resolve(target, key, as, ctx.operator, field(b, 'version'));
          // Resolved from its parked message: the message is obsolete (completed: nothing to do;
          // retry: resolve sent the completion again), so it leaves the DLQ.
          if (queue && messageId) await dlqDelete(target, queue, messageId);
          return record;
        },
        (r) => `${r.deliveryId} is now ${r.state}${queue && messageId ? '; its parked message deleted' : ''}`,
      );
    }
    case 'GET /api/dlq/record': {
      const subject = param(q, 'subject');
      if (!subject) throw new HttpError(400, 'subject is required');
      const record = await recordOfDlqMessage(target, { subject, deliveryId: param(q, 'deliveryId') });
      return { kind: 'json', value: { record: record ? summary(record) : null } };
    }
    default:
      throw new HttpError(404, `no API ${route}`);
  }
}
