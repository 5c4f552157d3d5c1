import { createHash } from 'node:crypto';
import { ErrorCode, PermanentError, type PipelineError } from '../../shared/errors';
import { badResponse, classifyHttpStatus, parseRetryAfter } from '../../shared/http/classify';
import { redactor } from '../../shared/redact';
import type { MintedToken, VendorContext, VendorHttp, VendorResponse } from '../types';
import { isSuccess } from './answers';
import { type ClearTaxCredential, TokenResponseSchema } from './schemas';

/**
 * Cache key of the token minted from `clientSecret` against `baseUrl`. Both ClearTax flows share it, on
 * purpose: minting a token may invalidate the previous one for the same secret, so two caches would
 * keep knocking each other's token out. Only a digest of the secret appears in the key.
 */
export function clearTaxTokenKey(baseUrl: string, clientSecret: string): string {
  const digest = createHash('sha256').update(clientSecret).digest('hex').slice(0, 16);
  return `${CLEARTAX_TOKEN_FAMILY}:${new URL(baseUrl).origin}:${digest}`;
}

/** The first part of every ClearTax token key: the `Vendor` dimension of the mint metric. */
export const CLEARTAX_TOKEN_FAMILY = 'cleartax';

function tokenFailure(response: VendorResponse, now: number): PipelineError {
  const retryAfterMs = parseRetryAfter(response.headers['retry-after'], now);
  if (response.status === 429) {
    // 288 mints a day per client secret: a 429 here means something minted far too often.
    return classifyHttpStatus(429, {
      operation: 'token',
      message: 'daily token quota (288 per client secret) exhausted',
      retryAfterMs,
    });
  }
  return classifyHttpStatus(response.status, {
    operation: 'token',
    message: response.status === 401 || response.status === 403 ? 'client secret refused' : undefined,
    retryAfterMs,
  });
}

/**
 * Mints an access token with `GET {base}{tokenPath}` and header `x-clear-client-secret`. A 429 is a
 * `ThrottledError`, a 401/403 a permanent `AUTH_FAILED`, a 2xx without a usable token a bad response.
 */
export async function mintClearTaxToken(
  http: VendorHttp,
  tokenPath: string,
  clientSecret: string,
  now: () => number,
): Promise<MintedToken> {
  const response = await http.request({
    operation: 'token',
    method: 'GET',
    path: tokenPath,
    headers: { 'x-clear-client-secret': clientSecret },
  });
  if (!isSuccess(response.status)) throw tokenFailure(response, now());
  const parsed = TokenResponseSchema.safeParse(response.body);
  if (!parsed.success) {
    throw badResponse('token', 'no access_token in the answer', parsed.error);
  }
  const { access_token: token, valid_till: validTill } = parsed.data;
  let validUntil: number | null = null;
  if (validTill !== null && validTill !== undefined) {
    validUntil = Date.parse(validTill);
    if (Number.isNaN(validUntil)) throw badResponse('token', 'valid_till is not a date');
  }
  // The token is a credential: make sure no log line or error message can carry it.
  redactor.add(token);
  return { token, validUntil };
}

/** How one authorised ClearTax call is made and how its refusal looks. */
export interface AuthorisedCall {
  /** Path of the token endpoint (route option `paths.token`). */
  readonly tokenPath: string;
  /** Sends the request with `token`. */
  readonly send: (token: string) => Promise<VendorResponse>;
  /** The answer says the token was refused (HTTP 401, or an `AUTHORIZATION_FAILED` code in the body). */
  readonly refused: (response: VendorResponse) => boolean;
}

/** ClearTax's token endpoint allows this many mints per client secret per day. */
export const CLEARTAX_MINTS_PER_DAY = 288;

/**
 * Makes one ClearTax call with the route's credential and returns the vendor's answer for the caller
 * to classify. With a static `authToken` the call is made once. With a `clientSecret` the token comes
 * from the shared cache (minted once for all callers, counted against the 288 mints a day); if the
 * vendor refuses it, it is re-minted once (however many functions saw the refusal) and the call made
 * once more. A refusal of the fresh token is returned as is, and the cache stops minting for these
 * credentials: the caller classifies it as the permanent `AUTH_FAILED` it is.
 */
export async function callWithClearTaxToken(
  ctx: VendorContext<ClearTaxCredential, unknown>,
  call: AuthorisedCall,
): Promise<VendorResponse> {
  const { authToken, clientSecret } = ctx.secret;
  if (authToken !== undefined) return call.send(authToken);
  if (clientSecret === undefined) {
    throw new PermanentError(
      ErrorCode.SECRET_INVALID,
      'ClearTax secret holds neither authToken nor clientSecret',
    );
  }
  const key = clearTaxTokenKey(ctx.route.baseUrl, clientSecret);
  const mint = () => mintClearTaxToken(ctx.http, call.tokenPath, clientSecret, ctx.now);
  const policy = { dailyLimit: CLEARTAX_MINTS_PER_DAY };
  const token = await ctx.tokens.get(key, mint, policy);
  const first = await call.send(token);
  if (!call.refused(first)) return first;
  if ((await ctx.tokens.refused(key, token)) === 'refused') return first;
  ctx.log.info('ClearTax refused the cached token; minting a fresh one', { status: first.status });
  const fresh = await ctx.tokens.get(key, mint, policy);
  const second = await call.send(fresh);
  if (call.refused(second)) await ctx.tokens.refused(key, fresh);
  return second;
}
