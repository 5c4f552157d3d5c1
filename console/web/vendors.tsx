import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { get } from './client';
import type { Overview, StatsReport, VendorStats } from './types';
import { Badge, ErrorText, formatMs, formatRate, formatTime, hashHref, useLoad } from './ui';

interface Series {
  readonly label: string;
  readonly values: ReadonlyArray<number | null>;
  readonly color: string;
  readonly format: (v: number) => string;
}

/** A uPlot line chart over the report's buckets; sized to its container. */
function Chart({
  title,
  times,
  series,
}: {
  title: string;
  times: readonly number[];
  series: readonly Series[];
}) {
  const host = useRef<HTMLDivElement>(null);
  const data = JSON.stringify([times, series.map((s) => [s.label, s.values])]);
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const width = () => Math.max(280, el.clientWidth);
    const plot = new uPlot(
      {
        width: width(),
        height: 180,
        series: [
          {},
          ...series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 2,
            points: { show: true, size: 4 },
            value: (_u: uPlot, v: number | null) => (v === null ? '–' : s.format(v)),
          })),
        ],
        axes: [
          {},
          {
            size: 70,
            values: (_u: uPlot, ticks: number[]) => ticks.map((t) => series[0]?.format(t) ?? String(t)),
          },
        ],
        scales: { y: { range: (_u: uPlot, _min: number, max: number) => [0, max > 0 ? max * 1.1 : 1] } },
      },
      [times.map((t) => t / 1000), ...series.map((s) => s.values.map((v) => v))] as uPlot.AlignedData,
      el,
    );
    const observer = new ResizeObserver(() => plot.setSize({ width: width(), height: 180 }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [title, data]);
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={host} role="img" aria-label={`${title}: chart; the same figures are in the table below`} />
    </figure>
  );
}

function percent(v: number | null): string {
  return v === null ? '–' : `${(v * 100).toFixed(1)} %`;
}

function VendorCard({ stats, bucketMs }: { stats: VendorStats; bucketMs: number }) {
  const times = stats.buckets.map((b) => Date.parse(b.at));
  const rate = (v: number) => `${v.toFixed(v < 10 ? 1 : 0)}/h`;
  const open = stats.breakers.filter((b) => b.state === 'open');
  return (
    <section class="vendor" aria-labelledby={`vendor-${stats.vendor}`}>
      <h2 id={`vendor-${stats.vendor}`}>
        <a href={hashHref('deliveries', { vendor: stats.vendor })}>{stats.vendor}</a>{' '}
        {open.length > 0 ? <Badge value="open" /> : null}
      </h2>
      <p class="muted">routes: {stats.routes.join(', ')}</p>
      <dl class="figures">
        <dt>Files</dt>
        <dd>{stats.files}</dd>
        <dt>Files per hour</dt>
        <dd>{stats.filesPerHour.toFixed(1)}</dd>
        <dt>Failure rate</dt>
        <dd>{percent(stats.failureRate)}</dd>
        <dt>Throughput</dt>
        <dd>{formatRate(stats.bytesPerSecond)}</dd>
        <dt>Drop → completed p50</dt>
        <dd>{formatMs(stats.p50Ms)}</dd>
        <dt>p95</dt>
        <dd>{formatMs(stats.p95Ms)}</dd>
        <dt>Succeeded / failed / attention / in flight</dt>
        <dd>
          {stats.succeeded} / {stats.failed} / {stats.attention} / {stats.inFlight}
        </dd>
      </dl>
      {stats.truncated && <p class="muted">Only the most recent deliveries of a busy route were counted.</p>}
      <h3>Circuit breakers</h3>
      {stats.breakers.length === 0 ? (
        <p class="muted">No breaker recorded for {stats.vendor}'s accounts (none has tripped).</p>
      ) : (
        <table class="list">
          <caption>Breakers of {stats.vendor}'s accounts</caption>
          <thead>
            <tr>
              <th scope="col">Account</th>
              <th scope="col">State</th>
              <th scope="col">Open since</th>
              <th scope="col">Failures</th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {stats.breakers.map((b) => (
              <tr>
                <th scope="row">{b.accountKey}</th>
                <td>
                  <Badge value={b.state} />
                </td>
                <td>{b.state === 'open' ? formatTime(b.openedAt) : '–'}</td>
                <td>{b.failures ?? '–'}</td>
                <td>{b.lastError ?? '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="charts">
        <Chart
          title="Files per hour (dropped, failed)"
          times={times}
          series={[
            {
              label: 'dropped',
              values: stats.buckets.map((b) => b.filesPerHour),
              color: '#2563eb',
              format: rate,
            },
            {
              label: 'failed',
              values: stats.buckets.map((b) => b.failedPerHour),
              color: '#dc2626',
              format: rate,
            },
          ]}
        />
        <Chart
          title="Drop → completed latency (p50, p95)"
          times={times}
          series={[
            { label: 'p50', values: stats.buckets.map((b) => b.p50Ms), color: '#059669', format: formatMs },
            { label: 'p95', values: stats.buckets.map((b) => b.p95Ms), color: '#d97706', format: formatMs },
          ]}
        />
        <Chart
          title="Throughput (completed bytes per second)"
          times={times}
          series={[
            {
              label: 'bytes/s',
              values: stats.buckets.map((b) => b.bytesPerSecond),
              color: '#7c3aed',
              format: formatRate,
            },
          ]}
        />
      </div>
      <details>
        <summary>The figures as a table ({formatMs(bucketMs)} per row)</summary>
        <table class="list">
          <caption>{stats.vendor} per period</caption>
          <thead>
            <tr>
              <th scope="col">From</th>
              <th scope="col">Files/h</th>
              <th scope="col">Failed/h</th>
              <th scope="col">p50</th>
              <th scope="col">p95</th>
              <th scope="col">Throughput</th>
            </tr>
          </thead>
          <tbody>
            {stats.buckets.map((b) => (
              <tr>
                <th scope="row">{formatTime(b.at)}</th>
                <td class="num">{b.filesPerHour.toFixed(1)}</td>
                <td class="num">{b.failedPerHour.toFixed(1)}</td>
                <td class="num">{formatMs(b.p50Ms)}</td>
                <td class="num">{formatMs(b.p95Ms)}</td>
                <td class="num">{formatRate(b.bytesPerSecond)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </section>
  );
}

/** Per-vendor figures over a chosen window, as charts, with each vendor's circuit breakers. */
export function VendorsPage({
  overview,
  params,
  live,
}: {
  overview: Overview;
  params: URLSearchParams;
  live: number;
}) {
  const window = params.get('window') ?? '24h';
  const { value, error, loading } = useLoad(
    () => get<StatsReport>('/api/vendors', { window }),
    [window, live],
  );
  return (
    <section aria-labelledby="vendors-title">
      <h1 id="vendors-title" tabIndex={-1}>
        Vendors
      </h1>
      <div class="toolbar">
        <div class="field">
          <label for="f-window">Window</label>
          <select
            id="f-window"
            value={window}
            onChange={(e) => {
              location.hash = hashHref('vendors', { window: e.currentTarget.value });
            }}
          >
            {overview.windows.map((w) => (
              <option value={w}>last {w}</option>
            ))}
          </select>
        </div>
        {value && (
          <span class="muted" aria-busy={loading}>
            {formatTime(value.from)} – {formatTime(value.to)}, from the ledger
          </span>
        )}
      </div>
      <ErrorText error={error} />
      {value?.vendors.map((v) => (
        <VendorCard stats={v} bucketMs={value.bucketMs} />
      ))}
    </section>
  );
}
