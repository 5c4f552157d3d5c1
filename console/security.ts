import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * The console's request checks. A web server on 127.0.0.1 that can redrive and replay is reachable
 * by every page open in the operator's browser, so it accepts a request only when
 *
 * - its `Host` is the console's own address (`127.0.0.1:<port>` or `localhost:<port>`): a page of
 *   another site that rebinds its DNS name to 127.0.0.1 still sends its own name (DNS rebinding);
 * - its `Origin`, when the browser sends one, is the console's own; every state-changing request
 *   must carry one (browsers send it with every POST) and, when the browser says where a request
 *   comes from (`Sec-Fetch-Site`), an API request must be same-origin (cross-site request forgery);
 * - it is an API request carrying this run's token in `Authorization: Bearer …`. The token is made
 *   at start and printed only inside the console's URL, after `#token=`: a URL fragment never
 *   reaches a server, a log or a `Referer`, and the page moves it into its session storage and off
 *   the address bar at once. Another page cannot read it (same-origin policy) nor set the header
 *   on a request the browser would send without a CORS preflight, which the console never grants.
 *
 * Pages and scripts (no data in them) need no token, so the URL opens the console; everything under
 * `/api/` does, reads included.
 */

export interface Refusal {
  readonly status: number;
  readonly reason: string;
}

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export class RequestGuard {
  private readonly hosts: ReadonlySet<string>;
  private readonly origins: ReadonlySet<string>;
  private readonly token: Buffer;

  constructor(port: number, token: string) {
    this.hosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
    this.origins = new Set([...this.hosts].map((h) => `http://${h}`));
    this.token = Buffer.from(token);
  }

  /** Why a request is refused, or undefined to serve it. */
  check(req: Pick<IncomingMessage, 'method' | 'url' | 'headers'>): Refusal | undefined {
    const host = req.headers.host ?? '';
    if (!this.hosts.has(host.toLowerCase()))
      return { status: 421, reason: `refused: Host "${host}" is not this console's address` };
    const origin = req.headers.origin;
    const changes = req.method !== 'GET' && req.method !== 'HEAD';
    if (origin !== undefined && !this.origins.has(origin))
      return { status: 403, reason: `refused: a request from origin "${origin}"` };
    if (changes && origin === undefined)
      return { status: 403, reason: 'refused: a state-changing request without an Origin header' };
    const api = (req.url ?? '').startsWith('/api/');
    if (!api) return undefined;
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none')
      return { status: 403, reason: `refused: a ${site} request` };
    const auth = req.headers.authorization ?? '';
    const given = Buffer.from(auth.startsWith('Bearer ') ? auth.slice(7) : '');
    if (given.length === 0)
      return { status: 401, reason: 'refused: no access token (open the URL the console printed)' };
    if (given.length !== this.token.length || !timingSafeEqual(given, this.token))
      return {
        status: 401,
        reason: 'refused: wrong access token (the console was restarted? open its new URL)',
      };
    return undefined;
  }
}

/** Headers on every response: no framing, no sniffing, no referrer, nothing from elsewhere. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; " +
    "font-src 'self'; frame-src blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};
