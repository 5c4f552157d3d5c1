import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

/**
 * The record of operator actions (redrive, delete, purge, replay, resolve), one for the CLI and the
 * console: each action, taken either way, is one JSON line in the same file, `via` saying which.
 */

/** Names another file for the operator-actions log (the tests point it into their scratch directory). */
export const ACTIONS_LOG_ENV = 'VENDOR_INGEST_ACTIONS_LOG';

/** One operator action, as recorded. */
export interface OperatorAction {
  readonly at: string;
  readonly operator: string;
  readonly via: 'cli' | 'console';
  readonly action: string;
  /** What it acted on: a key, a message, a queue. */
  readonly subject: string;
  readonly ok: boolean;
  readonly result?: string;
  readonly error?: string;
}

/** Who acts, through what, and where their actions are recorded. */
export interface Actor {
  readonly operator: string;
  readonly via: OperatorAction['via'];
  record(action: OperatorAction): void;
}

/**
 * The operator-actions log of a clone: `.local/logs/operator-actions.log`, whatever the target (the
 * local pipeline or a deployed stack; each line names its stack), or `$VENDOR_INGEST_ACTIONS_LOG`.
 */
export function operatorActionsLog(root: string): string {
  return process.env[ACTIONS_LOG_ENV] || path.join(root, '.local', 'logs', 'operator-actions.log');
}

/**
 * Appends one action as a JSON line, with the stack it acted on. Never throws: the action happened,
 * and an unwritable log must not hide that.
 */
export function appendAction(file: string, action: OperatorAction, stack: string): void {
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    appendFileSync(file, `${JSON.stringify({ ...action, stack })}\n`);
  } catch {
    // see above
  }
}

/** An actor whose actions go to the log file only (the CLI's). */
export function logActor(
  file: string,
  stack: string,
  operator: string,
  via: OperatorAction['via'] = 'cli',
): Actor {
  return { operator, via, record: (action) => appendAction(file, action, stack) };
}

/**
 * Runs an action and records it — who, through what, on what, how it went — whether it succeeds or
 * fails (then the error is recorded and thrown on). `describe` says what it did, for the record.
 */
export async function recordAction<T>(
  actor: Actor,
  action: string,
  subject: string,
  run: () => Promise<T>,
  describe: (value: T) => string,
): Promise<{ value: T; result: string }> {
  const base = { operator: actor.operator, via: actor.via, action, subject };
  let value: T;
  try {
    value = await run();
  } catch (error) {
    actor.record({
      at: new Date().toISOString(),
      ...base,
      ok: false,
      error: error instanceof Error ? error.message : String(error),
    });
    throw error;
  }
  const result = describe(value);
  actor.record({ at: new Date().toISOString(), ...base, ok: true, result });
  return { value, result };
}
