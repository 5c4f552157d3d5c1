import { UnsafeUploadTargetError } from '../errors';
import { redactUrl } from '../redact';
import { isLoopbackHost } from '../routes/load';

export interface UploadGuardPolicy {
  /** Host patterns: `host`, `*.domain` (any sub-domain, not the bare domain), each optionally `:port`. */
  readonly uploadHostAllowList: readonly string[];
  /** Permit `http://` to loopback hosts (local runs against the vendor sandbox only). */
  readonly allowLoopbackHttp: boolean;
}

const DEFAULT_PORT: Record<string, string> = { 'https:': '443', 'http:': '80' };

function hostMatches(pattern: string, hostname: string, port: string, defaultPort: string): boolean {
  const colon = pattern.lastIndexOf(':');
  const hasPort = colon !== -1 && /^\d+$/.test(pattern.slice(colon + 1));
  const hostPattern = (hasPort ? pattern.slice(0, colon) : pattern).toLowerCase();
  // Without an explicit port the pattern means the scheme's default port only.
  const patternPort = hasPort ? pattern.slice(colon + 1) : defaultPort;
  if (patternPort !== (port || defaultPort)) return false;
  if (hostPattern.startsWith('*.')) {
    const suffix = hostPattern.slice(1);
    return hostname.endsWith(suffix) && hostname.length > suffix.length;
  }
  return hostname === hostPattern;
}

/**
 * Refuses an upload URL a vendor handed out unless it is `https` (or loopback `http` when the stage
 * allows it) on a host of the route's allow-list, with no embedded credentials. Runs before any byte
 * of the object is read, so a bad or hostile vendor answer cannot send our files elsewhere.
 */
export function assertSafeUploadTarget(raw: string, policy: UploadGuardPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UnsafeUploadTargetError('upload URL is not a valid absolute URL');
  }
  const shown = redactUrl(url.toString());
  if (url.username || url.password)
    throw new UnsafeUploadTargetError(`upload URL carries credentials: ${shown}`);
  const hostname = url.hostname.toLowerCase();
  if (url.protocol === 'http:') {
    if (!(policy.allowLoopbackHttp && isLoopbackHost(hostname))) {
      throw new UnsafeUploadTargetError(`upload URL is not https: ${shown}`);
    }
  } else if (url.protocol !== 'https:') {
    throw new UnsafeUploadTargetError(`upload URL scheme ${url.protocol} is not allowed: ${shown}`);
  }
  const defaultPort = DEFAULT_PORT[url.protocol] ?? '';
  if (!policy.uploadHostAllowList.some((pattern) => hostMatches(pattern, hostname, url.port, defaultPort))) {
    throw new UnsafeUploadTargetError(`upload host ${url.host} is not on the route's allow-list: ${shown}`);
  }
  return url;
}
