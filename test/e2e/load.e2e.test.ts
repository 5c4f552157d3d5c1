import { describe, expect, it } from 'vitest';
import { dlqList } from '../../cli/operations';
import type { SandboxVendor } from '../../sandbox';
import { assertInvariant, type Dropped, useLocalPipeline, vendorOfKey } from './support/harness';
import { CLEVERTAP_CATALOGS, csvBody, INSPECT_ASSETS, jpegBody, logFor, settleMany } from './support/inputs';

/**
 * 60 small files across every route at once. Each must be delivered and completed exactly once:
 * the ledger and the sandbox's call log agree file by file, and nothing reaches a DLQ.
 */

const FILES = 60;
const SETTLE_TIMEOUT_MS = 240_000;
const DROP_CONCURRENCY = 16;

// The stage's own timeouts (FAST's 5 s would measure CPU starvation on 2 cores, not the pipeline),
// more concurrent invocations, short retry delays.
const e2e = useLocalPipeline({
  overrides: {
    dispatch: { maxConcurrency: 4, batchSize: 1, maxReceiveCount: 5 },
    completion: { maxConcurrency: 6, batchSize: 5, maxReceiveCount: 5 },
    retryBaseSeconds: 1,
    retryMaxSeconds: 3,
    statusPollFirstSeconds: 1,
  },
});

interface Plan {
  readonly prefix: string;
  readonly name: string;
  readonly body: Buffer | string;
  readonly contentType: string;
}

function plan(i: number): Plan {
  const tag = `load-${i}-${Date.now()}`;
  switch (i % 5) {
    case 0:
      return {
        prefix: 'cleartax/sales/',
        name: `sales-${i}.csv`,
        body: csvBody(tag),
        contentType: 'text/csv',
      };
    case 1:
      return {
        prefix: 'cleartax/purchase/',
        name: `purchase-${i}.csv`,
        body: csvBody(tag),
        contentType: 'text/csv',
      };
    case 2:
      return {
        prefix: 'cleartax-one/sales/',
        name: `one-${i}.csv`,
        body: csvBody(tag),
        contentType: 'text/csv',
      };
    case 3:
      return {
        prefix: `clevertap/${CLEVERTAP_CATALOGS[i % 2]}/`,
        name: `catalog-${i}.csv`,
        body: `id,title\n${i},item ${tag}\n`,
        contentType: 'text/csv',
      };
    default:
      return {
        prefix: `inspect/${INSPECT_ASSETS[i % 2]}/`,
        name: `photo-${i}.jpg`,
        // Distinct bytes: inspect deduplicates by hash, and a duplicate would not be completed.
        body: jpegBody(tag),
        contentType: 'image/jpeg',
      };
  }
}

describe('load: 60 files across all routes', () => {
  it(
    'delivers and completes every file exactly once, with nothing in a DLQ',
    async () => {
      const plans = Array.from({ length: FILES }, (_, i) => plan(i));
      const started = Date.now();
      const dropped: Dropped[] = new Array(FILES);
      let next = 0;
      await Promise.all(
        Array.from({ length: DROP_CONCURRENCY }, async () => {
          for (let i = next++; i < FILES; i = next++) {
            const p = plans[i] as Plan;
            dropped[i] = await e2e.drop(p.prefix, p.name, p.body, { contentType: p.contentType });
          }
        }),
      );
      const droppedMs = Date.now() - started;
      expect(new Set(dropped.map((d) => d.sha256Hex)).size, 'every file has distinct bytes').toBe(FILES);

      let lastReport = Date.now();
      const settled = await settleMany(
        e2e,
        dropped.map((d) => d.key),
        SETTLE_TIMEOUT_MS,
        (n) => {
          if (Date.now() - lastReport > 15_000) {
            lastReport = Date.now();
            console.log(`load: ${n}/${FILES} settled after ${((Date.now() - started) / 1000).toFixed(0)} s`);
          }
        },
      );
      const elapsedS = (Date.now() - started) / 1000;
      console.log(
        `load: ${FILES} files dropped in ${(droppedMs / 1000).toFixed(1)} s, all settled in ${elapsedS.toFixed(1)} s ` +
          `(${(FILES / elapsedS).toFixed(1)} files/s)`,
      );

      const notCompleted = dropped
        .map((d) => ({ d, r: settled.get(d.key) }))
        .filter(({ r }) => r?.state !== 'COMPLETED')
        .map(
          ({ d, r }) =>
            `${d.key}: ${r?.state} ${r?.reason ?? ''} ${r?.lastError ?? ''}\n    ${logFor(e2e, d.key).slice(-4).join('\n    ')}`,
        );
      expect(notCompleted, notCompleted.slice(0, 20).join('\n')).toEqual([]);

      // One accepted completion per file at its vendor, and no completion for anything else.
      const log = e2e.pipeline.sandbox.log;
      const byVendor = new Map<SandboxVendor, number>();
      for (const d of dropped) {
        const vendor = vendorOfKey(d.key) as SandboxVendor;
        byVendor.set(vendor, (byVendor.get(vendor) ?? 0) + 1);
      }
      for (const [vendor, count] of byVendor) {
        const accepted = log
          .calls({ vendor, operation: 'complete' })
          .filter((c) => (c.status >= 200 && c.status < 300) || c.fault === 'reset-after-commit');
        expect(accepted.length, `accepted completions at ${vendor}`).toBe(count);
      }
      const dlq = await dlqList(e2e.target);
      expect(
        dlq.map((m) => `${m.queue}: ${m.errorCode} ${m.subject}`),
        'nothing may be parked',
      ).toEqual([]);
      const result = await assertInvariant(e2e, dropped);
      expect(result).toEqual({ completed: FILES, failed: 0, duplicates: 0 });
    },
    SETTLE_TIMEOUT_MS + 60_000,
  );
});
