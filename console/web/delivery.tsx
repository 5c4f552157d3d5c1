import type { ComponentChildren } from 'preact';
import { useRef, useState } from 'preact/hooks';
import { act, blob, get } from './client';
import type { ActionAnswer, DeliveryDetail } from './types';
import {
  Badge,
  ErrorText,
  formatBytes,
  formatMs,
  formatTime,
  hashHref,
  useConfirm,
  useLoad,
  useNotify,
} from './ui';

/** A result document or vendor error file, fetched through the console and shown in a dialog. */
function ResultViewer({ label, href, name }: { label: string; href: string; name: string }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [content, setContent] = useState<{ text?: string; url: string; error?: string }>();
  const open = async () => {
    try {
      const file = await blob(href);
      const url = URL.createObjectURL(file);
      const text = file.type.startsWith('text/') ? await file.text() : undefined;
      setContent({ text, url });
    } catch (e) {
      setContent({ url: '', error: e instanceof Error ? e.message : String(e) });
    }
    dialog.current?.showModal();
  };
  const close = () => {
    dialog.current?.close();
    if (content?.url) URL.revokeObjectURL(content.url);
    setContent(undefined);
  };
  return (
    <>
      <button type="button" onClick={open}>
        {label}
      </button>
      <dialog
        ref={dialog}
        class="viewer"
        aria-label={`${label}: ${name}`}
        onCancel={(e) => {
          e.preventDefault();
          close();
        }}
      >
        <h2>{name}</h2>
        <ErrorText error={content?.error} />
        {content?.text !== undefined ? <pre>{content.text}</pre> : !content?.error && <p>Binary file.</p>}
        <div class="buttons">
          {content?.url && (
            <a class="button" href={content.url} download={name}>
              Download
            </a>
          )}
          <button type="button" onClick={close}>
            Close
          </button>
        </div>
      </dialog>
    </>
  );
}

function Field({ name, children }: { name: string; children: ComponentChildren }) {
  return (
    <>
      <dt>{name}</dt>
      <dd>{children}</dd>
    </>
  );
}

function json(value: unknown): string {
  return value === undefined ? '–' : JSON.stringify(value, null, 2);
}

/** One delivery: what it is, its timeline, durations, vendor ids and state, results, and actions. */
export function DeliveryPageView({ params, live }: { params: URLSearchParams; live: number }) {
  const key = params.get('key') ?? '';
  const version = params.get('version') ?? undefined;
  const [reload, setReload] = useState(0);
  const { value, error } = useLoad(
    () => get<DeliveryDetail>('/api/delivery', { key, version }),
    [key, version, live, reload],
  );
  const ask = useConfirm();
  const notify = useNotify();
  if (!key) return <p>No key given.</p>;
  if (!value) return error ? <ErrorText error={error} /> : <p aria-busy="true">Loading {key}…</p>;
  const { record: r, timeline, durations, results, versions } = value;

  const run = async (what: string, path: string, body: Record<string, unknown>) => {
    try {
      const out = await act<ActionAnswer>(path, body);
      notify({ tone: 'good', text: `${what}: ${out.result}` });
    } catch (e) {
      notify({ tone: 'bad', text: `${what} failed: ${e instanceof Error ? e.message : String(e)}` });
    }
    setReload((n) => n + 1);
  };
  const replay = async () => {
    const ok = await ask({
      title: 'Replay this delivery?',
      body: (
        <p>
          <code>{r.key}</code> goes back to RECEIVED and is delivered to {r.vendor} <strong>again</strong>,
          with your name in its history. This is the one way to deliver a version twice.
        </p>
      ),
      confirmLabel: 'Replay',
      danger: true,
    });
    if (ok) await run('Replay', '/api/replay', { key: r.key, version: r.sk });
  };
  const resolveAs = async (as: 'completed' | 'retry') => {
    const ok = await ask({
      title: as === 'completed' ? 'Resolve as completed?' : 'Resolve by calling the vendor again?',
      body:
        as === 'completed' ? (
          <p>Only after checking at {r.vendor} that the completion happened (the activity or job exists).</p>
        ) : (
          <p>Only after checking at {r.vendor} that the completion did not happen: it is called again.</p>
        ),
      confirmLabel: as === 'completed' ? 'Resolve as completed' : 'Call the vendor again',
      danger: as === 'retry',
    });
    if (ok) await run(`Resolve as ${as}`, '/api/resolve', { key: r.key, version: r.sk, as });
  };

  return (
    <section aria-labelledby="delivery-title">
      <p>
        <a href={hashHref('deliveries')}>← Deliveries</a>
      </p>
      <h1 id="delivery-title" class="key" tabIndex={-1}>
        {r.key}
      </h1>
      <p>
        <Badge value={r.state} /> <Badge value={r.outcome} /> {r.routeId} → {r.vendor}
      </p>
      {versions.length > 1 && (
        <nav aria-label="Versions of this key">
          Versions:{' '}
          {versions.map((v) => (
            <a
              href={hashHref('delivery', { key: r.key, version: v.sk })}
              aria-current={v.sk === r.sk ? 'page' : undefined}
              class="version"
            >
              {formatTime(v.createdAt)} ({v.state})
            </a>
          ))}
        </nav>
      )}
      <fieldset class="actions">
        <legend class="visually-hidden">Actions on this delivery</legend>
        <button type="button" onClick={replay}>
          Replay…
        </button>
        {r.state === 'COMPLETION_UNCERTAIN' && (
          <>
            <button type="button" onClick={() => resolveAs('completed')}>
              Resolve as completed…
            </button>
            <button type="button" onClick={() => resolveAs('retry')}>
              Resolve: call again…
            </button>
          </>
        )}
        {results.document && (
          <ResultViewer
            label="Open result document"
            href={results.document.href}
            name={results.document.key}
          />
        )}
        {results.errorFile && (
          <ResultViewer
            label="Open vendor error file"
            href={results.errorFile.href}
            name={results.errorFile.key}
          />
        )}
      </fieldset>
      <div class="columns">
        <section aria-labelledby="facts-title">
          <h2 id="facts-title">Delivery</h2>
          <dl>
            <Field name="Delivery id">
              <code>{r.deliveryId}</code>
            </Field>
            <Field name="Size">{formatBytes(r.size)}</Field>
            <Field name="Dispatch attempts">{r.attempts ?? 0}</Field>
            <Field name="Completion attempts">{r.completionAttempts ?? 0}</Field>
            {r.replays ? <Field name="Replays">{r.replays}</Field> : null}
            <Field name="Dropped (first seen)">{formatTime(r.createdAt)}</Field>
            <Field name="Uploaded">{formatTime(r.uploadedAt)}</Field>
            <Field name="Completed">{formatTime(r.completedAt)}</Field>
            <Field name="Outcome">
              <Badge value={r.outcome} /> {r.outcomeAt ? formatTime(r.outcomeAt) : ''}
            </Field>
            <Field name="Drop → uploaded">{formatMs(durations.dropToUploadedMs)}</Field>
            <Field name="Uploaded → completed">{formatMs(durations.uploadedToCompletedMs)}</Field>
            <Field name="Drop → completed">{formatMs(durations.dropToCompletedMs)}</Field>
            <Field name="Completed → vendor verdict">{formatMs(durations.completedToOutcomeMs)}</Field>
            {r.reason && (
              <Field name="Reason">
                <strong>{r.reason}</strong>
                {r.failedStep ? ` (in ${r.failedStep})` : ''}
              </Field>
            )}
            {r.lastError && (
              <Field name="Last error">
                <span class="error-text">{r.lastError}</span>
              </Field>
            )}
            {r.waitingFor && <Field name="Waiting for">{r.waitingFor}</Field>}
          </dl>
        </section>
        <section aria-labelledby="vendor-title">
          <h2 id="vendor-title">At the vendor</h2>
          <dl>
            <Field name="Vendor ids">
              <pre class="wrap">{json(r.refs)}</pre>
            </Field>
            <Field name="Job state">{r.vendorState ?? '–'}</Field>
            <Field name="Job phase">{r.vendorPhase ?? '–'}</Field>
            <Field name="Job detail">
              <pre class="wrap">{json(r.vendorDetail)}</pre>
            </Field>
            <Field name="Result document">{r.results?.document ?? '–'}</Field>
            <Field name="Vendor error file">{r.results?.errorFile ?? '–'}</Field>
          </dl>
        </section>
      </div>
      <section aria-labelledby="timeline-title">
        <h2 id="timeline-title">Timeline</h2>
        {r.historyDropped ? <p class="muted">{r.historyDropped} older entries were dropped.</p> : null}
        <ol class="timeline">
          {timeline.map((t) => (
            <li>
              <time dateTime={t.at}>{formatTime(t.at)}</time> <Badge value={t.state} />{' '}
              <span class="muted">
                +{formatMs(t.sincePreviousMs)} (at {formatMs(t.sinceCreatedMs)})
              </span>
              {t.note ? <span> — {t.note}</span> : null}
            </li>
          ))}
        </ol>
      </section>
    </section>
  );
}
