import http from 'node:http';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleServer, startConsole } from '../../console/server';
import { scratchDir } from '../support/scratch';
import { ARTIFACTS_DIR, launchChromium } from './support/browser';
import { assertInvariant, type Dropped, useLocalPipeline } from './support/harness';
import {
  CLEVERTAP_CATALOGS,
  csvBody,
  dlqMessageFor,
  INSPECT_ASSETS,
  jpegBody,
  latestRecord,
  waitFor,
} from './support/inputs';

/**
 * The console in a real browser (headless Chromium through playwright-core) over a running local
 * pipeline: files dropped reach their final state on the page by live updates; a file parked in a
 * DLQ is redriven from the page, by mouse and by keyboard only, and completes; a delivery's page
 * shows its timeline and opens its result document; and the server refuses requests from other
 * origins and without the token. Screenshots go to .local/artifacts/console/.
 */

const e2e = useLocalPipeline();
const OPERATOR = 'console-e2e-operator';
let server: ConsoleServer;
let browser: BrowserContext;
let page: Page;
let seq = 0;
const tag = (what: string) => `${what}-${++seq}-${Date.now()}`;

beforeAll(async () => {
  server = await startConsole(e2e.target, {
    operator: OPERATOR,
    watchMs: 400,
    auditFile: path.join(scratchDir('console-audit-'), 'actions.log'),
  });
  browser = await launchChromium();
  page = await browser.newPage();
  page.setDefaultTimeout(45_000);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** Runs an expression in the page (test code has no DOM types of its own). */
const js = <T = unknown>(expression: string) => page.evaluate(expression) as Promise<T>;
const FOCUSED_LABEL = "document.activeElement?.getAttribute('aria-label') ?? null";
const FOCUSED_TEXT = 'document.activeElement?.textContent';

const shot = (name: string) =>
  page.screenshot({ path: path.join(ARTIFACTS_DIR, `${name}.png`), fullPage: true });

/** A file parked in a DLQ for good by its vendor refusing the presign once with a 400. */
async function parkedFile(what: string): Promise<Dropped> {
  const name = `${what}.csv`;
  const file = await e2e.drop('cleartax/sales/', name, csvBody(tag(what)));
  e2e.pipeline.sandbox.faults.inject({
    vendor: 'cleartax-gst',
    operation: 'presign',
    times: 1,
    match: { fileName: file.fileName },
    action: { kind: 'status', status: 400 },
  });
  return file;
}

/** Plain HTTP to the console, with whatever headers a test wants (fetch would not send a foreign Host). */
function request(
  pathName: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: server.port,
        path: pathName,
        method: options.method ?? 'GET',
        headers: options.headers,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('console in a browser', () => {
  it('shows dropped files reaching their final state, live', async () => {
    await page.goto(server.url);
    await expect.poll(() => js<string>('location.hash')).toBe('#/deliveries');
    expect(page.url(), 'the token leaves the address bar').not.toContain('token=');
    await page.getByText('● live').waitFor();

    const files = await Promise.all([
      e2e.drop('cleartax/sales/', 'console-gst.csv', csvBody(tag('gst'))),
      e2e.drop(`clevertap/${CLEVERTAP_CATALOGS[0]}/`, 'console-ct.csv', `id,title\n1,${tag('ct')}\n`),
      e2e.drop(`inspect/${INSPECT_ASSETS[0]}/`, 'console-photo.jpg', jpegBody(tag('photo'))),
    ]);
    // No reload: the page follows the ledger through server-sent events.
    for (const file of files) {
      await page.locator(`tr[data-key="${file.key}"][data-state="COMPLETED"]`).waitFor();
    }
    await shot('deliveries-completed');
    await assertInvariant(e2e, files);

    // Filters narrow the list (by route, from the index) and the key opens the delivery's page.
    await page.getByLabel('Route').selectOption('clevertap-catalogs');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.locator(`tr[data-key="${files[1]?.key}"]`).waitFor();
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    await page.getByRole('link', { name: files[1]?.key }).click();
    await page.getByRole('heading', { name: 'Timeline' }).waitFor();
    // A dispatch that completes at once records uploaded-and-completing as one step (no UPLOADED
    // entry); one left with too little time hands the completion over (UPLOADED, then COMPLETING).
    for (const state of ['UPLOADING', 'COMPLETING', 'COMPLETED']) {
      await expect(
        page.locator('.timeline').getByText(state, { exact: true }).count(),
      ).resolves.toBeGreaterThan(0);
    }
    await expect(page.getByText('"jobId"').count()).resolves.toBe(1);
    await shot('delivery-timeline');

    // The vendors' figures over the last hour, from the same ledger, drawn as charts.
    await page.getByRole('link', { name: 'Vendors' }).click();
    await page.getByLabel('Window').selectOption('1h');
    const clevertap = page.getByRole('region', { name: 'clevertap-catalog' });
    await clevertap.locator('canvas').first().waitFor();
    await expect(clevertap.locator('dt:text-is("Files") + dd').textContent()).resolves.not.toBe('0');
    await shot('vendors');
  });

  it('parks a file in a DLQ, redrives it from the page and sees it complete', async () => {
    const file = await parkedFile('console-parked');
    const parked = await dlqMessageFor(e2e, file.key);
    expect(parked).toMatchObject({ errorCode: 'VENDOR_REJECTED', retryable: 'false' });

    await page.getByRole('link', { name: 'Dead-letter queues' }).click();
    const row = page.locator(`tr[data-key="${file.key}"]`);
    await row.waitFor();
    await expect(row.locator('.badge', { hasText: 'VENDOR_REJECTED' }).count()).resolves.toBe(1);
    await shot('dlq-parked');

    await row.getByRole('button', { name: `Redrive ${file.key}` }).click();
    const dialog = page.getByRole('dialog', { name: 'Redrive this message?' });
    await dialog.waitFor();
    await shot('dlq-confirm');
    await dialog.getByRole('button', { name: 'Redrive' }).click();
    await page.getByTestId('notice').getByText(`${file.key} moved back`).waitFor();
    await row.waitFor({ state: 'detached' });

    await waitFor(
      `${file.key} to complete after the redrive`,
      async () => {
        const r = await latestRecord(e2e, file.key);
        return r?.state === 'COMPLETED' ? r : undefined;
      },
      45_000,
    );
    await page.getByRole('link', { name: 'Deliveries' }).click();
    await page.getByLabel('Route').selectOption('');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.locator(`tr[data-key="${file.key}"][data-state="COMPLETED"]`).waitFor();
    await shot('redriven-completed');
    await assertInvariant(e2e, [file]);

    const actions = JSON.parse(
      (
        await request('/api/actions', {
          headers: { host: `127.0.0.1:${server.port}`, authorization: `Bearer ${server.token}` },
        })
      ).body,
    ) as { actions: Array<{ operator: string; action: string; ok: boolean }> };
    expect(actions.actions[0]).toMatchObject({ operator: OPERATOR, action: 'redrive', ok: true });
  });

  it('labels its controls and runs an action from the keyboard alone (dialog: focus inside, Escape closes)', async () => {
    const file = await parkedFile('console-keyboard');
    await dlqMessageFor(e2e, file.key);

    // Every form control has an accessible name.
    await page.getByRole('link', { name: 'Deliveries' }).click();
    for (const label of ['Route', 'Vendor', 'State', 'Dropped from', 'Dropped before', 'Key starts with']) {
      await expect(page.getByLabel(label, { exact: true }).count(), label).resolves.toBe(1);
    }
    await page.getByRole('link', { name: 'Dead-letter queues' }).click();
    await page.locator(`tr[data-key="${file.key}"]`).waitFor();
    await expect(page.getByLabel('Queue', { exact: true }).count()).resolves.toBe(1);

    // Tab from the top of the page to this message's Redrive button.
    await js('document.activeElement?.blur()');
    await page.locator('body').focus();
    const target = `Redrive ${file.key}`;
    let reached = false;
    for (let presses = 0; presses < 80 && !reached; presses++) {
      await page.keyboard.press('Tab');
      reached = (await js<string | null>(FOCUSED_LABEL)) === target;
    }
    expect(reached, `Tab reaches "${target}"`).toBe(true);

    // Enter opens the confirmation; focus is inside it, on Cancel; Escape closes it and gives focus back.
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Redrive this message?' });
    await dialog.waitFor();
    await expect(js(FOCUSED_TEXT)).resolves.toBe('Cancel');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await expect(js(FOCUSED_LABEL)).resolves.toBe(target);

    // Tab stays inside the open dialog (the page behind is inert), then Enter confirms.
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await page.keyboard.press('Tab');
    await expect(js(FOCUSED_TEXT)).resolves.toBe('Redrive');
    await expect(js("document.activeElement?.closest('dialog') !== null")).resolves.toBe(true);
    await shot('keyboard-confirm');
    await page.keyboard.press('Enter');
    await page.getByTestId('notice').getByText(`${file.key} moved back`).waitFor();

    await waitFor(
      `${file.key} to complete after the keyboard redrive`,
      async () => {
        const r = await latestRecord(e2e, file.key);
        return r?.state === 'COMPLETED' ? r : undefined;
      },
      45_000,
    );
    await assertInvariant(e2e, [file]);
  });

  it("opens a delivery's result document through the console", async () => {
    const file = await e2e.drop('cleartax-one/sales/', 'console-result.csv', csvBody(tag('result')));
    // The write-back announces the vendor's verdict with a result document: wait for it.
    await waitFor(
      `${file.key}'s outcome`,
      async () => {
        const r = await latestRecord(e2e, file.key);
        return r?.outcome !== undefined ? r : undefined;
      },
      60_000,
    );

    await page.goto(`${server.origin}/#/delivery?key=${encodeURIComponent(file.key)}`);
    await page.getByRole('button', { name: 'Open result document' }).click();
    const viewer = page.getByRole('dialog', { name: /Open result document/ });
    await viewer.getByText(/"outcome": "succeeded"/).waitFor();
    await shot('result-document');
    await page.keyboard.press('Escape');
    await viewer.waitFor({ state: 'hidden' });
  });
});

describe('console security (plain HTTP)', () => {
  const own = () => `127.0.0.1:${server.port}`;
  const auth = () => ({ authorization: `Bearer ${server.token}` });

  it('refuses a Host that is not its own (DNS rebinding) and an Origin that is not its own (CSRF)', async () => {
    const ok = await request('/api/overview', { headers: { host: own(), ...auth() } });
    expect(ok.status).toBe(200);

    const rebound = await request('/api/overview', {
      headers: { host: `attacker.example:${server.port}`, ...auth() },
    });
    expect(rebound.status).toBe(421);
    expect(rebound.body).toContain('is not this console');
    const page = await request('/', { headers: { host: 'attacker.example' } });
    expect(page.status, 'even the page is not served to a foreign Host').toBe(421);

    const body = JSON.stringify({ confirmed: true });
    const foreign = await request('/api/dlq/redrive', {
      method: 'POST',
      headers: {
        host: own(),
        origin: 'http://attacker.example',
        'content-type': 'application/json',
        ...auth(),
      },
      body,
    });
    expect(foreign.status).toBe(403);
    const noOrigin = await request('/api/dlq/redrive', {
      method: 'POST',
      headers: { host: own(), 'content-type': 'application/json', ...auth() },
      body,
    });
    expect(noOrigin.status, 'a state-changing request must say where it comes from').toBe(403);
    const crossSite = await request('/api/overview', {
      headers: { host: own(), 'sec-fetch-site': 'cross-site', ...auth() },
    });
    expect(crossSite.status).toBe(403);
  });

  it('refuses API requests without the token, or with a wrong one, reads and actions alike', async () => {
    const read = await request('/api/dlq', { headers: { host: own() } });
    expect(read.status).toBe(401);
    expect(read.body).toContain('no access token');
    const wrong = await request('/api/dlq', {
      headers: { host: own(), authorization: 'Bearer not-the-token' },
    });
    expect(wrong.status).toBe(401);
    const action = await request('/api/dlq/redrive', {
      method: 'POST',
      headers: { host: own(), origin: `http://${own()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ confirmed: true }),
    });
    expect(action.status).toBe(401);
    // The same action with the token and its confirmation goes through.
    const allowed = await request('/api/dlq/redrive', {
      method: 'POST',
      headers: { host: own(), origin: `http://${own()}`, 'content-type': 'application/json', ...auth() },
      body: JSON.stringify({ confirmed: true, queue: 'completion' }),
    });
    expect(allowed.status).toBe(200);
  });
});
