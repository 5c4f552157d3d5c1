import type { MintedToken, TokenCache } from '../../functions/vendors/types';

/**
 * A process-local token cache: one mint at a time per key, token kept until `validUntil` minus a
 * safety margin. Test support (and the bench), standing in for the shared DynamoTokenCache where one
 * process is the whole world.
 */
export class MemoryTokenCache implements TokenCache {
  private readonly tokens = new Map<string, MintedToken>();
  private readonly minting = new Map<string, Promise<MintedToken>>();

  constructor(
    private readonly now: () => number = Date.now,
    /** Tokens this close to expiry are treated as expired. */
    private readonly marginMs = 60_000,
  ) {}

  /** Number of mints performed, for tests and metrics. */
  mints = 0;

  async get(key: string, mint: () => Promise<MintedToken>): Promise<string> {
    const cached = this.tokens.get(key);
    if (cached && this.fresh(cached)) return cached.token;
    let pending = this.minting.get(key);
    if (!pending) {
      this.mints++;
      pending = mint().finally(() => this.minting.delete(key));
      this.minting.set(key, pending);
    }
    const minted = await pending;
    if (this.nextReplaces.delete(key)) this.replacements.add(minted.token);
    this.tokens.set(key, minted);
    return minted.token;
  }

  /** Tokens minted to replace a refused one. */
  private readonly replacements = new Set<string>();
  private readonly nextReplaces = new Set<string>();

  async refused(key: string, token: string): Promise<'remint' | 'refused'> {
    if (this.tokens.get(key)?.token !== token) return 'remint';
    if (this.replacements.has(token)) return 'refused';
    this.tokens.delete(key);
    this.nextReplaces.add(key);
    return 'remint';
  }

  private fresh(token: MintedToken): boolean {
    return token.validUntil === null || token.validUntil - this.marginMs > this.now();
  }
}
