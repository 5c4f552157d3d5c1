import * as z from 'zod';

/**
 * What both ClearTax flows share: the credential (a ready token or a client secret to mint one from)
 * and the token endpoint's answer.
 */

/** Documented token endpoint (ClearTax "Generate access token"); overridable per route as `paths.token`. */
export const CLEARTAX_TOKEN_PATH = '/integration/v1/authz/token';

/** An API path relative to the route's base URL, e.g. `/integration/v1/authz/token`. */
export const ApiPathSchema = z
  .string()
  .regex(/^\/[^?#\s]*$/, 'a path starting with "/", without query or fragment');

/**
 * Credential fields of a ClearTax secret. Exactly one is set: a long-lived `authToken` used as is, or a
 * `clientSecret` from which a token is minted and shared (the token endpoint allows 288 calls a day).
 */
export const ClearTaxCredentialShape = {
  authToken: z.string().min(1).optional(),
  clientSecret: z.string().min(1).optional(),
} as const;

/** The credential part of a ClearTax secret, after validation. */
export interface ClearTaxCredential {
  readonly authToken?: string | undefined;
  readonly clientSecret?: string | undefined;
}

/** Refinement shared by both secret schemas: one credential, not none and not both. */
export function hasExactlyOneCredential(secret: ClearTaxCredential): boolean {
  return (secret.authToken === undefined) !== (secret.clientSecret === undefined);
}

export const ONE_CREDENTIAL_MESSAGE = 'set exactly one of authToken or clientSecret';
