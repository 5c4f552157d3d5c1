/**
 * A small evaluator of DynamoDB condition expressions — the subset the ledger generates:
 * `attribute_exists(#a)`, `attribute_not_exists(#a)`, `#a = :v`, `#a < :v`, `#a IN (:v, …)`, `AND`,
 * `OR`, `NOT` and parentheses. It lets the state-machine table be tested against every item state
 * without DynamoDB; the integration tests run the same expressions on the embedded AWS.
 */
type Token = { kind: 'word' | 'name' | 'value' | 'op' | 'paren' | 'comma'; text: string };

function tokenize(expression: string): Token[] {
  const tokens: Token[] = [];
  const pattern = /\s*(?:(#[A-Za-z0-9_]+)|(:[A-Za-z0-9_]+)|(<=|>=|<>|=|<|>)|([()])|(,)|([A-Za-z_]+))/y;
  let index = 0;
  while (index < expression.length) {
    pattern.lastIndex = index;
    const match = pattern.exec(expression);
    if (!match) {
      if (/^\s*$/.test(expression.slice(index))) break;
      throw new Error(`cannot read the condition at "${expression.slice(index)}"`);
    }
    index = pattern.lastIndex;
    if (match[1]) tokens.push({ kind: 'name', text: match[1] });
    else if (match[2]) tokens.push({ kind: 'value', text: match[2] });
    else if (match[3]) tokens.push({ kind: 'op', text: match[3] });
    else if (match[4]) tokens.push({ kind: 'paren', text: match[4] });
    else if (match[5]) tokens.push({ kind: 'comma', text: ',' });
    else if (match[6]) tokens.push({ kind: 'word', text: match[6] });
  }
  return tokens;
}

export interface ConditionInput {
  readonly expression: string;
  readonly names: Readonly<Record<string, string>>;
  readonly values: Readonly<Record<string, unknown>>;
}

/** True when `item` (undefined: no item) satisfies the condition. */
export function evaluateCondition(
  input: ConditionInput,
  item: Readonly<Record<string, unknown>> | undefined,
): boolean {
  const tokens = tokenize(input.expression);
  let position = 0;
  const peek = () => tokens[position];
  const next = () => {
    const token = tokens[position++];
    if (!token) throw new Error(`condition ends early: ${input.expression}`);
    return token;
  };
  const expect = (text: string) => {
    const token = next();
    if (token.text !== text)
      throw new Error(`expected "${text}", found "${token.text}" in ${input.expression}`);
  };
  const attribute = (token: Token): string => {
    if (token.kind !== 'name') throw new Error(`expected an attribute name, found "${token.text}"`);
    const name = input.names[token.text];
    if (name === undefined) throw new Error(`no attribute name for ${token.text}`);
    return name;
  };
  const value = (token: Token): unknown => {
    if (token.kind !== 'value') throw new Error(`expected a value, found "${token.text}"`);
    if (!(token.text in input.values)) throw new Error(`no value for ${token.text}`);
    return input.values[token.text];
  };
  const read = (name: string): unknown => (item === undefined ? undefined : item[name]);
  const compare = (left: unknown, op: string, right: unknown): boolean => {
    // DynamoDB: a comparison with a missing attribute is false.
    if (left === undefined) return false;
    switch (op) {
      case '=':
        return left === right;
      case '<>':
        return left !== right;
      case '<':
        return (left as number) < (right as number);
      case '<=':
        return (left as number) <= (right as number);
      case '>':
        return (left as number) > (right as number);
      case '>=':
        return (left as number) >= (right as number);
      default:
        throw new Error(`operator ${op}`);
    }
  };

  const primary = (): boolean => {
    const token = next();
    if (token.kind === 'paren' && token.text === '(') {
      const inner = disjunction();
      expect(')');
      return inner;
    }
    if (token.kind === 'word' && token.text === 'NOT') return !primary();
    if (
      token.kind === 'word' &&
      (token.text === 'attribute_exists' || token.text === 'attribute_not_exists')
    ) {
      expect('(');
      const name = attribute(next());
      expect(')');
      const exists = read(name) !== undefined;
      return token.text === 'attribute_exists' ? exists : !exists;
    }
    const left = read(attribute(token));
    const op = next();
    if (op.kind === 'word' && op.text === 'IN') {
      expect('(');
      const options: unknown[] = [value(next())];
      while (peek()?.kind === 'comma') {
        next();
        options.push(value(next()));
      }
      expect(')');
      return left !== undefined && options.includes(left);
    }
    if (op.kind !== 'op') throw new Error(`expected a comparison after ${token.text}`);
    return compare(left, op.text, value(next()));
  };
  const conjunction = (): boolean => {
    let result = primary();
    while (peek()?.kind === 'word' && peek()?.text === 'AND') {
      next();
      const right = primary();
      result = result && right;
    }
    return result;
  };
  function disjunction(): boolean {
    let result = conjunction();
    while (peek()?.kind === 'word' && peek()?.text === 'OR') {
      next();
      const right = conjunction();
      result = result || right;
    }
    return result;
  }
  const result = disjunction();
  if (position !== tokens.length) throw new Error(`unread input in ${input.expression}`);
  return result;
}
