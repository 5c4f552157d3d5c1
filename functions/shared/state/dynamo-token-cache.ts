import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { MintedToken, TokenCache } from '../../vendors/types';
import { ErrorCode, RetryableError } from '../errors';
import { redactor } from '../redact';
import { isConditionFailure, type TableRef } from './dynamo';

export interface DynamoTokenCacheOptions extends TableRef {
  /** A token this close to expiry is treated as expired, ms. */
  readonly marginMs?: number;
  /** How long one function may hold the right to mint before another may take it, ms. */
  readonly mintLockMs?: number;
  /** How long to wait for another function's mint before giving up (retryable), ms. */
  readonly maxWaitMs?: number;
  readonly now?: () => number;
}

interface TokenItem {
  token?: string;
  validUntil?: number;
  neverExpires?: boolean;
  mintLockUntil?: number;
}

/**
 * Vendor tokens shared by every function through the state table. ClearTax allows 288 mints a day
 * and a new mint may invalidate the previous token, so exactly one function mints per token
 * lifetime: it takes a mint lock with a conditional write, mints, and stores the token; the others
 * wait for it. Each warm function also keeps the token in memory until it nears expiry.
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

  private async read(key: string): Promise<TokenItem | undefined> {
    const out = await this.options.doc.send(
      new GetCommand({
        TableName: this.options.tableName,
        Key: { pk: `token#${key}`, sk: 'token' },
        ConsistentRead: true,
      }),
    );
    return out.Item as TokenItem | undefined;
  }

  async get(key: string, mint: () => Promise<MintedToken>): Promise<string> {
    const mine = this.local.get(key);
    if (mine && this.fresh(mine)) return mine.token;
    const deadline = this.now() + (this.options.maxWaitMs ?? 15_000);
    let pause = 50;
    for (;;) {
      const item = await this.read(key);
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
          minted = await mint();
        } catch (error) {
          await this.dropMintLock(key, lockOwner);
          throw error;
        }
        redactor.add(minted.token);
        await this.store(key, lockOwner, minted);
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

  async invalidate(key: string, token: string): Promise<void> {
    if (this.local.get(key)?.token === token) this.local.delete(key);
    try {
      await this.options.doc.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { pk: `token#${key}`, sk: 'token' },
          UpdateExpression: 'REMOVE #t, validUntil, neverExpires',
          ConditionExpression: '#t = :t',
          ExpressionAttributeNames: { '#t': 'token' },
          ExpressionAttributeValues: { ':t': token },
        }),
      );
    } catch (error) {
      // Someone already replaced it: the next get() uses theirs.
      if (!isConditionFailure(error)) throw error;
    }
  }

  /** Mint right: nobody holds a live lock, and the stored token is still the stale one we saw. */
  private async takeMintLock(key: string, owner: string, seen: string | undefined): Promise<boolean> {
    const now = this.now();
    try {
      await this.options.doc.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { pk: `token#${key}`, sk: 'token' },
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

  private async store(key: string, owner: string, minted: MintedToken): Promise<void> {
    await this.options.doc.send(
      new UpdateCommand({
        TableName: this.options.tableName,
        Key: { pk: `token#${key}`, sk: 'token' },
        UpdateExpression:
          'SET #t = :t, validUntil = :v, neverExpires = :n, mintedAt = :at REMOVE mintLockOwner, mintLockUntil',
        ConditionExpression: 'mintLockOwner = :o',
        ExpressionAttributeNames: { '#t': 'token' },
        ExpressionAttributeValues: {
          ':t': minted.token,
          ':v': minted.validUntil ?? 0,
          ':n': minted.validUntil === null,
          ':at': new Date(this.now()).toISOString(),
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
          Key: { pk: `token#${key}`, sk: 'token' },
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
