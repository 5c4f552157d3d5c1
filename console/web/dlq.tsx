import { useState } from 'preact/hooks';
import { act, get } from './client';
import type { ActionAnswer, DlqMessage, Overview } from './types';
import { Badge, ErrorText, formatTime, hashHref, useConfirm, useLoad, useNotify } from './ui';

/**
 * Every DLQ message with its reason, and what an operator does with it: redrive one or all, delete,
 * replay the delivery, resolve an uncertain completion. Each asks first and is recorded.
 */
export function DlqPage({ overview, live }: { overview: Overview; live: number }) {
  const [reload, setReload] = useState(0);
  const [queue, setQueue] = useState('');
  const { value, error, loading } = useLoad(
    () => get<{ messages: DlqMessage[] }>('/api/dlq'),
    [live, reload],
  );
  const ask = useConfirm();
  const notify = useNotify();
  const messages = value?.messages ?? [];

  const run = async (what: string, path: string, body: Record<string, unknown>) => {
    try {
      const out = await act<ActionAnswer>(path, body);
      notify({ tone: 'good', text: `${what}: ${out.result}` });
    } catch (e) {
      notify({ tone: 'bad', text: `${what} failed: ${e instanceof Error ? e.message : String(e)}` });
    }
    setReload((n) => n + 1);
  };

  const redriveAll = async () => {
    const where = queue ? `the ${queue} DLQ` : 'every DLQ';
    const count = messages.filter((m) => !queue || m.queueId === queue).length;
    if (
      await ask({
        title: `Redrive ${where}?`,
        body: (
          <p>
            {count} message{count === 1 ? '' : 's'} go back to{' '}
            {queue ? 'its source queue' : 'their source queues'}. A file that fails again is parked again,
            once.
          </p>
        ),
        confirmLabel: 'Redrive',
      })
    )
      await run(`Redrive ${where}`, '/api/dlq/redrive', queue ? { queue } : {});
  };

  const redriveOne = async (m: DlqMessage) => {
    if (
      await ask({
        title: 'Redrive this message?',
        body: (
          <p>
            The message about <code>{m.subject}</code> ({m.errorCode}) goes back to the {m.queue} queue.
          </p>
        ),
        confirmLabel: 'Redrive',
      })
    )
      await run('Redrive', '/api/dlq/redrive', { queue: m.queueId, messageId: m.messageId });
  };

  const remove = async (m: DlqMessage) => {
    if (
      await ask({
        title: 'Delete this message?',
        body: (
          <p>
            The message about <code>{m.subject}</code> leaves the {m.queue} DLQ for good: it is not retried.
          </p>
        ),
        confirmLabel: 'Delete',
        danger: true,
      })
    )
      await run('Delete', '/api/dlq/delete', { queue: m.queueId, messageId: m.messageId });
  };

  const replay = async (m: DlqMessage) => {
    if (
      await ask({
        title: 'Replay this delivery?',
        body: (
          <p>
            <code>{m.subject}</code> goes back to RECEIVED and is delivered again. The parked message stays:
            delete it once the replay has completed.
          </p>
        ),
        confirmLabel: 'Replay',
        danger: true,
      })
    ) {
      const found = await get<{ record: { sk: string } | null }>('/api/dlq/record', {
        subject: m.subject,
        deliveryId: m.deliveryId,
      });
      await run('Replay', '/api/replay', { key: m.subject, version: found.record?.sk });
    }
  };

  const resolve = async (m: DlqMessage, as: 'completed' | 'retry') => {
    if (
      await ask({
        title: as === 'completed' ? 'Resolve as completed?' : 'Resolve by calling the vendor again?',
        body: (
          <p>
            {as === 'completed'
              ? 'Only after checking at the vendor that the completion happened.'
              : 'Only after checking at the vendor that the completion did not happen: it is called again.'}{' '}
            The parked message is deleted with it.
          </p>
        ),
        confirmLabel: as === 'completed' ? 'Resolve as completed' : 'Call the vendor again',
        danger: as === 'retry',
      })
    ) {
      const found = await get<{ record: { sk: string } | null }>('/api/dlq/record', {
        subject: m.subject,
        deliveryId: m.deliveryId,
      });
      await run(`Resolve as ${as}`, '/api/resolve', {
        key: m.subject,
        version: found.record?.sk,
        as,
        queue: m.queueId,
        messageId: m.messageId,
      });
    }
  };

  return (
    <section aria-labelledby="dlq-title">
      <h1 id="dlq-title" tabIndex={-1}>
        Dead-letter queues
      </h1>
      <div class="toolbar">
        <div class="field">
          <label for="f-queue">Queue</label>
          <select id="f-queue" value={queue} onChange={(e) => setQueue(e.currentTarget.value)}>
            <option value="">every DLQ</option>
            {overview.queues.map((q) => (
              <option value={q}>{q}</option>
            ))}
          </select>
        </div>
        <button type="button" onClick={redriveAll} disabled={messages.length === 0}>
          Redrive all…
        </button>
      </div>
      <ErrorText error={error} />
      <table class="list" aria-busy={loading}>
        <caption>
          {messages.length === 0 && !loading
            ? 'Every dead-letter queue is empty.'
            : `${messages.length} parked message${messages.length === 1 ? '' : 's'}`}
        </caption>
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Queue</th>
            <th scope="col">Reason</th>
            <th scope="col">Retryable</th>
            <th scope="col">Parked</th>
            <th scope="col">Message</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {messages
            .filter((m) => !queue || m.queueId === queue)
            .map((m) => (
              <tr key={m.messageId} data-message-id={m.messageId} data-key={m.subject}>
                <th scope="row" class="key">
                  <a href={hashHref('delivery', { key: m.subject })}>{m.subject}</a>
                </th>
                <td>{m.queue}</td>
                <td>
                  <Badge value={m.errorCode} />
                </td>
                <td>{m.retryable || '–'}</td>
                <td>{formatTime(m.failedAt || m.sentAt)}</td>
                <td class="message">
                  <details>
                    <summary>{m.errorMessage || '(no message)'}</summary>
                    <dl>
                      <dt>Message id</dt>
                      <dd>
                        <code>{m.messageId}</code>
                      </dd>
                      {Object.entries(m.attributes).map(([k, v]) => (
                        <>
                          <dt>{k}</dt>
                          <dd>{v}</dd>
                        </>
                      ))}
                      <dt>Body</dt>
                      <dd>
                        <pre class="wrap">{m.body}</pre>
                      </dd>
                    </dl>
                  </details>
                </td>
                <td>
                  <fieldset class="row-actions">
                    <legend class="visually-hidden">Actions on the message about {m.subject}</legend>
                    <button type="button" onClick={() => redriveOne(m)} aria-label={`Redrive ${m.subject}`}>
                      Redrive…
                    </button>
                    <button type="button" onClick={() => replay(m)} aria-label={`Replay ${m.subject}`}>
                      Replay…
                    </button>
                    {m.errorCode === 'COMPLETION_UNCERTAIN' && (
                      <>
                        <button
                          type="button"
                          onClick={() => resolve(m, 'completed')}
                          aria-label={`Resolve ${m.subject} as completed`}
                        >
                          Resolve: done…
                        </button>
                        <button
                          type="button"
                          onClick={() => resolve(m, 'retry')}
                          aria-label={`Resolve ${m.subject} by calling again`}
                        >
                          Resolve: retry…
                        </button>
                      </>
                    )}
                    <button
                      type="button"
                      class="danger"
                      onClick={() => remove(m)}
                      aria-label={`Delete the message about ${m.subject}`}
                    >
                      Delete…
                    </button>
                  </fieldset>
                </td>
              </tr>
            ))}
        </tbody>
      </table>
    </section>
  );
}
