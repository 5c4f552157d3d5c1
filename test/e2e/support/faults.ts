/**
 * Helpers of the fault-matrix end-to-end file (`faults.e2e.test.ts`): bodies, bounded waits, readers of
 * the pipeline's function log and the sandbox call log, and a runner that starts every scenario at once
 * and gives each its own test.
 */
import { readFileSync } from 'node:fs';
import { it } from 'vitest';
import { type DlqMessage, dlqList } from '../../../cli/operations';
import type { CallFilter, CallLog, CallRecord, SandboxVendor } from '../../../sandbox';
import { assertInvariant, type Dropped, type E2E } from './harness';

/** A ClearTax-shaped CSV; `tag` makes the bytes unique (Inspect deduplicates by hash). */
export function invoiceCsv(rows: number, tag: string): string {
  return [
    'invoice,date,gstin,amount',
    ...Array.from({ length: rows }, (_, i) => `INV-${tag}-${i},2026-03-01,29AABCT1332L1ZA,${100 + i}`),
  ].join('\n');
}

/** A CleverTap catalog CSV. */
export function catalogCsv(rows: number, tag: string): string {
  return ['id,title', ...Array.from({ length: rows }, (_, i) => `${tag}-${i},item ${i}`)].join('\n');
}

/** Bytes that start like a JPEG, unique per `tag`. */
export function fakeJpeg(tag: string): Buffer {
  return Buffer.concat([Buffer.from('\xff\xd8\xff\xe0 fake jpeg body ', 'latin1'), Buffer.from(tag)]);
}

export const INSPECT_ASSET = '0b4cf1d2-6a8e-4f3a-9c1b-7d2e5f8a9b10';

/** Polls `probe` until it returns something other than undefined/false (bounded). */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** One JSON line of the functions' log file. */
export interface LogEntry {
  readonly level?: string;
  readonly message?: string;
  readonly timestamp?: string;
  readonly function_name?: string;
  readonly key?: string;
  readonly errorCode?: string;
  readonly error?: string;
  readonly [field: string]: unknown;
}

/** Every JSON line the pipeline's functions printed so far. */
export function functionLog(e2e: E2E): LogEntry[] {
  let text: string;
  try {
    text = readFileSync(e2e.pipeline.logFile, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as LogEntry];
      } catch {
        return [];
      }
    });
}

/** Log lines about one file: its key, or an error text naming it (lease messages carry the delivery id). */
export function logAbout(e2e: E2E, fileName: string): LogEntry[] {
  return functionLog(e2e).filter(
    (entry) =>
      (typeof entry.key === 'string' && entry.key.includes(fileName)) ||
      (typeof entry.error === 'string' && entry.error.includes(fileName)),
  );
}

/** The log lines worth showing when a scenario fails: everything but DEBUG about its files. */
export function evidence(e2e: E2E, files: readonly Dropped[]): string {
  const lines = files.flatMap((file) =>
    logAbout(e2e, file.fileName)
      .filter((entry) => entry.level !== 'DEBUG')
      .map((entry) => {
        const fn = String(entry.function_name ?? '').replace(/^vendor-ingest-local-/, '');
        const extra = [
          entry.errorCode ? `errorCode=${entry.errorCode}` : '',
          entry.state ? `state=${String(entry.state)}` : '',
          entry.attempt ? `receive=${String(entry.attempt)}` : '',
          entry.error ? `error=${String(entry.error).slice(0, 240)}` : '',
        ]
          .filter(Boolean)
          .join(' ');
        return `  ${entry.timestamp ?? ''} ${fn} ${entry.level ?? ''} ${entry.message ?? ''} ${extra}`;
      }),
  );
  return lines.length > 0 ? lines.join('\n') : '  (no log lines about these files)';
}

/** Sandbox calls matching `filter` (newest last). */
export function calls(e2e: E2E, filter: CallFilter): CallRecord[] {
  return e2e.pipeline.sandbox.log.calls(filter);
}

/** Completion calls the vendor acted on: a 2xx answer, or a reset injected after the vendor committed. */
export function actedCompletions(e2e: E2E, vendor: SandboxVendor, fileName: string): CallRecord[] {
  return calls(e2e, { vendor, operation: 'complete', fileName }).filter(
    (c) => (c.status >= 200 && c.status < 300) || c.fault === 'reset-after-commit',
  );
}

/** The sequence number of the newest call so far (0 when none): calls after it are "from now on". */
export function lastSeq(e2e: E2E): number {
  return e2e.pipeline.sandbox.log.calls().reduce((max, c) => Math.max(max, c.seq), 0);
}

/** DLQ messages (either DLQ) about `key`. */
export async function dlqFor(e2e: E2E, key: string): Promise<DlqMessage[]> {
  return (await dlqList(e2e.target)).filter((m) => m.subject === key);
}

/**
 * Waits until `key` is parked in a DLQ: the ledger is written before the record is parked, so right
 * after `settle` the DLQ message may still be on its way.
 */
export async function waitForDlq(e2e: E2E, key: string, timeoutMs = 20_000): Promise<DlqMessage[]> {
  return waitFor(
    `a DLQ message for ${key}`,
    async () => {
      const found = await dlqFor(e2e, key);
      return found.length > 0 ? found : undefined;
    },
    timeoutMs,
    500,
  );
}

/**
 * The same pipeline seen through a call log in which a completion call that got no answer (a reset,
 * or a reset after the vendor committed) is left out when a later completion call of the same vendor
 * reference (file id …) follows it. Only for routes whose completion is idempotent and retried after
 * an ambiguous outcome: the vendor saw the same "mark uploaded" twice, which by its contract is one
 * effect. A second *answered* completion still counts, so a real double completion is still caught.
 */
export function idempotentRetryView(e2e: E2E): E2E {
  const log = e2e.pipeline.sandbox.log;
  const view: CallLog = {
    ...log,
    calls: (filter) => {
      const all = log.calls(filter);
      return all.filter((call) => {
        if (call.operation !== 'complete' || call.ref === undefined) return true;
        const answered = call.status >= 200 && call.status < 300;
        if (answered) return true;
        return !all.some(
          (later) => later.seq > call.seq && later.operation === 'complete' && later.ref === call.ref,
        );
      });
    },
  };
  return {
    ...e2e,
    pipeline: { ...e2e.pipeline, sandbox: { ...e2e.pipeline.sandbox, log: view } },
  };
}

/** What one scenario contributes to the summary line. */
interface Tally {
  files: number;
  delivered: number;
  parked: number;
}

/** Passed to each scenario: records its files and runs the shared invariant over them. */
export interface ScenarioContext {
  /** `e2e.drop`, remembered for the summary. */
  drop(e2e: E2E, ...args: Parameters<E2E['drop']>): Promise<Dropped>;
  /** `assertInvariant` over these files (through `view` when given), tallied for the summary. */
  invariant(e2e: E2E, files: readonly Dropped[], view?: E2E): Promise<void>;
}

interface Entry {
  readonly name: string;
  readonly run: (ctx: ScenarioContext) => Promise<void>;
  readonly after?: string | undefined;
}

/**
 * The e2e project runs `it.concurrent` tests one at a time (`maxConcurrency: 1` in vitest.config.ts),
 * and the scenarios spend most of their time waiting for visibility timeouts and backoff. So every
 * scenario is started at once by {@link FaultMatrix.start} (from a `beforeAll`, after the pipelines are
 * up) and each `it` awaits its own scenario: one test result per scenario, all running concurrently.
 * A scenario may wait for another (`after`) when they share something global (the ClearTax token).
 */
export class FaultMatrix {
  private readonly entries: Entry[] = [];
  private readonly running = new Map<string, Promise<void>>();
  private readonly tallies = new Map<string, Tally>();
  private readonly failed = new Set<string>();
  private readonly evidenceOf = new Map<string, () => string>();

  /** Registers a scenario and its test. */
  scenario(
    name: string,
    run: (ctx: ScenarioContext) => Promise<void>,
    options: { after?: string } = {},
  ): void {
    this.entries.push({ name, run, after: options.after });
    it(name, async () => {
      const running = this.running.get(name);
      if (!running) throw new Error(`scenario "${name}" was not started`);
      await running;
    });
  }

  /**
   * Starts every registered scenario (call once, from `beforeAll`). Starts are spread `staggerMs`
   * apart (in registration order, gated scenarios counted from their gate): two cores cold-starting a
   * dozen function processes at once make 1.5 s vendor calls time out, which would test the machine.
   */
  start(staggerMs = 0): void {
    // Ungated scenarios first, so every gate exists when a gated scenario is started.
    const ungated = this.entries.filter((e) => !e.after);
    const gated = this.entries.filter((e) => e.after);
    for (const entry of [...ungated, ...gated]) {
      const delayMs = (entry.after ? gated.indexOf(entry) : ungated.indexOf(entry)) * staggerMs;
      const tally: Tally = { files: 0, delivered: 0, parked: 0 };
      this.tallies.set(entry.name, tally);
      const dropped: Array<{ e2e: E2E; file: Dropped }> = [];
      this.evidenceOf.set(entry.name, () =>
        [...new Set(dropped.map((d) => d.e2e))]
          .map((e2e) =>
            evidence(
              e2e,
              dropped.filter((d) => d.e2e === e2e).map((d) => d.file),
            ),
          )
          .join('\n'),
      );
      const ctx: ScenarioContext = {
        drop: async (e2e, ...args) => {
          const file = await e2e.drop(...args);
          tally.files++;
          dropped.push({ e2e, file });
          return file;
        },
        invariant: async (e2e, files, view) => {
          const result = await assertInvariant(view ?? e2e, files);
          tally.delivered += result.completed + result.duplicates;
          tally.parked += result.failed;
        },
      };
      const gate = entry.after === undefined ? undefined : this.running.get(entry.after);
      if (entry.after !== undefined && !gate)
        throw new Error(`"${entry.name}" waits for unknown "${entry.after}"`);
      const running = (async () => {
        if (gate) await gate.catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        try {
          await entry.run(ctx);
        } catch (error) {
          this.failed.add(entry.name);
          const text = this.evidenceOf.get(entry.name)?.() ?? '';
          if (error instanceof Error) {
            error.message = `${error.message}\n\nfunction log about this scenario's files:\n${text}`;
          }
          throw error;
        }
      })();
      running.catch(() => undefined); // reported by the scenario's own test
      this.running.set(entry.name, running);
    }
  }

  /** Waits for every scenario (passed or not). */
  async settled(): Promise<void> {
    await Promise.allSettled(this.running.values());
  }

  /** `fault matrix: N scenarios survived, M files delivered, K parked with a reason, L lost`. */
  summary(): string {
    let files = 0;
    let delivered = 0;
    let parked = 0;
    let survived = 0;
    let unverified = 0;
    for (const entry of this.entries) {
      const tally = this.tallies.get(entry.name);
      if (!tally) continue;
      files += tally.files;
      if (this.failed.has(entry.name)) {
        unverified += tally.files;
        continue;
      }
      survived++;
      delivered += tally.delivered;
      parked += tally.parked;
    }
    const lost = files - unverified - delivered - parked;
    const failed = [...this.failed];
    return (
      `fault matrix: ${survived} scenarios survived, ${delivered} files delivered, ${parked} parked with a reason, ${lost} lost` +
      (failed.length > 0
        ? ` (${failed.length} of ${this.entries.length} scenarios failed, ${unverified} files unverified: ${failed.join('; ')})`
        : '')
    );
  }
}
