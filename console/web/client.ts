/**
 * The page's side of the console API: the access token (taken from the URL's `#token=` once, then
 * kept in this tab's session storage), JSON calls carrying it, and the live-update stream.
 */

const TOKEN_KEY = 'vendor-ingest-console-token';

/** Moves a token from the address bar into session storage; the page's hash becomes its route. */
export function takeToken(): string | undefined {
  const match = /^#token=([A-Za-z0-9_-]+)/.exec(location.hash);
  if (match?.[1]) {
    sessionStorage.setItem(TOKEN_KEY, match[1]);
    history.replaceState(null, '', `${location.pathname}#/deliveries`);
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) ?? ''}`, ...extra };
}

async function failure(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { error?: string };
    if (body.error) message = body.error;
  } catch {
    // not JSON
  }
  return new ApiError(res.status, message);
}

export async function get<T>(path: string, query: Record<string, string | undefined> = {}): Promise<T> {
  const q = new URLSearchParams(
    Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''),
  );
  const res = await fetch(`${path}${q.size > 0 ? `?${q}` : ''}`, { headers: headers() });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

/** An action: the body goes with `confirmed: true` (the page has asked the operator). */
export async function act<T>(path: string, body: Record<string, unknown>): Promise<T> {
  const res = await fetch(path, {
    method: 'POST',
    headers: headers({ 'content-type': 'application/json' }),
    body: JSON.stringify({ ...body, confirmed: true }),
  });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

/** A file the console serves (a result document): fetched with the token, as a blob. */
export async function blob(href: string): Promise<Blob> {
  const res = await fetch(href, { headers: headers() });
  if (!res.ok) throw await failure(res);
  return res.blob();
}

/**
 * Server-sent events from `/api/events`, read with fetch so the token travels in a header (an
 * EventSource cannot set one). Reconnects after a pause when the stream ends.
 */
export function listen(
  on: (event: string, data: unknown) => void,
  onState: (live: boolean) => void,
): () => void {
  let stopped = false;
  let controller: AbortController | undefined;
  const run = async () => {
    while (!stopped) {
      controller = new AbortController();
      try {
        const res = await fetch('/api/events', { headers: headers(), signal: controller.signal });
        if (!res.ok || !res.body) throw await failure(res);
        onState(true);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let event = 'message';
            let data = '';
            for (const line of frame.split('\n')) {
              if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data += line.slice(6);
            }
            try {
              on(event, data ? (JSON.parse(data) as unknown) : undefined);
            } catch {
              // a frame that is not JSON: ignored
            }
          }
        }
      } catch {
        // dropped, refused or stopped: retried below unless stopped
      }
      onState(false);
      if (!stopped) await new Promise((r) => setTimeout(r, 2000));
    }
  };
  void run();
  return () => {
    stopped = true;
    controller?.abort();
  };
}
