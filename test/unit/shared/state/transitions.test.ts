import { describe, expect, it } from 'vitest';
import { UpdateBuilder } from '../../../../functions/shared/state/dynamo';
import {
  applyTransition,
  conditionOf,
  type DeliveryOutcome,
  DeliveryState,
  type FailedStep,
  type GuardedItem,
  permits,
  TERMINAL_STATES,
  TRANSITIONS,
  type TransitionInput,
  type TransitionName,
} from '../../../../functions/shared/state/transitions';
import { evaluateCondition } from '../../../support/condition-eval';

const NOW = 1_700_000_000_000;
const ME = 'worker-me';
const NAMES = Object.keys(TRANSITIONS) as TransitionName[];
const STATES = Object.values(DeliveryState);

/** Every kind of item a guard can tell apart: each state × lease × failed step × outcome, and no item. */
function items(): Array<GuardedItem | undefined> {
  const leases: Array<Pick<GuardedItem, 'leaseOwner' | 'leaseUntil'>> = [
    {},
    { leaseOwner: ME, leaseUntil: NOW + 1000 },
    { leaseOwner: 'someone-else', leaseUntil: NOW + 1000 },
    { leaseOwner: ME, leaseUntil: NOW - 1 },
    { leaseOwner: 'someone-else', leaseUntil: NOW - 1 },
    { leaseOwner: ME, leaseUntil: 0 },
    { leaseOwner: ME, leaseUntil: NOW },
  ];
  const steps: Array<FailedStep | undefined> = [undefined, 'dispatch', 'complete'];
  const outcomes: Array<DeliveryOutcome | undefined> = [undefined, 'succeeded', 'attention'];
  const out: Array<GuardedItem | undefined> = [undefined];
  for (const state of STATES)
    for (const lease of leases)
      for (const failedStep of steps)
        for (const outcome of outcomes) out.push({ state, ...lease, failedStep, outcome });
  return out;
}

const FLAGS: Array<Pick<TransitionInput, 'redrive' | 'retryAmbiguous'>> = [
  {},
  { redrive: true },
  { retryAmbiguous: true },
  { redrive: true, retryAmbiguous: true },
];

function describeItem(item: GuardedItem | undefined): string {
  return item === undefined ? 'no item' : JSON.stringify(item);
}

describe('the ledger transition table', () => {
  it('generates conditions that DynamoDB would evaluate exactly as the table says, for every transition and item', () => {
    let checked = 0;
    for (const name of NAMES) {
      for (const flags of FLAGS) {
        const input: TransitionInput = { now: NOW, owner: ME, leaseMs: 1000, ...flags };
        const u = new UpdateBuilder();
        const expression = conditionOf(name, input, u);
        for (const item of items()) {
          const record = item === undefined ? undefined : { pk: 'd#b/k', ...item };
          const byDynamo = evaluateCondition({ expression, names: u.names, values: u.values }, record);
          const byTable = permits(name, item, input);
          expect(byDynamo, `${name} ${JSON.stringify(flags)} on ${describeItem(item)}: ${expression}`).toBe(
            byTable,
          );
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(10_000);
  });

  const allowed = (
    name: TransitionName,
    item: GuardedItem | undefined,
    flags: Partial<TransitionInput> = {},
  ): boolean => permits(name, item, { now: NOW, owner: ME, ...flags });
  const live = (owner = ME) => ({ leaseOwner: owner, leaseUntil: NOW + 1000 });
  const lapsed = (owner = 'someone-else') => ({ leaseOwner: owner, leaseUntil: NOW - 1 });

  it('lets dispatch take a version on first sight or from a lapsed worker, never from a live one', () => {
    expect(allowed('dispatch.begin', undefined)).toBe(true);
    expect(allowed('dispatch.begin', { state: 'UPLOADING', ...lapsed() })).toBe(true);
    expect(allowed('dispatch.begin', { state: 'RECEIVED' })).toBe(true);
    expect(allowed('dispatch.begin', { state: 'UPLOADING', ...live('someone-else') })).toBe(false);
    expect(allowed('dispatch.begin', { state: 'UPLOADING', ...live() })).toBe(false);
    for (const state of ['UPLOADED', 'COMPLETING', 'COMPLETED', 'DUPLICATE', 'COMPLETION_UNCERTAIN'] as const)
      expect(allowed('dispatch.begin', { state, ...lapsed() }), state).toBe(false);
  });

  it('retries a failed step only for a redriven message, and only that step', () => {
    const failedDispatch = { state: 'FAILED', failedStep: 'dispatch' } as const;
    const failedCompletion = { state: 'FAILED', failedStep: 'complete' } as const;
    expect(allowed('dispatch.begin', failedDispatch)).toBe(false);
    expect(allowed('dispatch.begin', failedDispatch, { redrive: true })).toBe(true);
    expect(allowed('dispatch.begin', failedCompletion, { redrive: true })).toBe(false);
    expect(allowed('completion.begin', failedCompletion)).toBe(false);
    expect(allowed('completion.begin', failedCompletion, { redrive: true })).toBe(true);
    expect(allowed('completion.begin', failedDispatch, { redrive: true })).toBe(false);
  });

  it('takes over a COMPLETING version whose worker died only when the route may retry an ambiguous completion', () => {
    const orphan = { state: 'COMPLETING', ...lapsed() } as const;
    expect(allowed('completion.begin', orphan)).toBe(false);
    expect(allowed('completion.begin', orphan, { retryAmbiguous: true })).toBe(true);
    expect(allowed('completion.begin', { state: 'COMPLETING', ...live('x') }, { retryAmbiguous: true })).toBe(
      false,
    );
    expect(allowed('completion.uncertain', orphan)).toBe(true);
    expect(allowed('completion.uncertain', { state: 'COMPLETION_UNCERTAIN' })).toBe(false);
  });

  it('lets only the lease holder record what its work did, even after its lease ran out', () => {
    for (const name of [
      'dispatch.uploaded',
      'dispatch.duplicate',
      'dispatch.retry',
      'dispatch.fail',
    ] as const) {
      expect(allowed(name, { state: 'UPLOADING', ...live() }), name).toBe(true);
      expect(allowed(name, { state: 'UPLOADING', ...live('other') }), name).toBe(false);
    }
    for (const name of [
      'completion.done',
      'completion.retry',
      'completion.fail',
      'completion.checkpoint',
    ] as const) {
      expect(allowed(name, { state: 'COMPLETING', ...lapsed(ME) }), name).toBe(true);
      expect(allowed(name, { state: 'COMPLETING', ...live('other') }), name).toBe(false);
    }
  });

  it('never refuses over a version that got further, except a redriven failure', () => {
    for (const state of ['UPLOADING', 'UPLOADED', 'COMPLETING', 'COMPLETED', 'DUPLICATE'] as const)
      expect(allowed('dispatch.refuse', { state }, { redrive: true }), state).toBe(false);
    expect(allowed('dispatch.refuse', { state: 'FAILED', failedStep: 'dispatch' })).toBe(false);
    expect(allowed('dispatch.refuse', { state: 'FAILED', failedStep: 'dispatch' }, { redrive: true })).toBe(
      true,
    );
    expect(allowed('dispatch.defer', { state: 'UPLOADING', ...live('other') })).toBe(false);
    expect(allowed('dispatch.defer', { state: 'UPLOADING', ...lapsed() })).toBe(true);
    expect(allowed('dispatch.defer', { state: 'UPLOADED' })).toBe(false);
    expect(allowed('dispatch.defer', undefined)).toBe(true);
    expect(allowed('completion.defer', { state: 'UPLOADED' })).toBe(true);
    for (const state of ['RECEIVED', 'UPLOADING', 'COMPLETING', 'COMPLETED', 'FAILED'] as const)
      expect(allowed('completion.defer', { state }), state).toBe(false);
    expect(allowed('completion.defer', undefined)).toBe(false);
  });

  it('decides a vendor verdict once, and only on a completed delivery', () => {
    expect(allowed('vendor.verdict', { state: 'COMPLETED' })).toBe(true);
    expect(allowed('vendor.verdict', { state: 'COMPLETED', outcome: 'succeeded' })).toBe(false);
    expect(allowed('vendor.verdict', { state: 'COMPLETED', outcome: 'failed' })).toBe(false);
    expect(allowed('vendor.verdict', { state: 'COMPLETING' })).toBe(false);
  });

  it('keeps operators off versions a worker holds', () => {
    expect(allowed('operator.replay', { state: 'UPLOADING', ...lapsed() })).toBe(false);
    expect(allowed('operator.replay', { state: 'COMPLETING', ...lapsed() })).toBe(false);
    expect(allowed('operator.replay', { state: 'COMPLETED' })).toBe(true);
    expect(allowed('operator.resolveCompleted', { state: 'COMPLETED' })).toBe(false);
    expect(allowed('operator.resolveRetry', { state: 'COMPLETION_UNCERTAIN' })).toBe(true);
  });

  it('decides an outcome on every transition into an end state, and clears it on every way back', () => {
    for (const name of NAMES) {
      const transition = TRANSITIONS[name] as { to?: DeliveryState; outcome?: string };
      if (transition.to === undefined) continue;
      if (TERMINAL_STATES.has(transition.to))
        expect(transition.outcome, `${name} → ${transition.to}`).toBeDefined();
      else if (['RECEIVED', 'UPLOADING', 'COMPLETING'].includes(transition.to) && name !== 'dispatch.defer')
        expect(transition.outcome, `${name} → ${transition.to}`).toBe('clear');
    }
  });
});

describe('applyTransition', () => {
  it('writes only the fields a transition declares', () => {
    expect(() =>
      applyTransition(
        'dispatch.retry',
        { now: NOW, owner: ME, values: { completionMessage: '{}' } },
        new UpdateBuilder(),
      ),
    ).toThrow(/does not write completionMessage/);
  });

  it('sets the outcome and who decided it, or clears both when a delivery starts over', () => {
    const decided = new UpdateBuilder();
    const out = applyTransition(
      'dispatch.fail',
      { now: NOW, owner: ME, outcome: 'failed', decidedBy: 'msg-1', values: { reason: 'X' } },
      decided,
    );
    expect(out.outcome).toBe('failed');
    expect(decided.expression()).toContain('#outcome');
    expect(Object.values(decided.values)).toEqual(expect.arrayContaining(['failed', 'msg-1']));

    const cleared = new UpdateBuilder();
    expect(applyTransition('dispatch.begin', { now: NOW, owner: ME, leaseMs: 5 }, cleared).clears).toBe(true);
    expect(cleared.expression()).toMatch(/REMOVE .*#outcome/);
  });

  it('takes a lease for the caller until now + leaseMs, and lets it lapse at once on a retry', () => {
    const take = new UpdateBuilder();
    applyTransition('dispatch.begin', { now: NOW, owner: ME, leaseMs: 5000 }, take);
    expect(Object.values(take.values)).toEqual(expect.arrayContaining([ME, NOW + 5000]));
    const lapse = new UpdateBuilder();
    applyTransition('dispatch.retry', { now: NOW, owner: ME, values: { reason: 'NETWORK' } }, lapse);
    expect(Object.values(lapse.values)).toContain(0);
  });
});
