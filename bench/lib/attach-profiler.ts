import { setTimeout as sleep } from 'node:timers/promises';

/** Node's inspector port when a running process is told to start it (SIGUSR1). */
const INSPECTOR_PORT = 9229;

interface InspectorTarget {
  readonly webSocketDebuggerUrl?: string;
}

/**
 * A CPU profile of a process the bench did not start with `--cpu-prof` (an emulated Lambda sandbox
 * of the local pipeline): SIGUSR1 opens its inspector on 127.0.0.1:9229, the profiler runs over the
 * DevTools protocol until `stop()`. Returns undefined (and profiles nothing) when the port is taken
 * or the inspector does not come up, so the bench never depends on it.
 */
export interface AttachedProfiler {
  /** Stops sampling; resolves to the `.cpuprofile` JSON text. */
  stop(): Promise<string | undefined>;
}

export async function attachProfiler(pid: number, intervalUs = 500): Promise<AttachedProfiler | undefined> {
  try {
    const busy = await fetch(`http://127.0.0.1:${INSPECTOR_PORT}/json/list`, {
      signal: AbortSignal.timeout(500),
    })
      .then(() => true)
      .catch(() => false);
    if (busy) return undefined;
    process.kill(pid, 'SIGUSR1');
    let url: string | undefined;
    for (let i = 0; i < 20 && url === undefined; i++) {
      await sleep(100);
      const list = await fetch(`http://127.0.0.1:${INSPECTOR_PORT}/json/list`, {
        signal: AbortSignal.timeout(500),
      })
        .then((r) => r.json() as Promise<InspectorTarget[]>)
        .catch(() => []);
      url = list[0]?.webSocketDebuggerUrl;
    }
    if (url === undefined) return undefined;
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener('open', () => resolve(), { once: true });
      socket.addEventListener('error', () => reject(new Error('inspector socket failed')), { once: true });
    });
    let nextId = 1;
    const pending = new Map<number, (result: unknown) => void>();
    socket.addEventListener('message', (event: MessageEvent) => {
      const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
      if (message.id !== undefined) pending.get(message.id)?.(message.result);
    });
    const call = (method: string, params: Record<string, unknown> = {}): Promise<unknown> =>
      new Promise((resolve) => {
        const id = nextId++;
        pending.set(id, resolve);
        socket.send(JSON.stringify({ id, method, params }));
      });
    await call('Profiler.enable');
    await call('Profiler.setSamplingInterval', { interval: intervalUs });
    await call('Profiler.start');
    return {
      async stop() {
        const result = (await Promise.race([call('Profiler.stop'), sleep(10_000).then(() => undefined)])) as
          | { profile?: unknown }
          | undefined;
        socket.close();
        return result?.profile === undefined ? undefined : JSON.stringify(result.profile);
      },
    };
  } catch {
    return undefined;
  }
}
