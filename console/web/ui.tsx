import type { ComponentChildren } from 'preact';
import { createContext } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';

/** Small shared pieces of the console's pages: formatting, state badges, the confirmation dialog, notices. */

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return '–';
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** A rate in bytes per second, with a decimal where it matters. */
export function formatRate(bytesPerSecond: number): string {
  const units = ['B/s', 'KiB/s', 'MiB/s', 'GiB/s'];
  let v = bytesPerSecond;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v === 0 || v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

export function formatMs(ms: number | undefined | null): string {
  if (ms === undefined || ms === null) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;
}

export function formatTime(iso: string | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { hour12: false });
}

/** `?a=b` from the route part of the hash (`#/page?a=b`). */
export function hashHref(page: string, params: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams(
    Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''),
  );
  return `#/${page}${q.size > 0 ? `?${q}` : ''}`;
}

const TONE: Record<string, string> = {
  COMPLETED: 'good',
  DUPLICATE: 'good',
  succeeded: 'good',
  FAILED: 'bad',
  failed: 'bad',
  COMPLETION_UNCERTAIN: 'warn',
  attention: 'warn',
  open: 'bad',
  closed: 'good',
};

export function Badge({ value }: { value: string | undefined }) {
  if (!value) return <span class="muted">–</span>;
  return <span class={`badge ${TONE[value] ?? 'neutral'}`}>{value}</span>;
}

export interface ConfirmRequest {
  readonly title: string;
  readonly body: ComponentChildren;
  readonly confirmLabel: string;
  readonly danger?: boolean;
}

type Ask = (request: ConfirmRequest) => Promise<boolean>;
const ConfirmContext = createContext<Ask>(async () => false);

export function useConfirm(): Ask {
  return useContext(ConfirmContext);
}

/**
 * Confirmation for every action, in a native modal `<dialog>`: the rest of the page is inert while
 * it is open (focus stays inside), Escape cancels, focus starts on Cancel and returns afterwards to
 * what had it.
 */
export function ConfirmProvider({ children }: { children: ComponentChildren }) {
  const [request, setRequest] = useState<(ConfirmRequest & { resolve: (ok: boolean) => void }) | undefined>();
  const dialog = useRef<HTMLDialogElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const returnTo = useRef<Element | null>(null);

  const ask: Ask = (r) =>
    new Promise((resolve) => {
      returnTo.current = document.activeElement;
      setRequest({ ...r, resolve });
    });

  useEffect(() => {
    const d = dialog.current;
    if (!d) return;
    if (request && !d.open) {
      d.showModal();
      cancel.current?.focus();
    }
  }, [request]);

  const finish = (ok: boolean) => {
    const r = request;
    setRequest(undefined);
    dialog.current?.close();
    r?.resolve(ok);
    const back = returnTo.current;
    if (back instanceof HTMLElement && back.isConnected) back.focus();
  };

  return (
    <ConfirmContext.Provider value={ask}>
      {children}
      <dialog
        ref={dialog}
        class="confirm"
        aria-labelledby="confirm-title"
        aria-describedby="confirm-body"
        onCancel={(e) => {
          e.preventDefault();
          finish(false);
        }}
      >
        {request && (
          <form
            method="dialog"
            onSubmit={(e) => {
              e.preventDefault();
              finish(true);
            }}
          >
            <h2 id="confirm-title">{request.title}</h2>
            <div id="confirm-body">{request.body}</div>
            <div class="buttons">
              <button type="button" ref={cancel} onClick={() => finish(false)}>
                Cancel
              </button>
              <button type="submit" class={request.danger ? 'danger' : 'primary'}>
                {request.confirmLabel}
              </button>
            </div>
          </form>
        )}
      </dialog>
    </ConfirmContext.Provider>
  );
}

export interface Notice {
  readonly tone: 'good' | 'bad';
  readonly text: string;
}

type Notify = (notice: Notice) => void;
const NoticeContext = createContext<Notify>(() => undefined);

export function useNotify(): Notify {
  return useContext(NoticeContext);
}

/** Results of actions, announced to screen readers (a live region) and shown until the next one. */
export function NoticeProvider({ children }: { children: ComponentChildren }) {
  const [notice, setNotice] = useState<Notice | undefined>();
  return (
    <NoticeContext.Provider value={setNotice}>
      <div class={`notice ${notice?.tone ?? ''}`} role="status" aria-live="polite" data-testid="notice">
        {notice?.text}
        {notice && (
          <button
            type="button"
            class="link"
            onClick={() => setNotice(undefined)}
            aria-label="Dismiss the message"
          >
            ×
          </button>
        )}
      </div>
      {children}
    </NoticeContext.Provider>
  );
}

/** A load that reruns when `deps` change; keeps the last good value while reloading. */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: readonly unknown[],
): {
  value: T | undefined;
  error: string | undefined;
  loading: boolean;
} {
  const [state, setState] = useState<{ value?: T; error?: string; loading: boolean }>({ loading: true });
  useEffect(() => {
    let cancelled = false;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (value) => !cancelled && setState({ value, loading: false }),
      (error: unknown) =>
        !cancelled &&
        setState((s) => ({
          ...s,
          loading: false,
          error: error instanceof Error ? error.message : String(error),
        })),
    );
    return () => {
      cancelled = true;
    };
  }, deps);
  return { value: state.value, error: state.error, loading: state.loading };
}

export function ErrorText({ error }: { error: string | undefined }) {
  return error ? (
    <p class="error" role="alert">
      {error}
    </p>
  ) : null;
}
