import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ErrorCode, RetryableError } from '../errors';
import type { CallLimiter } from '../http/vendor-http';
import { isConditionFailure, type TableRef } from './dynamo';

export interface SemaphoreOptions extends TableRef {
  /** Shared limit key, e.g. `clevertap:<accountId>`. */
  readonly key: string;
  /** Number of slots (concurrent holders allowed). */
  readonly slots: number;
  /** A slot is reclaimed after this long if its holder died without releasing it. */
  readonly leaseMs: number;
  /** Give up waiting for a slot after this long (retryable `CONCURRENCY_LIMIT`). */
  readonly maxWaitMs: number;
  readonly now?: () => number;
}

/**
 * A counting semaphore in DynamoDB: `slots` items per key, each held by at most one caller, taken by
 * a conditional write and reclaimed when its lease expires. Every function that calls the vendor
 * (dispatch and completion, any number of concurrent Lambdas) shares it, which is how a per-account
 * limit such as CleverTap's 3 concurrent calls holds across the whole deployment.
 */
export class DynamoSemaphore implements CallLimiter {
  private readonly now: () => number;

  constructor(private readonly options: SemaphoreOptions) {
    this.now = options.now ?? Date.now;
  }

  async acquire(): Promise<() => Promise<void>> {
    const holder = randomUUID();
    const started = this.now();
    let pause = 20;
    for (;;) {
      const order = Array.from({ length: this.options.slots }, (_, i) => i).sort(() => Math.random() - 0.5);
      for (const slot of order) {
        if (await this.tryTake(slot, holder)) return () => this.release(slot, holder);
      }
      if (this.now() - started >= this.options.maxWaitMs) {
        throw new RetryableError(
          ErrorCode.CONCURRENCY_LIMIT,
          `all ${this.options.slots} call slots for ${this.options.key} stayed busy for ${this.options.maxWaitMs} ms`,
        );
      }
      await sleep(pause + Math.random() * pause);
      pause = Math.min(pause * 2, 250);
    }
  }

  private async tryTake(slot: number, holder: string): Promise<boolean> {
    const now = this.now();
    try {
      await this.options.doc.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { pk: `sem#${this.options.key}`, sk: `slot#${slot}` },
          UpdateExpression: 'SET holder = :h, leaseUntil = :until',
          ConditionExpression: 'attribute_not_exists(holder) OR leaseUntil < :now',
          ExpressionAttributeValues: { ':h': holder, ':until': now + this.options.leaseMs, ':now': now },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  private async release(slot: number, holder: string): Promise<void> {
    try {
      await this.options.doc.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { pk: `sem#${this.options.key}`, sk: `slot#${slot}` },
          UpdateExpression: 'REMOVE holder, leaseUntil',
          ConditionExpression: 'holder = :h',
          ExpressionAttributeValues: { ':h': holder },
        }),
      );
    } catch (error) {
      // Lost to lease expiry: someone else holds the slot now, which is what expiry is for.
      if (!isConditionFailure(error)) throw error;
    }
  }
}
