import { createHash } from 'node:crypto';
import type { MintedToken, MintPolicy, VendorContext, VendorResponse } from '../types';

/**
 * Cache key of a token minted from `credential` against `baseUrl`'s origin. Flows of one vendor account
 * share a `family` on purpose (both ClearTax flows use `cleartax`): minting a token may invalidate the
 * previous one for the same credentials, so two caches would keep knocking each other's token out. Only
 * a digest of the credential appears in the key.
 */
export function tokenKey(family: string, baseUrl: string, credential: string): string {
  const digest = createHash('sha256').update(credential).digest('hex').slice(0, 16);
  return `${family}:${new URL(baseUrl).origin}:${digest}`;
}

/** One call made with a shared token. */
export interface TokenFlow {
  /** Token-cache key (see {@link tokenKey}). */
  readonly key: string;
  /** Mints a fresh token (the caller redacts it). */
  readonly mint: () => Promise<MintedToken>;
  readonly policy?: MintPolicy;
  /** Sends the call with `token`. */
  readonly send: (token: string) => Promise<VendorResponse>;
  /** The answer says the token was refused. */
  readonly refused: (response: VendorResponse) => boolean;
}

/**
 * Makes one call with the shared token and returns the vendor's answer for the caller to classify. The
 * token comes from the cache (minted once for all callers, counted against the daily budget); if the
 * vendor refuses it, it is re-minted once (however many functions saw the refusal) and the call made
 * once more. A refusal of the fresh token is returned as is, and the cache stops minting for these
 * credentials: the caller classifies it as the permanent `AUTH_FAILED` it is.
 */
export async function callWithToken(
  ctx: VendorContext<unknown, unknown>,
  flow: TokenFlow,
): Promise<VendorResponse> {
  const token = await ctx.tokens.get(flow.key, flow.mint, flow.policy);
  const first = await flow.send(token);
  if (!flow.refused(first)) return first;
  if ((await ctx.tokens.refused(flow.key, token)) === 'refused') return first;
  ctx.log.info('the vendor refused the cached token; minting a fresh one', { status: first.status });
  const fresh = await ctx.tokens.get(flow.key, flow.mint, flow.policy);
  const second = await flow.send(fresh);
  if (flow.refused(second)) await ctx.tokens.refused(flow.key, fresh);
  return second;
}
