import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { get, listen, takeToken } from './client';
import { DeliveriesPage } from './deliveries';
import { DeliveryPageView } from './delivery';
import { DlqPage } from './dlq';
import './style.css';
import type { ConsoleAction, Overview } from './types';
import { ConfirmProvider, ErrorText, formatTime, NoticeProvider, useLoad } from './ui';
import { VendorsPage } from './vendors';

/** The console's page: a header, the navigation, and the page the hash names (`#/dlq`, …). */

const PAGES = [
  { id: 'deliveries', label: 'Deliveries' },
  { id: 'dlq', label: 'Dead-letter queues' },
  { id: 'vendors', label: 'Vendors' },
  { id: 'actions', label: 'Actions' },
] as const;

function parseHash(): { page: string; params: URLSearchParams } {
  const hash = location.hash.replace(/^#\/?/, '');
  const [page = '', query = ''] = hash.split('?', 2);
  return { page: page || 'deliveries', params: new URLSearchParams(query) };
}

function useHashRoute() {
  const [route, setRoute] = useState(parseHash);
  useEffect(() => {
    const onChange = () => {
      setRoute(parseHash());
      // Move focus to the new page's heading, as a page load would.
      requestAnimationFrame(() => document.querySelector<HTMLElement>('main h1')?.focus());
    };
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

function ActionsPage({ live }: { live: number }) {
  const { value, error } = useLoad(() => get<{ actions: ConsoleAction[] }>('/api/actions'), [live]);
  return (
    <section aria-labelledby="actions-title">
      <h1 id="actions-title" tabIndex={-1}>
        Actions
      </h1>
      <ErrorText error={error} />
      <table class="list">
        <caption>Actions taken through this console since it started, newest first</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">Action</th>
            <th scope="col">On</th>
            <th scope="col">Result</th>
          </tr>
        </thead>
        <tbody>
          {(value?.actions ?? []).map((a) => (
            <tr>
              <td>{formatTime(a.at)}</td>
              <td>{a.operator}</td>
              <td>{a.action}</td>
              <td class="key">{a.subject}</td>
              <td class={a.ok ? '' : 'error-text'}>{a.ok ? a.result : `failed: ${a.error}`}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function App({ token }: { token: string | undefined }) {
  const route = useHashRoute();
  const [live, setLive] = useState(0);
  const [connected, setConnected] = useState(false);
  const overview = useLoad(() => get<Overview>('/api/overview'), []);

  useEffect(() => {
    if (!token) return;
    return listen((event) => {
      if (event === 'change') setLive((n) => n + 1);
    }, setConnected);
  }, [token]);

  if (!token) {
    return (
      <main id="main" class="standalone">
        <h1>vendor-ingest console</h1>
        <p role="alert">
          This page has no access token. Open the URL the console printed when it started (it ends in{' '}
          <code>#token=…</code>).
        </p>
      </main>
    );
  }
  const o = overview.value;
  return (
    <ConfirmProvider>
      <button type="button" class="skip" onClick={() => document.getElementById('main')?.focus()}>
        Skip to content
      </button>
      <header>
        <div class="title">
          <strong>vendor-ingest</strong> <span>{o ? o.description : '…'}</span>
        </div>
        <nav aria-label="Pages">
          {PAGES.map((p) => (
            <a href={`#/${p.id}`} aria-current={route.page === p.id ? 'page' : undefined}>
              {p.label}
            </a>
          ))}
        </nav>
        <div class="meta">
          <span
            class={`live ${connected ? 'on' : 'off'}`}
            role="status"
            aria-label={connected ? 'Live updates on' : 'Live updates reconnecting'}
          >
            {connected ? '● live' : '○ reconnecting'}
          </span>{' '}
          {o && <span>acting as {o.operator}</span>}
        </div>
      </header>
      <NoticeProvider>
        <main id="main" tabIndex={-1}>
          {overview.error && <ErrorText error={overview.error} />}
          {o && route.page === 'deliveries' && (
            <DeliveriesPage overview={o} params={route.params} live={live} />
          )}
          {o && route.page === 'delivery' && <DeliveryPageView params={route.params} live={live} />}
          {o && route.page === 'dlq' && <DlqPage overview={o} live={live} />}
          {o && route.page === 'vendors' && <VendorsPage overview={o} params={route.params} live={live} />}
          {o && route.page === 'actions' && <ActionsPage live={live} />}
        </main>
      </NoticeProvider>
    </ConfirmProvider>
  );
}

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(<App token={takeToken()} />, root);
}
