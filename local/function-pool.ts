import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const WORKER_HOST = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker-host.mjs');

export type InvokeOutcome =
  | { readonly ok: true; readonly result: unknown; readonly ms: number; readonly coldStart: boolean }
  | {
      readonly ok: false;
      readonly kind: 'error' | 'crash' | 'timeout';
      readonly error: string;
      readonly ms: number;
      readonly coldStart: boolean;
    };

export interface FunctionPoolOptions {
  readonly name: string;
  /** The handler module in the unpacked deployment package, and its export. */
  readonly handlerFile: string;
  readonly handlerExport: string;
  /** The function's environment, as Lambda would set it. */
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly memoryMb: number;
  /** Every line the function prints (Powertools JSON logs, EMF metrics). */
  readonly onLine?: (line: string) => void;
}

interface Sandbox {
  readonly child: ChildProcess;
  readonly ready: Promise<number>;
  busy: boolean;
  dead: boolean;
}

/**
 * Lambda's execution model for one function: each concurrent invocation runs in its own sandbox
 * (a child process here) that imports the bundle once and is then reused while warm. A sandbox
 * that crashes or times out is discarded, like Lambda does; the next invocation cold-starts.
 */
export class FunctionPool {
  private readonly sandboxes = new Set<Sandbox>();
  private stopped = false;
  coldStarts = 0;

  constructor(private readonly options: FunctionPoolOptions) {}

  private spawnSandbox(): Sandbox {
    this.coldStarts++;
    const child = spawn(
      process.execPath,
      [
        '--enable-source-maps',
        WORKER_HOST,
        this.options.handlerFile,
        this.options.handlerExport,
        this.options.name,
      ],
      {
        env: { ...this.options.env },
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      },
    );
    const sandbox: Sandbox = {
      child,
      busy: true,
      dead: false,
      ready: new Promise<number>((resolve, reject) => {
        const onMessage = (message: { type?: string; initMs?: number; error?: string }) => {
          if (message?.type === 'ready') {
            child.off('message', onMessage);
            resolve(message.initMs ?? 0);
          } else if (message?.type === 'fatal') reject(new Error(message.error));
        };
        child.on('message', onMessage);
        child.once('exit', (code, signal) =>
          reject(new Error(`sandbox exited during init (${signal ?? code})`)),
        );
      }),
    };
    sandbox.ready.catch(() => undefined);
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => this.options.onLine?.(line));
    }
    child.once('exit', () => {
      sandbox.dead = true;
      this.sandboxes.delete(sandbox);
    });
    this.sandboxes.add(sandbox);
    return sandbox;
  }

  private take(): { sandbox: Sandbox; cold: boolean } {
    for (const sandbox of this.sandboxes) {
      if (!sandbox.busy && !sandbox.dead) {
        sandbox.busy = true;
        return { sandbox, cold: false };
      }
    }
    return { sandbox: this.spawnSandbox(), cold: true };
  }

  /** Runs one invocation with the function's timeout. */
  async invoke(event: unknown): Promise<InvokeOutcome> {
    if (this.stopped) throw new Error(`${this.options.name} is stopped`);
    const started = Date.now();
    const { sandbox, cold } = this.take();
    const elapsed = () => Date.now() - started;
    try {
      await sandbox.ready;
    } catch (error) {
      sandbox.child.kill('SIGKILL');
      return { ok: false, kind: 'crash', error: (error as Error).message, ms: elapsed(), coldStart: cold };
    }
    const id = randomUUID();
    const outcome = await new Promise<InvokeOutcome>((resolve) => {
      const timer = setTimeout(() => {
        cleanup();
        sandbox.child.kill('SIGKILL');
        resolve({
          ok: false,
          kind: 'timeout',
          error: `Task timed out after ${this.options.timeoutMs} ms`,
          ms: elapsed(),
          coldStart: cold,
        });
      }, this.options.timeoutMs);
      const onMessage = (message: {
        type?: string;
        id?: string;
        result?: unknown;
        error?: { name: string; message: string };
      }) => {
        if (message?.id !== id) return;
        cleanup();
        if (message.type === 'result')
          resolve({ ok: true, result: message.result, ms: elapsed(), coldStart: cold });
        else
          resolve({
            ok: false,
            kind: 'error',
            error: `${message.error?.name}: ${message.error?.message}`,
            ms: elapsed(),
            coldStart: cold,
          });
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        cleanup();
        resolve({
          ok: false,
          kind: 'crash',
          error: `sandbox died (${signal ?? `exit ${code}`})`,
          ms: elapsed(),
          coldStart: cold,
        });
      };
      const cleanup = () => {
        clearTimeout(timer);
        sandbox.child.off('message', onMessage);
        sandbox.child.off('exit', onExit);
      };
      sandbox.child.on('message', onMessage);
      sandbox.child.once('exit', onExit);
      sandbox.child.send({
        type: 'invoke',
        id,
        event,
        requestId: randomUUID(),
        timeoutMs: this.options.timeoutMs,
        memoryMb: this.options.memoryMb,
      });
    });
    sandbox.busy = false;
    return outcome;
  }

  /** Kills every sandbox. */
  async stop(): Promise<void> {
    this.stopped = true;
    const exits = [...this.sandboxes].map(
      (sandbox) =>
        new Promise<void>((resolve) => {
          if (sandbox.dead) return resolve();
          sandbox.child.once('exit', () => resolve());
          sandbox.child.kill('SIGKILL');
        }),
    );
    await Promise.all(exits);
  }

  /** Process ids of live sandboxes (tests kill them to emulate a crash). */
  pids(): number[] {
    return [...this.sandboxes].flatMap((s) => (s.child.pid && !s.dead ? [s.child.pid] : []));
  }
}
