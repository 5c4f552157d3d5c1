import { describe, expect, it } from 'vitest';
import { LedgerAdmin } from '../../../../cli/ledger-admin';
import type { ObjectRef } from '../../../../functions/shared/messages';
import {
  DeliveryLedger,
  DeliveryState,
  deliveryKeyOf,
  HISTORY_MAX,
} from '../../../../functions/shared/state/ledger';
import { useEmbeddedStack } from '../../../support/stack';

const stack = useEmbeddedStack();

function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

let n = 0;
function anObject(overrides: Partial<ObjectRef> = {}): ObjectRef {
  n++;
  return {
    bucket: 'ingest',
    key: `cleartax/sales/file-${n}.csv`,
    versionId: `v${n}`,
    eTag: `etag${n}`,
    size: 10,
    ...overrides,
  };
}

async function ledgerWithClock() {
  const tableName = stack.target.resources.stateTable;
  const time = clock();
  return { ledger: new DeliveryLedger({ doc: stack.aws.doc, tableName, now: time.now }), time };
}

/** The operator's side of the same table, on the same clock. */
const admin = (ledger: DeliveryLedger) =>
  new LedgerAdmin({ doc: stack.aws.doc, tableName: stack.target.resources.stateTable, now: ledger.now });

const begin = (ledger: DeliveryLedger, object: ObjectRef, owner: string, redrive = false) =>
  ledger.beginDispatch({ object, routeId: 'r', vendor: 'cleartax-gst', owner, leaseMs: 30_000, redrive });

describe('DeliveryLedger dispatch leases', () => {
  it('gives exactly one of several concurrent callers the lease; the others are told it is busy', async () => {
    const { ledger } = await ledgerWithClock();
    const objects = Array.from({ length: 20 }, () => anObject());

    const results = await Promise.all(
      objects.map((object) => Promise.all(['A', 'B', 'C'].map((owner) => begin(ledger, object, owner)))),
    );

    for (const outcomes of results) {
      expect(outcomes.map((o) => o.outcome).sort()).toEqual(['acquired', 'busy', 'busy']);
    }
    const record = await ledger.get(deliveryKeyOf(objects[0] as ObjectRef));
    expect(record?.state).toBe(DeliveryState.UPLOADING);
    expect(record?.attempts).toBe(1);
  });

  it('lets another worker take over once the lease has expired (a crashed attempt)', async () => {
    const { ledger, time } = await ledgerWithClock();
    const object = anObject();
    await begin(ledger, object, 'A');

    time.advance(30_001);
    const takeover = await begin(ledger, object, 'B');

    expect(takeover.outcome).toBe('acquired');
    expect(takeover.outcome === 'acquired' && takeover.record.leaseOwner).toBe('B');
    expect(takeover.outcome === 'acquired' && takeover.record.attempts).toBe(2);
  });

  it('holds a duplicate notification back while a live worker completes, and resends the completion once its lease lapsed', async () => {
    const { ledger, time } = await ledgerWithClock();
    const object = anObject();
    const key = deliveryKeyOf(object);
    await begin(ledger, object, 'A');
    await ledger.markUploaded(key, 'A', {
      refs: { uploadId: 'u1' },
      completionMessage: '{"m":1}',
    });
    await ledger.beginCompletion(key, { owner: 'C', leaseMs: 30_000, retryAmbiguous: false, redrive: false });

    const whileHeld = await begin(ledger, object, 'B');
    time.advance(30_001);
    const afterCrash = await begin(ledger, object, 'B');

    expect(whileHeld.outcome).toBe('busy');
    expect(whileHeld.record.state).toBe(DeliveryState.COMPLETING);
    expect(afterCrash.outcome).toBe('resend-completion');
    expect(afterCrash.record.completionMessage).toBe('{"m":1}');
  });

  it('completes at once from the dispatch: COMPLETING under the same lease, refs and message kept for a hand-over', async () => {
    const { ledger, time } = await ledgerWithClock();
    const object = anObject();
    const key = deliveryKeyOf(object);
    await begin(ledger, object, 'A');

    const completing = await ledger.markCompleting(key, 'A', {
      refs: { uploadId: 'u1' },
      completionMessage: '{"m":1}',
      leaseMs: 60_000,
    });
    const intruder = ledger.markCompleting(key, 'B', {
      refs: { uploadId: 'u2' },
      completionMessage: '{"m":2}',
      leaseMs: 60_000,
    });
    await expect(intruder).rejects.toThrow();
    const duplicate = await begin(ledger, object, 'B');
    time.advance(60_001);
    const afterCrash = await begin(ledger, object, 'B');

    expect(completing).toMatchObject({
      state: DeliveryState.COMPLETING,
      leaseOwner: 'A',
      refs: { uploadId: 'u1' },
      completionMessage: '{"m":1}',
      completionAttempts: 1,
    });
    expect(duplicate.outcome).toBe('busy');
    expect(afterCrash.outcome).toBe('resend-completion');
  });

  it('hands an inline completion over to the completion queue: lease lapsed, reason kept, taken by the next worker', async () => {
    const { ledger } = await ledgerWithClock();
    const object = anObject();
    const key = deliveryKeyOf(object);
    await begin(ledger, object, 'A');
    await ledger.markCompleting(key, 'A', {
      refs: { uploadId: 'u1' },
      completionMessage: '{"m":1}',
      leaseMs: 60_000,
    });

    const handedOver = await ledger.handOverCompletion(key, 'A', {
      code: 'VENDOR_TIMEOUT',
      message: 'socket hang up',
    });
    const next = await ledger.beginCompletion(key, {
      owner: 'C',
      leaseMs: 30_000,
      retryAmbiguous: true,
      redrive: false,
    });

    expect(handedOver.written).toBe(true);
    expect(handedOver.written && handedOver.record).toMatchObject({
      state: DeliveryState.COMPLETING,
      reason: 'VENDOR_TIMEOUT',
      lastError: 'socket hang up',
    });
    expect(next.outcome).toBe('acquired');
  });

  it('asks for the stored completion message to be sent again on any later receive of an uploaded version', async () => {
    const { ledger, time } = await ledgerWithClock();
    const object = anObject();
    await begin(ledger, object, 'A');
    const uploaded = await ledger.markUploaded(deliveryKeyOf(object), 'A', {
      refs: {},
      completionMessage: '{"m":1}',
    });

    const soon = await begin(ledger, object, 'B');
    time.advance(30_001);
    const later = await begin(ledger, object, 'C');

    // The upload ends the dispatch lease: whether the sender died or a duplicate arrived, sending the
    // stored message again is harmless, the completion lease admits one.
    expect(uploaded.leaseOwner).toBeUndefined();
    expect(soon.outcome).toBe('resend-completion');
    expect(later.outcome).toBe('resend-completion');
    expect(later.record.completionMessage).toBe('{"m":1}');
  });

  it('refuses to record an upload for a worker that lost its lease', async () => {
    const { ledger, time } = await ledgerWithClock();
    const object = anObject();
    await begin(ledger, object, 'A');
    time.advance(30_001);
    await begin(ledger, object, 'B');

    await expect(
      ledger.markUploaded(deliveryKeyOf(object), 'A', { refs: {}, completionMessage: '{}' }),
    ).rejects.toThrow(/lease lost/);
  });

  it('keeps a permanently failed version failed for duplicates but retries it on redrive', async () => {
    const { ledger } = await ledgerWithClock();
    const object = anObject();
    await begin(ledger, object, 'A');
    await ledger.failDispatch(deliveryKeyOf(object), 'A', {
      code: 'VENDOR_REJECTED',
      message: 'nope',
      final: true,
    });

    const duplicate = await begin(ledger, object, 'B');
    const redriven = await begin(ledger, object, 'C', true);

    expect(duplicate.outcome).toBe('done');
    expect(duplicate.record.reason).toBe('VENDOR_REJECTED');
    expect(redriven.outcome).toBe('acquired');
  });

  it('releases the lease on a retryable failure so the next receive retries at once', async () => {
    const { ledger } = await ledgerWithClock();
    const object = anObject();
    await begin(ledger, object, 'A');
    await ledger.failDispatch(deliveryKeyOf(object), 'A', {
      code: 'NETWORK',
      message: 'reset',
      final: false,
    });

    const retry = await begin(ledger, object, 'B');

    expect(retry.outcome).toBe('acquired');
    expect(retry.outcome === 'acquired' && retry.record.lastError).toBe('reset');
  });

  it('records failures before any lease (no route) without overwriting a version that got further', async () => {
    const { ledger } = await ledgerWithClock();
    const unrouted = anObject({ key: 'nowhere/x.csv' });
    const delivered = anObject();
    await begin(ledger, delivered, 'A');
    await ledger.markUploaded(deliveryKeyOf(delivered), 'A', {
      refs: {},
      completionMessage: '{}',
    });

    await ledger.refuseDispatch(unrouted, { code: 'NO_ROUTE', message: 'no route', redrive: false });
    const late = await ledger.refuseDispatch(delivered, {
      code: 'NO_ROUTE',
      message: 'late duplicate',
      redrive: false,
    });

    expect(late.written).toBe(false);
    expect(await ledger.get(deliveryKeyOf(unrouted))).toMatchObject({
      state: DeliveryState.FAILED,
      outcome: 'failed',
      reason: 'NO_ROUTE',
      failedStep: 'dispatch',
    });
    expect((await ledger.get(deliveryKeyOf(delivered)))?.state).toBe(DeliveryState.UPLOADED);
  });

  it('treats a new version of the same key as a new delivery', async () => {
    const { ledger } = await ledgerWithClock();
    const first = anObject();
    const second = { ...first, versionId: 'v-next', eTag: 'other' };
    await begin(ledger, first, 'A');

    const next = await begin(ledger, second, 'B');

    expect(next.outcome).toBe('acquired');
    expect(deliveryKeyOf(second).pk).toBe(deliveryKeyOf(first).pk);
    expect(await ledger.get(deliveryKeyOf(first))).toMatchObject({ state: 'UPLOADING', leaseOwner: 'A' });
  });
});

describe('DeliveryLedger completion leases', () => {
  async function uploaded() {
    const setup = await ledgerWithClock();
    const object = anObject();
    const key = deliveryKeyOf(object);
    await begin(setup.ledger, object, 'D');
    await setup.ledger.markUploaded(key, 'D', {
      refs: { uploadId: 'u' },
      completionMessage: '{}',
    });
    return { ...setup, key };
  }
  const opts = (owner: string, retryAmbiguous = false, redrive = false) => ({
    owner,
    leaseMs: 10_000,
    retryAmbiguous,
    redrive,
  });

  it('lets exactly one of two concurrent completion messages call the vendor', async () => {
    const { ledger, key } = await uploaded();

    const [a, b] = await Promise.all([
      ledger.beginCompletion(key, opts('A')),
      ledger.beginCompletion(key, opts('B')),
    ]);

    expect([a.outcome, b.outcome].sort()).toEqual(['acquired', 'busy']);
  });

  it('answers done after completion, keeping the vendor refs', async () => {
    const { ledger, key } = await uploaded();
    await ledger.beginCompletion(key, opts('A'));
    await ledger.markCompleted(key, 'A', { refs: { activityId: 'act-1' }, vendorState: 'ACTIVITY_CREATED' });

    const again = await ledger.beginCompletion(key, opts('B'));

    expect(again.outcome).toBe('done');
    expect(again.outcome === 'done' && again.record.refs).toEqual({ uploadId: 'u', activityId: 'act-1' });
  });

  it('reports a completion whose worker died mid-call as uncertain unless the vendor is idempotent', async () => {
    const { ledger, key, time } = await uploaded();
    await ledger.beginCompletion(key, opts('A'));
    time.advance(10_001);

    const strict = await ledger.beginCompletion(key, opts('B'));
    const idempotent = await ledger.beginCompletion(key, opts('C', true));

    expect(strict.outcome).toBe('uncertain');
    expect(idempotent.outcome).toBe('acquired');
  });

  it('parks an uncertain completion until an operator resolves it', async () => {
    const { ledger, key } = await uploaded();
    await ledger.beginCompletion(key, opts('A'));
    await ledger.markUncertain(key, 'sent, no answer');

    const parked = await ledger.get(key);
    const redelivered = await ledger.beginCompletion(key, opts('B', false, true));
    const resolved = await admin(ledger).resolve(key, 'retry', 'ops@example.com');
    const retried = await ledger.beginCompletion(key, opts('C'));

    expect(parked).toMatchObject({ state: 'COMPLETION_UNCERTAIN', outcome: 'attention' });
    expect(redelivered.outcome).toBe('uncertain');
    expect(resolved?.state).toBe(DeliveryState.UPLOADED);
    expect(resolved?.outcome).toBeUndefined();
    expect(retried.outcome).toBe('acquired');
  });

  it('goes back to UPLOADED after a definite vendor failure, and to FAILED when final', async () => {
    const { ledger, key } = await uploaded();
    await ledger.beginCompletion(key, opts('A'));
    await ledger.failCompletion(key, 'A', {
      code: 'VENDOR_UNAVAILABLE',
      message: '500',
      final: false,
    });
    const second = await ledger.beginCompletion(key, opts('B'));
    await ledger.failCompletion(key, 'B', { code: 'VENDOR_REJECTED', message: '400', final: true });

    const duplicate = await ledger.beginCompletion(key, opts('C'));
    const redrive = await ledger.beginCompletion(key, opts('D', false, true));

    expect(second.outcome).toBe('acquired');
    expect(duplicate.outcome).toBe('done');
    expect(duplicate.outcome === 'done' && duplicate.record.state).toBe(DeliveryState.FAILED);
    expect(redrive.outcome).toBe('acquired');
  });

  it('merges checkpointed refs so a retry can skip finished steps', async () => {
    const { ledger, key } = await uploaded();
    await ledger.beginCompletion(key, opts('A'));

    await ledger.checkpoint(key, 'A', { multipartCompleted: true });

    expect((await ledger.get(key))?.refs).toEqual({ uploadId: 'u', multipartCompleted: true });
    await expect(ledger.checkpoint(key, 'someone-else', { x: 1 })).rejects.toThrow(/lease lost/);
  });

  it('replays a delivered version on operator request and lists versions by state and route', async () => {
    const { ledger, key, time } = await uploaded();
    await ledger.beginCompletion(key, opts('A'));
    await ledger.markCompleted(key, 'A', { refs: {}, vendorState: undefined, outcome: 'succeeded' });
    time.advance(1000);

    const replay = await admin(ledger).replay(key, 'ops@example.com');
    const record = await ledger.get(key);

    expect(replay?.state).toBe(DeliveryState.RECEIVED);
    expect(replay?.outcome).toBeUndefined();
    expect(record?.replays).toBe(1);
    expect(record?.history?.map((h) => h.state)).toEqual([
      'UPLOADING',
      'UPLOADED',
      'COMPLETING',
      'COMPLETED',
      'RECEIVED',
    ]);
    const received = await admin(ledger).listByState(DeliveryState.RECEIVED, { limit: 500 });
    expect(received.map((r) => r.pk)).toContain(key.pk);
    const byRoute = await admin(ledger).listByRoute('r', { limit: 500, keyPrefix: record?.key });
    expect(byRoute.map((r) => r.sk)).toEqual([key.sk]);
  });
});

describe('DeliveryLedger retention', () => {
  const DAY = 86_400;
  const opts = (owner: string) => ({ owner, leaseMs: 10_000, retryAmbiguous: false, redrive: false });

  it('gives an item expiresAt when it reaches a terminal state, from the retention days', async () => {
    const tableName = stack.target.resources.stateTable;
    const time = clock();
    const ledger = new DeliveryLedger({ doc: stack.aws.doc, tableName, now: time.now, retentionDays: 7 });
    const object = anObject();
    const key = deliveryKeyOf(object);
    await begin(ledger, object, 'A');

    const inFlight = await ledger.get(key);
    await ledger.markUploaded(key, 'A', { refs: {}, completionMessage: '{}' });
    await ledger.beginCompletion(key, opts('A'));
    const done = await ledger.markCompleted(key, 'A', { refs: {}, vendorState: undefined });

    expect(inFlight?.expiresAt).toBeUndefined();
    expect(done.expiresAt).toBe(Math.floor(time.now() / 1000) + 7 * DAY);
  });

  it('defaults to 90 days, and stops the clock when an operator brings an item back', async () => {
    const { ledger, time } = await ledgerWithClock();
    const object = anObject();
    const key = deliveryKeyOf(object);
    await begin(ledger, object, 'A');
    await ledger.failDispatch(key, 'A', { code: 'FILE_REJECTED', message: 'no', final: true });
    const failed = await ledger.get(key);
    const failedAt = Math.floor(time.now() / 1000);

    time.advance(1000);
    const replayed = await admin(ledger).replay(key, 'ops@example.com');

    expect(failed?.expiresAt).toBe(failedAt + 90 * DAY);
    expect(replayed?.state).toBe(DeliveryState.RECEIVED);
    expect(replayed?.expiresAt).toBeUndefined();
  });

  it(`keeps at most ${HISTORY_MAX} history entries, dropping the oldest and counting them`, async () => {
    const { ledger } = await ledgerWithClock();
    const object = anObject();
    const key = deliveryKeyOf(object);
    // Every receive of a failing delivery adds UPLOADING; a long outage adds dozens.
    for (let attempt = 0; attempt < HISTORY_MAX + 5; attempt++) {
      await begin(ledger, object, `worker-${attempt}`);
      await ledger.failDispatch(key, `worker-${attempt}`, {
        code: 'VENDOR_UNAVAILABLE',
        message: `attempt ${attempt}`,
        final: false,
      });
    }

    const record = await ledger.get(key);

    const kept = record?.history?.length ?? 0;
    expect(kept).toBeLessThanOrEqual(HISTORY_MAX);
    expect(kept + (record?.historyDropped ?? 0)).toBe(HISTORY_MAX + 5);
    expect(record?.attempts).toBe(HISTORY_MAX + 5);
  });
});

describe('DeliveryLedger reads', () => {
  it('decides busy or done from the refused write itself, without a second read', async () => {
    const tableName = stack.target.resources.stateTable;
    let reads = 0;
    const send = stack.aws.doc.send.bind(stack.aws.doc);
    const doc = {
      send: (command: Parameters<typeof send>[0], ...rest: unknown[]) => {
        if (command.constructor.name === 'GetCommand') reads++;
        return (send as (...args: unknown[]) => unknown)(command, ...rest);
      },
    } as unknown as typeof stack.aws.doc;
    const ledger = new DeliveryLedger({ doc, tableName });
    const object = anObject();

    const first = await begin(ledger, object, 'A');
    const second = await begin(ledger, object, 'B');

    expect(first.outcome).toBe('acquired');
    expect(second).toMatchObject({ outcome: 'busy', record: { leaseOwner: 'A' } });
    expect(reads).toBe(0);
  });
});
