import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Builds `SET a = :a, …` / `REMOVE …` expressions with placeholder names, so reserved words are safe. */
export class UpdateBuilder {
  private readonly sets: string[] = [];
  private readonly removes: string[] = [];
  private readonly adds: string[] = [];
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private n = 0;

  name(key: string, attribute = key): string {
    const placeholder = `#${key.replace(/[^A-Za-z0-9_]/g, '_')}`;
    this.names[placeholder] = attribute;
    return placeholder;
  }

  value(v: unknown): string {
    const placeholder = `:v${this.n++}`;
    this.values[placeholder] = v;
    return placeholder;
  }

  set(attribute: string, v: unknown): this {
    if (v === undefined) return this;
    this.sets.push(`${this.name(attribute)} = ${this.value(v)}`);
    return this;
  }

  /** SET attribute = if_not_exists(attribute, v) */
  setIfAbsent(attribute: string, v: unknown): this {
    const name = this.name(attribute);
    this.sets.push(`${name} = if_not_exists(${name}, ${this.value(v)})`);
    return this;
  }

  /** SET attribute = if_not_exists(attribute, 0) + by */
  increment(attribute: string, by = 1): this {
    const name = this.name(attribute);
    this.sets.push(`${name} = if_not_exists(${name}, ${this.value(0)}) + ${this.value(by)}`);
    return this;
  }

  /** SET list = list_append(if_not_exists(list, []), [entry]) */
  append(attribute: string, entry: unknown): this {
    const name = this.name(attribute);
    this.sets.push(
      `${name} = list_append(if_not_exists(${name}, ${this.value([])}), ${this.value([entry])})`,
    );
    return this;
  }

  /** SET map.field = v for each entry (the map must exist). */
  setFields(attribute: string, fields: Record<string, unknown>): this {
    const entries = Object.entries(fields).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return this;
    const map = this.name(attribute);
    for (const [field, v] of entries)
      this.sets.push(`${map}.${this.name(`f_${field}`, field)} = ${this.value(v)}`);
    return this;
  }

  remove(...attributes: string[]): this {
    for (const a of attributes) this.removes.push(this.name(a));
    return this;
  }

  expression(): string {
    const parts: string[] = [];
    if (this.sets.length) parts.push(`SET ${this.sets.join(', ')}`);
    if (this.removes.length) parts.push(`REMOVE ${this.removes.join(', ')}`);
    if (this.adds.length) parts.push(`ADD ${this.adds.join(', ')}`);
    return parts.join(' ');
  }
}

export function isConditionFailure(error: unknown): boolean {
  const name = (error as { name?: string }).name;
  return name === 'ConditionalCheckFailedException' || name === 'TransactionCanceledException';
}

export interface TableRef {
  readonly doc: DynamoDBDocumentClient;
  readonly tableName: string;
}
