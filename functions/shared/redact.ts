/**
 * Keeps credentials out of logs and error messages. Presigned URLs carry their credential in the
 * query string (X-Amz-Signature, X-Amz-Security-Token, X-Amz-Credential …); tokens and secret values
 * are registered at the point they are loaded and scrubbed from any text that leaves the process.
 */

const SENSITIVE_PARAM =
  /^(x-amz-(signature|security-token|credential)|signature|sig|token|access_token|key|policy|x-goog-signature|x-goog-credential)$/i;

const REDACTED = '[REDACTED]';

/** The URL without its query string and fragment: safe to log, store and send to a vendor as a reference. */
export function unsignedUrl(raw: string): string {
  try {
    const url = new URL(raw);
    return `${url.origin}${url.pathname}`;
  } catch {
    const cut = raw.search(/[?#]/);
    return cut === -1 ? raw : raw.slice(0, cut);
  }
}

/** The URL with every credential-bearing query value replaced; other parameters stay for debugging. */
export function redactUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return unsignedUrl(raw);
  }
  url.username = '';
  url.password = '';
  for (const name of [...url.searchParams.keys()]) {
    if (SENSITIVE_PARAM.test(name)) url.searchParams.set(name, REDACTED);
  }
  return url.toString();
}

const URL_IN_TEXT = /https?:\/\/[^\s"'<>]+/g;

/**
 * A registry of secret values seen by this process. Each value is replaced wherever it appears in
 * text passed through {@link Redactor.text}.
 */
export class Redactor {
  private readonly secrets = new Set<string>();
  /** Every form of every secret, longest first; rebuilt only when a secret is added. */
  private cachedForms: string[] | undefined;

  /** Register values that must never appear in output. Values shorter than 4 characters are ignored. */
  add(...values: ReadonlyArray<string | undefined | null>): void {
    for (const value of values) {
      if (typeof value === 'string' && value.length >= 4 && !this.secrets.has(value)) {
        this.secrets.add(value);
        this.cachedForms = undefined;
      }
    }
  }

  /** Register every string leaf of a secret object. */
  addObject(value: unknown): void {
    if (typeof value === 'string') this.add(value);
    else if (Array.isArray(value)) for (const item of value) this.addObject(item);
    else if (value !== null && typeof value === 'object') {
      for (const item of Object.values(value)) this.addObject(item);
    }
  }

  /** Text with registered secrets and URL credentials removed. */
  text(input: string): string {
    // Secrets are scrubbed before and after URL redaction: rebuilding a URL percent-encodes its
    // query values, which would hide a secret from a plain search.
    return this.scrub(this.scrub(input).replace(URL_IN_TEXT, (match) => redactUrl(match)));
  }

  /** Every registered secret in each form it may take in text (raw, URI- and form-encoded), longest first. */
  private forms(): string[] {
    if (this.cachedForms) return this.cachedForms;
    const all = new Set<string>();
    for (const secret of this.secrets) {
      all.add(secret);
      all.add(encodeURIComponent(secret));
      all.add(new URLSearchParams([['', secret]]).toString().slice(1));
    }
    // Longest first, so a secret that contains a shorter one is removed whole.
    this.cachedForms = [...all].sort((a, b) => b.length - a.length);
    return this.cachedForms;
  }

  private scrub(text: string): string {
    let out = text;
    for (const form of this.forms()) {
      if (out.includes(form)) out = out.split(form).join(REDACTED);
    }
    return out;
  }
}

/** One redactor per process: secrets are registered where they are loaded, used wherever text leaves. */
export const redactor = new Redactor();
