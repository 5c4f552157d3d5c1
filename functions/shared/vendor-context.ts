import type { AnyVendorAdapter, TokenCache, VendorContext } from '../vendors/types';
import { ErrorCode, PermanentError, RetryableError } from './errors';
import { type CallLimiter, createVendorHttp } from './http/vendor-http';
import type { CoreLogger } from './observability';
import { redactor } from './redact';
import type { AdapterLookup } from './routes/load';
import type { ResolvedRoute } from './routes/schema';

/** Reads a secret's string value. Throws {@link SecretNotFoundError} when the secret does not exist. */
export type SecretSource = (secretId: string) => Promise<string>;

/** What the cores need to talk to any vendor. */
export interface VendorRuntime {
  readonly adapters: AdapterLookup;
  readonly secrets: SecretSource;
  readonly tokens: TokenCache;
  /** A limiter shared by every function for `key` with `slots` concurrent calls. */
  readonly limiterFor: (key: string, slots: number) => CallLimiter;
  readonly vendorTimeoutMs: number;
  readonly now: () => number;
}

export interface PreparedVendor {
  readonly adapter: AnyVendorAdapter;
  readonly ctx: VendorContext<unknown, unknown>;
}

function issueList(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): string {
  return issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
}

/**
 * Resolves everything a vendor call needs for one route and key: the adapter, the route options
 * merged with the key's named segments (validated), the secret (validated, registered for
 * redaction), and an HTTP client with the per-account call limit and the function's deadline.
 */
export async function prepareVendor(
  runtime: VendorRuntime,
  route: ResolvedRoute,
  segments: Readonly<Record<string, string>>,
  log: CoreLogger,
  deadline: () => number,
): Promise<PreparedVendor> {
  const adapter = runtime.adapters(route.vendor);
  if (!adapter) {
    throw new PermanentError(
      ErrorCode.ROUTE_CONFIG_INVALID,
      `route "${route.id}" names unknown vendor "${route.vendor}"`,
    );
  }
  const options = adapter.optionsSchema.safeParse({ ...route.options, ...segments });
  if (!options.success) {
    throw new PermanentError(
      ErrorCode.ROUTE_CONFIG_INVALID,
      `route "${route.id}" options are invalid for this key: ${issueList(options.error.issues)}`,
    );
  }

  let raw: string;
  try {
    raw = await runtime.secrets(route.secretId);
  } catch (error) {
    if (error instanceof PermanentError) throw error;
    throw new RetryableError(ErrorCode.NETWORK, `could not read secret "${route.secretId}"`, {
      cause: error,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new PermanentError(ErrorCode.SECRET_INVALID, `secret "${route.secretId}" is not JSON`);
  }
  redactor.addObject(json);
  const secret = adapter.secretSchema.safeParse(json);
  if (!secret.success) {
    // Paths and rules only: zod messages never echo the values.
    throw new PermanentError(
      ErrorCode.SECRET_INVALID,
      `secret "${route.secretId}" does not have the ${adapter.name} shape: ${issueList(secret.error.issues)}`,
    );
  }

  const slots = route.maxConcurrentCalls ?? adapter.defaultMaxConcurrentCalls;
  const limiter =
    slots === undefined
      ? undefined
      : runtime.limiterFor(
          adapter.accountKey?.(secret.data, options.data) ?? `${route.vendor}:${route.secretId}`,
          slots,
        );

  const http = createVendorHttp({
    baseUrl: route.baseUrl,
    timeoutMs: runtime.vendorTimeoutMs,
    limiter,
    deadline,
    onCall: (call) => log.debug('vendor call', { ...call }),
  });

  return {
    adapter,
    ctx: {
      route,
      options: options.data,
      secret: secret.data,
      http,
      tokens: runtime.tokens,
      log,
      now: runtime.now,
    },
  };
}
