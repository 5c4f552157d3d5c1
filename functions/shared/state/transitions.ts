import { ErrorCode, PermanentError } from '../errors';
import type { UpdateBuilder } from './dynamo';

/**
 * The delivery ledger's state machine as one table. Every write to a ledger item is one of these
 * transitions: its guards (OR) generate the DynamoDB condition, its field lists the update. The same
 * data answers "would this transition be allowed on this item?" without DynamoDB ({@link permits}),
 * which is how the table is tested exhaustively, and how a refused write is explained from the item
 * DynamoDB hands back.
 *
 * ```
 * RECEIVED → UPLOADING → UPLOADED → COMPLETING → COMPLETED
 *                  ↘ ─────────────────↗ (dispatch completes at once: one write)
 *      ↘ FAILED (reason)      ↘ DUPLICATE (vendor already had the bytes)
 *                                  COMPLETING ⇢ COMPLETION_UNCERTAIN (sent, no answer, vendor not idempotent)
 * ```
 * A delivery's *outcome* (`succeeded`, `failed`, `attention`) is decided once per end state, by the one
 * transition that reaches it; for vendors that publish a job status, COMPLETED waits for the vendor's
 * verdict before the outcome is decided.
 */
export const DeliveryState = {
  RECEIVED: 'RECEIVED',
  UPLOADING: 'UPLOADING',
  UPLOADED: 'UPLOADED',
  COMPLETING: 'COMPLETING',
  COMPLETED: 'COMPLETED',
  FAILED: 'FAILED',
  DUPLICATE: 'DUPLICATE',
  COMPLETION_UNCERTAIN: 'COMPLETION_UNCERTAIN',
} as const;
export type DeliveryState = (typeof DeliveryState)[keyof typeof DeliveryState];

/** States in which nothing more happens without an operator (or, for COMPLETED, the vendor's job). */
export const TERMINAL_STATES: ReadonlySet<DeliveryState> = new Set([
  DeliveryState.COMPLETED,
  DeliveryState.DUPLICATE,
  DeliveryState.FAILED,
  DeliveryState.COMPLETION_UNCERTAIN,
]);

/** How a delivery ended, as the producer is told: decided once per end state. */
export type DeliveryOutcome = 'succeeded' | 'failed' | 'attention';

/** The step a FAILED delivery failed in; a redrive retries that step. */
export type FailedStep = 'dispatch' | 'complete';

/** Attributes a transition may write from the caller's values (everything else is managed here). */
export type LedgerField =
  | 'deliveryId'
  | 'bucket'
  | 'key'
  | 'versionId'
  | 'eTag'
  | 'sequencer'
  | 'size'
  | 'routeId'
  | 'vendor'
  | 'createdAt'
  | 'refs'
  | 'completionMessage'
  | 'uploadedAt'
  | 'completedAt'
  | 'vendorState'
  | 'vendorPhase'
  | 'vendorDetail'
  | 'reason'
  | 'lastError'
  | 'failedStep'
  | 'waitingFor'
  | 'waitingSince'
  | 'results';

/** Which items a guard admits. A transition is allowed when any of its guards admits the item. */
export interface Guard {
  /** The item's state; `absent`: no item yet. */
  readonly states: readonly (DeliveryState | 'absent')[];
  /** `held`: the caller owns a lease (any expiry); `free`: no live lease (none, or expired). */
  readonly lease?: 'held' | 'free';
  /** Only a FAILED item that failed in this step. */
  readonly failedStep?: FailedStep;
  /** Only while no outcome has been decided for the current end state. */
  readonly undecided?: true;
  /** The guard applies only when the caller sets this flag (a redriven message, a retry-ambiguous route). */
  readonly when?: 'redrive' | 'retryAmbiguous';
}

export interface Transition {
  readonly guards: readonly Guard[];
  /** The new state; omitted: the state stays. */
  readonly to?: DeliveryState;
  /**
   * `take`: the caller becomes the lease owner until now + leaseMs; `extend`: the holder's lease is
   * renewed; `lapse`: the lease ends now (owner kept, so a takeover starts at once); `release`: no lease.
   */
  readonly lease?: 'take' | 'extend' | 'lapse' | 'release';
  /** Set from the caller's values (an undefined value is skipped). */
  readonly set?: readonly LedgerField[];
  /** Set only when the item has none yet (its identity and creation facts). */
  readonly setOnCreate?: readonly LedgerField[];
  /** Map attributes whose given entries are merged in, field by field. */
  readonly merge?: readonly LedgerField[];
  readonly remove?: readonly LedgerField[];
  /** A counter incremented by one. */
  readonly count?: 'attempts' | 'completionAttempts' | 'replays';
  /**
   * The outcome this transition decides: fixed, `given` by the caller (or left undecided when the
   * caller gives none), or `clear` for a transition that starts a delivery over.
   */
  readonly outcome?: DeliveryOutcome | 'given' | 'clear';
  /** History note, when the transition has a fixed one. */
  readonly note?: string;
}

const IDENTITY: readonly LedgerField[] = [
  'deliveryId',
  'bucket',
  'key',
  'versionId',
  'eTag',
  'sequencer',
  'createdAt',
];

/**
 * Every write the pipeline makes to a ledger item. Lambda-path transitions first, then the vendor job
 * verdict, then operator actions (the operator CLI and console run those; the functions never do).
 */
export const TRANSITIONS = {
  /** Dispatch takes the lease on a version: first sight, a lapsed attempt, or a redriven dispatch failure. */
  'dispatch.begin': {
    guards: [
      { states: ['absent'] },
      { states: [DeliveryState.RECEIVED, DeliveryState.UPLOADING], lease: 'free' },
      { states: [DeliveryState.FAILED], failedStep: 'dispatch', when: 'redrive' },
    ],
    to: DeliveryState.UPLOADING,
    lease: 'take',
    setOnCreate: IDENTITY,
    set: ['size', 'routeId', 'vendor'],
    remove: ['reason', 'failedStep', 'waitingFor', 'waitingSince'],
    count: 'attempts',
    outcome: 'clear',
  },
  /**
   * A version seen before its lease could be taken: its vendor is unavailable (the file waits), or a
   * retryable failure came first. Recorded so `status` shows it; an attempt nobody holds goes back to
   * RECEIVED; a version that got further is left alone.
   */
  'dispatch.defer': {
    guards: [
      { states: ['absent', DeliveryState.RECEIVED] },
      { states: [DeliveryState.UPLOADING], lease: 'free' },
    ],
    to: DeliveryState.RECEIVED,
    setOnCreate: [...IDENTITY, 'waitingSince'],
    set: ['size', 'routeId', 'vendor', 'reason', 'lastError', 'waitingFor'],
  },
  /**
   * Bytes are at the vendor and the completion message is stored with them. The lease ends here: any
   * later receive of an UPLOADED version (the sender died, a duplicate notification) sends the stored
   * message again, which is harmless, since the completion lease admits one.
   */
  'dispatch.uploaded': {
    guards: [{ states: [DeliveryState.UPLOADING], lease: 'held' }],
    to: DeliveryState.UPLOADED,
    lease: 'release',
    set: ['refs', 'completionMessage', 'uploadedAt'],
    remove: ['lastError', 'reason'],
  },
  /**
   * Bytes are at the vendor and dispatch calls the vendor's completion itself, at once: UPLOADED and
   * `completion.begin` as one write (the lease stays with the uploader, renewed). The completion
   * message is stored as with `dispatch.uploaded`, so whoever finds this item later without a live
   * lease hands it to the completion queue, whose rules for a COMPLETING item then apply.
   */
  'dispatch.completing': {
    guards: [{ states: [DeliveryState.UPLOADING], lease: 'held' }],
    to: DeliveryState.COMPLETING,
    lease: 'extend',
    set: ['refs', 'completionMessage', 'uploadedAt'],
    remove: ['lastError', 'reason'],
    count: 'completionAttempts',
    outcome: 'clear',
  },
  /** The vendor already holds these bytes (Inspect's 200): nothing to upload or complete. */
  'dispatch.duplicate': {
    guards: [{ states: [DeliveryState.UPLOADING], lease: 'held' }],
    to: DeliveryState.DUPLICATE,
    lease: 'release',
    set: ['refs', 'completedAt'],
    remove: ['lastError', 'reason'],
    outcome: 'succeeded',
    note: 'vendor already had these bytes',
  },
  /** A retryable dispatch failure: the lease lapses so the next receive retries at once. */
  'dispatch.retry': {
    guards: [{ states: [DeliveryState.UPLOADING], lease: 'held' }],
    lease: 'lapse',
    set: ['reason', 'lastError'],
  },
  /** A permanent dispatch failure, or a retryable one on the last receive. */
  'dispatch.fail': {
    guards: [{ states: [DeliveryState.UPLOADING], lease: 'held' }],
    to: DeliveryState.FAILED,
    lease: 'release',
    set: ['reason', 'lastError', 'failedStep'],
    outcome: 'given',
  },
  /**
   * A version refused before any lease (no route, an empty or refused file, a missing object): created
   * FAILED. A redriven message may refuse a FAILED version again; a duplicate notification may not.
   */
  'dispatch.refuse': {
    guards: [
      { states: ['absent', DeliveryState.RECEIVED] },
      { states: [DeliveryState.FAILED], failedStep: 'dispatch', when: 'redrive' },
    ],
    to: DeliveryState.FAILED,
    lease: 'release',
    setOnCreate: IDENTITY,
    set: ['size', 'routeId', 'vendor', 'reason', 'lastError', 'failedStep'],
    remove: ['waitingFor', 'waitingSince'],
    outcome: 'given',
  },
  /**
   * Completion takes the lease: an uploaded version; a COMPLETING one whose holder died, only when the
   * route may retry an ambiguous completion; a redriven completion failure.
   */
  'completion.begin': {
    guards: [
      { states: [DeliveryState.UPLOADED] },
      { states: [DeliveryState.COMPLETING], lease: 'free', when: 'retryAmbiguous' },
      { states: [DeliveryState.FAILED], failedStep: 'complete', when: 'redrive' },
    ],
    to: DeliveryState.COMPLETING,
    lease: 'take',
    remove: ['reason', 'failedStep', 'waitingFor', 'waitingSince'],
    count: 'completionAttempts',
    outcome: 'clear',
  },
  /**
   * An uploaded version whose completion cannot call its vendor yet (the vendor account's circuit
   * breaker is open): what it waits for is recorded so `status` shows it. The state stays UPLOADED;
   * `completion.begin` clears the note.
   */
  'completion.defer': {
    guards: [{ states: [DeliveryState.UPLOADED] }],
    set: ['reason', 'lastError', 'waitingFor', 'waitingSince'],
  },
  /** Progress inside a multi-call completion (CleverTap's complete-multipart before mark-complete). */
  'completion.checkpoint': {
    guards: [{ states: [DeliveryState.COMPLETING], lease: 'held' }],
    lease: 'extend',
    merge: ['refs'],
  },
  /** The vendor accepted the completion. Its outcome is decided now, or by the vendor job's verdict. */
  'completion.done': {
    guards: [{ states: [DeliveryState.COMPLETING], lease: 'held' }],
    to: DeliveryState.COMPLETED,
    lease: 'release',
    merge: ['refs'],
    set: ['vendorState', 'vendorPhase', 'completedAt'],
    remove: ['lastError', 'reason'],
    outcome: 'given',
  },
  /** The vendor answered a retryable failure (so it did not act): back to UPLOADED for a later retry. */
  'completion.retry': {
    guards: [{ states: [DeliveryState.COMPLETING], lease: 'held' }],
    to: DeliveryState.UPLOADED,
    lease: 'release',
    set: ['reason', 'lastError'],
  },
  /**
   * Dispatch's completion call was sent and not answered: the lease lapses and the completion queue
   * takes over, deciding as for any COMPLETING item whose holder is gone (retry when the route may,
   * else COMPLETION_UNCERTAIN).
   */
  'completion.handover': {
    guards: [{ states: [DeliveryState.COMPLETING], lease: 'held' }],
    lease: 'lapse',
    set: ['reason', 'lastError'],
  },
  'completion.fail': {
    guards: [{ states: [DeliveryState.COMPLETING], lease: 'held' }],
    to: DeliveryState.FAILED,
    lease: 'release',
    set: ['reason', 'lastError', 'failedStep'],
    outcome: 'given',
  },
  /** A completion call was sent and never answered; the vendor has no idempotency key. Only an operator moves it on. */
  'completion.uncertain': {
    guards: [{ states: [DeliveryState.COMPLETING] }],
    to: DeliveryState.COMPLETION_UNCERTAIN,
    lease: 'release',
    set: ['reason', 'lastError'],
    outcome: 'attention',
  },
  /** The vendor's verdict on its job (or the polling deadline): decides the outcome once. */
  'vendor.verdict': {
    guards: [{ states: [DeliveryState.COMPLETED], undecided: true }],
    set: ['vendorPhase', 'vendorState', 'vendorDetail', 'reason', 'lastError', 'results'],
    outcome: 'given',
  },
  /** Operator: deliver this version again (history and a replay count kept). Not while a worker holds it. */
  'operator.replay': {
    guards: [
      {
        states: [
          DeliveryState.RECEIVED,
          DeliveryState.UPLOADED,
          DeliveryState.COMPLETED,
          DeliveryState.FAILED,
          DeliveryState.DUPLICATE,
          DeliveryState.COMPLETION_UNCERTAIN,
        ],
      },
    ],
    to: DeliveryState.RECEIVED,
    lease: 'release',
    count: 'replays',
    set: ['refs'],
    remove: [
      'completionMessage',
      'reason',
      'lastError',
      'failedStep',
      'vendorState',
      'vendorPhase',
      'vendorDetail',
      'completedAt',
      'uploadedAt',
      'results',
    ],
    outcome: 'clear',
  },
  /** Operator, after checking the vendor shows the job: the uncertain completion did happen. */
  'operator.resolveCompleted': {
    guards: [{ states: [DeliveryState.COMPLETION_UNCERTAIN] }],
    to: DeliveryState.COMPLETED,
    set: ['completedAt'],
    remove: ['reason', 'lastError'],
    outcome: 'succeeded',
  },
  /** Operator: call the vendor again (the caller re-sends the completion message). */
  'operator.resolveRetry': {
    guards: [{ states: [DeliveryState.COMPLETION_UNCERTAIN] }],
    to: DeliveryState.UPLOADED,
    remove: ['reason', 'lastError'],
    outcome: 'clear',
  },
} as const satisfies Record<string, Transition>;

export type TransitionName = keyof typeof TRANSITIONS;

/** What a caller brings to one transition. */
export interface TransitionInput {
  readonly now: number;
  /** The caller's lease owner id (held guards compare it; `take` sets it). */
  readonly owner?: string;
  /** Lease length for `take` and `extend`, ms. */
  readonly leaseMs?: number;
  readonly redrive?: boolean;
  readonly retryAmbiguous?: boolean;
  /** Values of the transition's `set`, `setOnCreate` and `merge` fields. */
  readonly values?: Partial<Record<LedgerField, unknown>>;
  /** The outcome, for transitions whose outcome is `given` (omitted: not decided yet). */
  readonly outcome?: DeliveryOutcome;
  /** Who decided the outcome (the SQS message id of the work): a redelivery of that message re-announces it. */
  readonly decidedBy?: string;
  readonly note?: string;
}

/** The attributes of an item that guards look at. */
export interface GuardedItem {
  readonly state?: DeliveryState;
  readonly leaseOwner?: string;
  readonly leaseUntil?: number;
  readonly failedStep?: FailedStep;
  readonly outcome?: DeliveryOutcome;
}

/** A caller broke the table's contract (a missing lease owner, an undeclared field): a program defect. */
function defect(message: string): PermanentError {
  return new PermanentError(ErrorCode.PIPELINE_DEFECT, message);
}

function guardApplies(guard: Guard, input: TransitionInput): boolean {
  return guard.when === undefined || input[guard.when] === true;
}

/** The state-machine answer without DynamoDB: would `name` be allowed on `item` (undefined: no item)? */
export function permits(
  name: TransitionName,
  item: GuardedItem | undefined,
  input: TransitionInput,
): boolean {
  const transition: Transition = TRANSITIONS[name];
  return transition.guards.some((guard) => {
    if (!guardApplies(guard, input)) return false;
    if (item === undefined) return guard.states.includes('absent');
    if (item.state === undefined || !guard.states.includes(item.state)) return false;
    if (guard.lease === 'held' && (input.owner === undefined || item.leaseOwner !== input.owner))
      return false;
    if (guard.lease === 'free' && item.leaseUntil !== undefined && item.leaseUntil >= input.now) return false;
    if (guard.failedStep !== undefined && item.failedStep !== guard.failedStep) return false;
    if (guard.undecided && item.outcome !== undefined) return false;
    return true;
  });
}

/** The DynamoDB condition of a transition's guards, with names and values registered on `u`. */
export function conditionOf(name: TransitionName, input: TransitionInput, u: UpdateBuilder): string {
  const transition: Transition = TRANSITIONS[name];
  const clauses: string[] = [];
  for (const guard of transition.guards) {
    if (!guardApplies(guard, input)) continue;
    const states = guard.states.filter((s): s is DeliveryState => s !== 'absent');
    if (guard.states.includes('absent')) clauses.push(`attribute_not_exists(${u.name('pk')})`);
    if (states.length === 0) continue;
    const parts = [
      states.length === 1
        ? `${u.name('state')} = ${u.value(states[0])}`
        : `${u.name('state')} IN (${states.map((s) => u.value(s)).join(', ')})`,
    ];
    if (guard.lease === 'held') {
      if (input.owner === undefined) throw defect(`transition ${name} needs the caller's lease owner`);
      parts.push(`${u.name('leaseOwner')} = ${u.value(input.owner)}`);
    }
    if (guard.lease === 'free') {
      const lease = u.name('leaseUntil');
      parts.push(`(attribute_not_exists(${lease}) OR ${lease} < ${u.value(input.now)})`);
    }
    if (guard.failedStep) parts.push(`${u.name('failedStep')} = ${u.value(guard.failedStep)}`);
    if (guard.undecided) parts.push(`attribute_not_exists(${u.name('outcome')})`);
    clauses.push(parts.length === 1 ? (parts[0] as string) : `(${parts.join(' AND ')})`);
  }
  // No guard applies (e.g. a redrive-only transition without the flag): nothing may pass.
  if (clauses.length === 0)
    return `attribute_exists(${u.name('pk')}) AND attribute_not_exists(${u.name('pk')})`;
  return clauses.join(' OR ');
}

/**
 * The update of one transition on `u`: the caller's values for the declared fields, the lease, the
 * counter, the removals. State, history, indexes and retention are added by the ledger.
 * Returns the outcome the write decides, if any.
 */
export function applyTransition(
  name: TransitionName,
  input: TransitionInput,
  u: UpdateBuilder,
): { readonly outcome: DeliveryOutcome | undefined; readonly clears: boolean } {
  const transition: Transition = TRANSITIONS[name];
  const values = input.values ?? {};
  const declared = new Set<string>([
    ...(transition.set ?? []),
    ...(transition.setOnCreate ?? []),
    ...(transition.merge ?? []),
  ]);
  for (const field of Object.keys(values)) {
    if (!declared.has(field)) throw defect(`transition ${name} does not write ${field}`);
  }
  for (const field of transition.setOnCreate ?? []) {
    if (values[field] !== undefined) u.setIfAbsent(field, values[field]);
  }
  for (const field of transition.set ?? []) u.set(field, values[field]);
  for (const field of transition.merge ?? []) {
    const value = values[field];
    if (value !== undefined) u.setFields(field, value as Record<string, unknown>);
  }
  switch (transition.lease) {
    case 'take':
      if (input.owner === undefined) throw defect(`transition ${name} needs a lease owner`);
      u.set('leaseOwner', input.owner);
      u.set('leaseUntil', input.now + (input.leaseMs ?? 0));
      break;
    case 'extend':
      if (input.leaseMs !== undefined) u.set('leaseUntil', input.now + input.leaseMs);
      break;
    case 'lapse':
      u.set('leaseUntil', 0);
      break;
    case 'release':
      u.remove('leaseOwner', 'leaseUntil');
      break;
    case undefined:
      break;
  }
  if (transition.count) u.increment(transition.count);
  const removes = [...(transition.remove ?? [])].filter(
    (field) => !declared.has(field) || values[field] === undefined,
  );
  if (removes.length > 0) u.remove(...removes);

  let outcome: DeliveryOutcome | undefined;
  if (transition.outcome === 'given') outcome = input.outcome;
  else if (transition.outcome !== undefined && transition.outcome !== 'clear') outcome = transition.outcome;
  const clears = transition.outcome === 'clear';
  if (outcome !== undefined) {
    u.set('outcome', outcome);
    u.set('outcomeAt', new Date(input.now).toISOString());
    u.set('decidedBy', input.decidedBy);
  } else if (clears) {
    u.remove('outcome', 'outcomeAt', 'decidedBy');
  }
  return { outcome, clears };
}
