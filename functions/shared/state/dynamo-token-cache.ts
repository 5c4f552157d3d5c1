import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { MintedToken, MintPolicy, TokenCache } from '../../vendors/types';
import { ErrorCode, PermanentError, RetryableError } from '../errors';
import { redactor } from '../redact';
import { isConditionFailure, type TableRef } from './dynamo';

export interface DynamoTokenCacheOptions extends TableRef {
  /** A token this close to expiry is treated as expired, ms. */
  readonly marginMs?: number;
  /** How long one function may hold the right to mint before another may take it, ms. */
  readonly mintLockMs?: number;
  /** How long to wait for another function's mint before giving up (retryable), ms. */
  readonly maxWaitMs?: number;
  /**
   * After a freshly minted token was refused too, callers fail `AUTH_FAILED` at once for this long
   * (no vendor call), then the token is tried once more. ms. @default 15 minutes
   */
  readonly refusedCooldownMs?: number;
  /** Called after each mint with the day's mint count for the key (metrics). */
  readonly onMint?: (key: string, mintsToday: number) => void;
  readonly now?: () => number;
}

interface TokenItem {
  token?: string;
  validUntil?: number;
  neverExpires?: boolean;
  mintLockUntil?: number;
  /** This token was minted because the one before it was refused. */
  replacesRefused?: boolean;
  /** Epoch ms of the mint. */
  mintedAtMs?: number;
  /** The next mint replaces a refused token. */
  nextReplacesRefused?: boolean;
  /** Epoch ms at which the vendor refused this token although it replaced a refused one. */
  refusedAt?: number;
}

/** `2026-12-05` for an epoch ms, UTC. */
function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Epoch ms of the next UTC midnight. */
export function nextUtcMidnight(ms: number): number {
  const day = new Date(ms);
  return Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate() + 1);
}

/**
 * Vendor tokens shared by every function through the state table. ClearTax allows 288 mints a day
 * and a new mint may invalidate the previous token, so exactly one function mints per token
 * lifetime: it takes a mint lock with a conditional write, counts the mint against the day's
 * budget, mints, and stores the token; the others wait for it. A refused token is re-minted once; a
 * refused re-mint means bad credentials, and minting stops. Each warm function also keeps the token
 * in memory until it nears expiry.
 */
export class DynamoTokenCache implements TokenCache {
  private readonly local = new Map<string, MintedToken>();
  private readonly now: () => number;
  private readonly marginMs: number;

  constructor(private readonly options: DynamoTokenCacheOptions) {
    this.now = options.now ?? Date.now;
    this.marginMs = options.marginMs ?? 60_000;
  }

  private fresh(token: MintedToken): boolean {
    return token.validUntil === null || token.validUntil - this.marginMs > this.now();
  }

  private fromItem(item: TokenItem | undefined): MintedToken | undefined {
    if (!item?.token) return undefined;
    return { token: item.token, validUntil: item.neverExpires ? null : (item.validUntil ?? 0) };
  }

  private key(key: string) {
    return { pk: `token#${key}`, sk: 'token' };
  }

  private async read(key: string): Promise<TokenItem | undefined> {
    const out = await this.options.doc.send(
      new GetCommand({ TableName: this.options.tableName, Key: this.key(key), ConsistentRead: true }),
    );
    return out.Item as TokenItem | undefined;
  }

  /** Fails at once while a re-minted token stands refused (bad credentials), within the cooldown. */
  private assertNotRefused(item: TokenItem | undefined): void {
    const cooldown = this.options.refusedCooldownMs ?? 15 * 60_000;
    if (item?.refusedAt !== undefined && item.refusedAt + cooldown > this.now()) {
      throw new PermanentError(
        ErrorCode.AUTH_FAILED,
        `the vendor refused a freshly minted token at ${new Date(item.refusedAt).toISOString()}: the credentials are bad (no more mints for them; calls resume after ${Math.round(cooldown / 60_000)} minutes)`,
      );
    }
  }

  async get(key: string, mint: () => Promise<MintedToken>, policy: MintPolicy = {}): Promise<string> {
    const mine = this.local.get(key);
    if (mine && this.fresh(mine)) return mine.token;
    const deadline = this.now() + (this.options.maxWaitMs ?? 15_000);
    let pause = 50;
    for (;;) {
      const item = await this.read(key);
      this.assertNotRefused(item);
      const shared = this.fromItem(item);
      if (shared && this.fresh(shared)) {
        redactor.add(shared.token);
        this.local.set(key, shared);
        return shared.token;
      }
      const lockOwner = randomUUID();
      if (await this.takeMintLock(key, lockOwner, shared?.token)) {
        let minted: MintedToken;
        try {
          await this.countMint(key, policy);
          minted = await mint();
        } catch (error) {
          await this.dropMintLock(key, lockOwner);
          throw error;
        }
        redactor.add(minted.token);
        await this.store(key, lockOwner, minted, item?.nextReplacesRefused === true);
        this.local.set(key, minted);
        return minted.token;
      }
      if (this.now() >= deadline) {
        throw new RetryableError(
          ErrorCode.TOKEN_BUSY,
          `waited too long for another function to mint the ${key.split(':')[0]} token`,
        );
      }
      await sleep(pause);
      pause = Math.min(pause * 2, 500);
    }
  }

  /** Counts one mint against the day's budget, or refuses it (retryable, until the next UTC day). */
  private async countMint(key: string, policy: MintPolicy): Promise<void> {
    const now = this.now();
    const day = utcDay(now);
    const limit = policy.dailyLimit;
    try {
      const out = await this.options.doc.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { pk: `mints#${key}`, sk: day },
          UpdateExpression: 'SET mints = if_not_exists(mints, :zero) + :one, expiresAt = :expires',
          ...(limit !== undefined
            ? { ConditionExpression: 'attribute_not_exists(mints) OR mints < :limit' }
            : {}),
          ExpressionAttributeValues: {
            ':zero': 0,
            ':one': 1,
            // Counters are kept a week, then DynamoDB's TTL drops them.
            ':expires': Math.floor(now / 1000) + 7 * 86_400,
            ...(limit !== undefined ? { ':limit': limit } : {}),
          },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      this.options.onMint?.(key, Number(out.Attributes?.mints ?? 0));
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const until = nextUtcMidnight(now);
      throw new RetryableError(
        ErrorCode.TOKEN_BUDGET_EXHAUSTED,
        `the ${key.split(':')[0]} token was minted ${limit} times today (UTC), its daily limit; no more mints before ${new Date(until).toISOString()}`,
        { retryAfterMs: until - now },
      );
    }
  }

  async refused(key: string, token: string): Promise<'remint' | 'refused'> {
    if (this.local.get(key)?.token === token) this.local.delete(key);
    const item = await this.read(key);
    if (item?.token !== token) return 'remint'; // replaced meanwhile: the next get() uses the new one
    const now = this.now();
    // A re-minted token refused soon after its mint: the refusal is about the credentials, not the
    // token. (One that worked for a while may be re-minted again, once.)
    if (
      item.replacesRefused &&
      now - (item.mintedAtMs ?? 0) < (this.options.refusedCooldownMs ?? 15 * 60_000)
    ) {
      try {
        await this.options.doc.send(
          new UpdateCommand({
            TableName: this.options.tableName,
            Key: this.key(key),
            UpdateExpression: 'SET refusedAt = if_not_exists(refusedAt, :now)',
            ConditionExpression: '#t = :t',
            ExpressionAttributeNames: { '#t': 'token' },
            ExpressionAttributeValues: { ':t': token, ':now': now },
          }),
        );
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        return 'remint';
      }
      return 'refused';
    }
    try {
      await this.options.doc.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: this.key(key),
          UpdateExpression: 'SET nextReplacesRefused = :yes REMOVE #t, validUntil, neverExpires, refusedAt',
          ConditionExpression: '#t = :t',
          ExpressionAttributeNames: { '#t': 'token' },
          ExpressionAttributeValues: { ':t': token, ':yes': true },
        }),
      );
    } catch (error) {
      // Someone already replaced it: the next get() uses theirs.
      if (!isConditionFailure(error)) throw error;
    }
    return 'remint';
  }

  /** Mint right: nobody holds a live lock, and the stored token is still the stale one we saw. */
  private async takeMintLock(key: string, owner: string, seen: string | undefined): Promise<boolean> {
    const now = this.now();
    try {
      await this.options.doc.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: this.key(key),
          UpdateExpression: 'SET mintLockOwner = :o, mintLockUntil = :until',
          ConditionExpression: `(attribute_not_exists(mintLockUntil) OR mintLockUntil < :now) AND ${
            seen === undefined ? 'attribute_not_exists(#t)' : '#t = :seen'
          }`,
          ExpressionAttributeNames: { '#t': 'token' },
          ExpressionAttributeValues: {
            ':o': owner,
            ':until': now + (this.options.mintLockMs ?? 30_000),
            ':now': now,
            ...(seen === undefined ? {} : { ':seen': seen }),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  private async store(
    key: string,
    owner: string,
    minted: MintedToken,
    replacesRefused: boolean,
  ): Promise<void> {
    await this.options.doc.send(
      new UpdateCommand({
        TableName: this.options.tableName,
        Key: this.key(key),
        UpdateExpression:
          'SET #t = :t, validUntil = :v, neverExpires = :n, mintedAt = :at, mintedAtMs = :ms, replacesRefused = :r REMOVE mintLockOwner, mintLockUntil, nextReplacesRefused, refusedAt',
        ConditionExpression: 'mintLockOwner = :o',
        ExpressionAttributeNames: { '#t': 'token' },
        ExpressionAttributeValues: {
          ':t': minted.token,
          ':v': minted.validUntil ?? 0,
          ':n': minted.validUntil === null,
          ':at': new Date(this.now()).toISOString(),
          ':ms': this.now(),
          ':r': replacesRefused,
          ':o': owner,
        },
      }),
    );
  }

  private async dropMintLock(key: string, owner: string): Promise<void> {
    try {
      await this.options.doc.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: this.key(key),
          UpdateExpression: 'REMOVE mintLockOwner, mintLockUntil',
          ConditionExpression: 'mintLockOwner = :o',
          ExpressionAttributeValues: { ':o': owner },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }
}
