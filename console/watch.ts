import type { IncomingMessage, ServerResponse } from 'node:http';
import { dlqDepths } from '../cli/operations';
import type { Target } from '../cli/target';
import { DeliveryState } from '../functions/shared/state/ledger';
import { SECURITY_HEADERS } from './security';

/**
 * Live updates for the console's pages, as server-sent events on `/api/events`. While at least one
 * page listens, the ledger and the DLQs are looked at every few seconds — the newest change of
 * each state on the state index, the newest completed deliveries' vendor progress, each DLQ's depth
 * — and a `change` event tells the pages what moved; they then fetch what they show. With no page
 * listening nothing is polled.
 */
export class ChangeWatcher {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private last: { ledger: string; dlq: string } | undefined;
  private running = false;
  private closed = false;

  constructor(
    private readonly target: Target,
    private readonly intervalMs: number,
  ) {}

  subscribe(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ at: new Date().toISOString() })}\n\n`);
    this.clients.add(res);
    req.on('close', () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stop();
    });
    this.start();
  }

  /** Look now (after an action), not at the next tick. */
  poke(): void {
    if (this.clients.size > 0) void this.tick();
  }

  private start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    void this.tick();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async fingerprint(): Promise<{ ledger: string; dlq: string }> {
    const ledger = this.target.ledger;
    const [newest, completed, depths] = await Promise.all([
      Promise.all(Object.values(DeliveryState).map((s) => ledger.listByState(s, { limit: 1 }))),
      ledger.listByState(DeliveryState.COMPLETED, { limit: 10 }),
      dlqDepths(this.target),
    ]);
    return {
      ledger: JSON.stringify([
        newest.map((items) => items.map((r) => `${r.pk}|${r.sk}|${r.updatedAt}`)),
        completed.map((r) => `${r.sk}|${r.updatedAt}|${r.vendorPhase ?? ''}`),
      ]),
      dlq: JSON.stringify(depths),
    };
  }

  private async tick(): Promise<void> {
    if (this.running || this.clients.size === 0) return;
    this.running = true;
    try {
      const now = await this.fingerprint();
      const changed = {
        ledger: this.last !== undefined && now.ledger !== this.last.ledger,
        dlq: this.last !== undefined && now.dlq !== this.last.dlq,
      };
      this.last = now;
      if (changed.ledger || changed.dlq)
        this.broadcast('change', { ...changed, at: new Date().toISOString() });
      else this.broadcast('tick', { at: new Date().toISOString() });
    } catch (error) {
      this.broadcast('trouble', { error: error instanceof Error ? error.message : String(error) });
    } finally {
      this.running = false;
    }
  }

  private broadcast(event: string, data: unknown): void {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of this.clients) res.write(frame);
  }

  close(): void {
    this.closed = true;
    this.stop();
    for (const res of this.clients) res.end();
    this.clients.clear();
  }
}
