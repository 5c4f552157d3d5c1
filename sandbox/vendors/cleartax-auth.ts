import { header, jsonReply } from '../http-util';
import type { ApiRoute, VendorEnv } from './types';
import { hexId } from './types';

/** ClearTax tokens, shared by both ClearTax flows (one-integration mints the same way [assumed]). */
export interface CleartaxAuth {
  /** `GET /integration/v1/authz/token`. */
  mintRoute: ApiRoute;
  /** The static auth token, or the current minted token before its `valid_till`. */
  isValid(token: string | undefined, now: number): boolean;
  reset(): void;
}

interface Mint {
  token: string;
  validTill: number;
}

const bySandbox = new WeakMap<VendorEnv, CleartaxAuth>();

/**
 * The token endpoint and its validity check of one sandbox: both ClearTax modules get the same one.
 * `cleartax-gst` serves the endpoint (and resets it); `cleartax-one` only checks tokens.
 */
export function cleartaxAuthFor(env: VendorEnv): CleartaxAuth {
  let auth = bySandbox.get(env);
  if (auth === undefined) {
    auth = createCleartaxAuth(env);
    bySandbox.set(env, auth);
  }
  return auth;
}

function createCleartaxAuth(env: VendorEnv): CleartaxAuth {
  const { credentials, options } = env;
  // Per client secret: the UTC day and the number of mint calls that day, and the current minted token.
  let mintsByDay = new Map<string, { day: string; count: number }>();
  let current = new Map<string, Mint>();

  const mintRoute: ApiRoute = {
    vendor: 'cleartax-gst',
    operation: 'token',
    method: 'GET',
    pattern: /^\/integration\/v1\/authz\/token$/,
    handle(req, _presign, now) {
      const secret = header(req.headers, 'x-clear-client-secret');
      if (secret !== credentials.cleartax.clientSecret) {
        return jsonReply(
          401,
          { errorCode: 'AUTHORIZATION_FAILED', errorMessage: 'Invalid client secret' },
          'AUTHORIZATION_FAILED: invalid client secret',
        );
      }
      const day = new Date(now).toISOString().slice(0, 10);
      const used = mintsByDay.get(secret);
      const count = used?.day === day ? used.count + 1 : 1;
      mintsByDay.set(secret, { day, count });
      if (count > options.mintDailyLimit) {
        return jsonReply(
          429,
          {
            errorCode: 'API_QUOTA_EXCEEDED',
            errorMessage: `Token generation is limited to ${options.mintDailyLimit} calls a day`,
          },
          'API_QUOTA_EXCEEDED: daily mint limit reached',
        );
      }
      // The vendor "may invalidate" the previous token on a new mint: the sandbox always does, so an
      // adapter that mints per file (instead of caching) fails here as it might in production.
      const mint: Mint = { token: `ct_${hexId(24)}`, validTill: now + options.tokenTtlMs };
      current.set(secret, mint);
      return jsonReply(200, { access_token: mint.token, valid_till: new Date(mint.validTill).toISOString() });
    },
  };

  return {
    mintRoute,
    isValid(token, now) {
      if (token === undefined || token === '') return false;
      if (token === credentials.cleartax.authToken) return true;
      const mint = current.get(credentials.cleartax.clientSecret);
      return mint !== undefined && mint.token === token && now < mint.validTill;
    },
    reset() {
      mintsByDay = new Map();
      current = new Map();
    },
  };
}
