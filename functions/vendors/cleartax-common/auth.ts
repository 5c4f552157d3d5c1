import { tokenKey } from '../kit/token';
import type { AuthSpec } from '../spec/schema';

/** The first part of every ClearTax token key: the `Vendor` dimension of the mint metric. */
export const CLEARTAX_TOKEN_FAMILY = 'cleartax';

/** ClearTax's token endpoint allows this many mints per client secret per day. */
export const CLEARTAX_MINTS_PER_DAY = 288;

/**
 * Cache key of the token minted from `clientSecret` against `baseUrl`. Both ClearTax flows share it, on
 * purpose: minting a token may invalidate the previous one for the same secret.
 */
export function clearTaxTokenKey(baseUrl: string, clientSecret: string): string {
  return tokenKey(CLEARTAX_TOKEN_FAMILY, baseUrl, clientSecret);
}

/**
 * ClearTax authentication, shared by both flows' specs: a long-lived `authToken` used as is, or a token
 * minted from `clientSecret` (`GET {paths.token}` with `x-clear-client-secret`, 288 mints a day) and
 * shared by every function through the token cache. `headers` carry `{token}`.
 */
export function clearTaxAuth(
  headers: Readonly<Record<string, string>>,
  refusedCodes: string[] = [],
): AuthSpec {
  return {
    kind: 'token',
    headers: { ...headers },
    staticToken: '{secret.authToken}',
    mint: {
      request: {
        method: 'GET',
        path: '{options.paths.token}',
        headers: { 'x-clear-client-secret': '{secret.clientSecret}' },
      },
      token: '{answer.access_token}',
      // null: the token never expires.
      validUntil: '{answer.valid_till}',
      family: CLEARTAX_TOKEN_FAMILY,
      keyFrom: '{secret.clientSecret}',
      dailyLimit: CLEARTAX_MINTS_PER_DAY,
    },
    refused: { status: [401], code: refusedCodes },
  };
}
