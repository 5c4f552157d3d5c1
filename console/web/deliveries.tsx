import { useEffect, useRef, useState } from 'preact/hooks';
import { get } from './client';
import type { DeliveryPage, DeliverySummary, Overview } from './types';
import { Badge, ErrorText, formatBytes, formatTime, hashHref } from './ui';

/** `datetime-local` value ↔ ISO time. */
function toLocalInput(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

function fromLocalInput(value: string): string | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

type Filters = Record<'route' | 'vendor' | 'state' | 'from' | 'to' | 'prefix', string | undefined>;

/**
 * Deliveries, newest first, filtered by route, vendor, state, creation time and key prefix; paged
 * from the ledger's route index ("Load more" continues). The first page follows live changes.
 */
export function DeliveriesPage({
  overview,
  params,
  live,
}: {
  overview: Overview;
  params: URLSearchParams;
  live: number;
}) {
  const filters: Filters = {
    route: params.get('route') ?? undefined,
    vendor: params.get('vendor') ?? undefined,
    state: params.get('state') ?? undefined,
    from: params.get('from') ?? undefined,
    to: params.get('to') ?? undefined,
    prefix: params.get('prefix') ?? undefined,
  };
  const [form, setForm] = useState<Filters>(filters);
  const [pages, setPages] = useState<DeliveryPage[]>([]);
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(false);
  const key = JSON.stringify(filters);

  const shownKey = useRef(key);

  useEffect(() => setForm(JSON.parse(key) as Filters), [key]);

  // The first page: on a filter change, and on live changes while only the first page is shown.
  useEffect(() => {
    const newFilters = shownKey.current !== key;
    shownKey.current = key;
    if (!newFilters && pages.length > 1) return;
    let cancelled = false;
    setLoading(true);
    get<DeliveryPage>('/api/deliveries', { ...filters, limit: '50' }).then(
      (page) => {
        if (cancelled) return;
        setPages([page]);
        setError(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (cancelled) return;
        setError(e instanceof Error ? e.message : String(e));
        setLoading(false);
      },
    );
    return () => {
      cancelled = true;
    };
  }, [key, live]);

  const loadMore = async () => {
    const next = pages.at(-1)?.next;
    if (!next) return;
    setLoading(true);
    try {
      const page = await get<DeliveryPage>('/api/deliveries', { ...filters, limit: '50', cursor: next });
      setPages([...pages, page]);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setLoading(false);
    }
  };

  const apply = (e: Event) => {
    e.preventDefault();
    location.hash = hashHref('deliveries', form);
  };
  const items: DeliverySummary[] = pages.flatMap((p) => p.items);
  const set = (name: keyof Filters) => (e: Event) =>
    setForm({ ...form, [name]: (e.currentTarget as HTMLInputElement).value || undefined });

  return (
    <section aria-labelledby="deliveries-title">
      <h1 id="deliveries-title" tabIndex={-1}>
        Deliveries
      </h1>
      <form class="filters" onSubmit={apply} aria-label="Filter deliveries">
        <div class="field">
          <label for="f-route">Route</label>
          <select id="f-route" name="route" value={form.route ?? ''} onChange={set('route')}>
            <option value="">all routes</option>
            {overview.routes.map((r) => (
              <option value={r.id}>{`${r.id} (${r.prefix})`}</option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="f-vendor">Vendor</label>
          <select id="f-vendor" name="vendor" value={form.vendor ?? ''} onChange={set('vendor')}>
            <option value="">all vendors</option>
            {overview.vendors.map((v) => (
              <option value={v}>{v}</option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="f-state">State</label>
          <select id="f-state" name="state" value={form.state ?? ''} onChange={set('state')}>
            <option value="">any state</option>
            {overview.states.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="f-from">Dropped from</label>
          <input
            id="f-from"
            type="datetime-local"
            name="from"
            value={toLocalInput(form.from)}
            onChange={(e) => setForm({ ...form, from: fromLocalInput(e.currentTarget.value) })}
          />
        </div>
        <div class="field">
          <label for="f-to">Dropped before</label>
          <input
            id="f-to"
            type="datetime-local"
            name="to"
            value={toLocalInput(form.to)}
            onChange={(e) => setForm({ ...form, to: fromLocalInput(e.currentTarget.value) })}
          />
        </div>
        <div class="field">
          <label for="f-prefix">Key starts with</label>
          <input
            id="f-prefix"
            type="search"
            name="prefix"
            value={form.prefix ?? ''}
            onInput={set('prefix')}
            placeholder="cleartax/sales/"
          />
        </div>
        <div class="buttons">
          <button type="submit" class="primary">
            Apply filters
          </button>
          <a href="#/deliveries" class="button">
            Clear
          </a>
        </div>
      </form>
      <ErrorText error={error} />
      <table class="list" aria-busy={loading}>
        <caption>
          {items.length === 0 && !loading
            ? 'No deliveries match.'
            : `${items.length} deliveries, newest first${pages.at(-1)?.next ? ' (more below)' : ''}`}
        </caption>
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Route</th>
            <th scope="col">State</th>
            <th scope="col">Outcome</th>
            <th scope="col">Size</th>
            <th scope="col">Dropped</th>
            <th scope="col">Last change</th>
            <th scope="col">Reason</th>
          </tr>
        </thead>
        <tbody>
          {items.map((d) => (
            <tr key={`${d.key}|${d.sk}`} data-key={d.key} data-state={d.state}>
              <th scope="row" class="key">
                <a href={hashHref('delivery', { key: d.key, version: d.sk })}>{d.key}</a>
              </th>
              <td>{d.routeId ?? '–'}</td>
              <td>
                <Badge value={d.state} />
              </td>
              <td>
                <Badge value={d.outcome} />
              </td>
              <td class="num">{formatBytes(d.size)}</td>
              <td>{formatTime(d.createdAt)}</td>
              <td>{formatTime(d.updatedAt)}</td>
              <td>{d.reason ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {pages.at(-1)?.next && (
        <button type="button" onClick={loadMore} disabled={loading}>
          Load more
        </button>
      )}
    </section>
  );
}
