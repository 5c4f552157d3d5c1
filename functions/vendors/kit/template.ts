/**
 * Templates of vendor specs: strings with `{placeholders}` that read the call's scope.
 *
 * - `{file.name}` reads one value; `{refs.filename|file.name}` takes the first alternative that is set.
 * - A template that is one placeholder and nothing else keeps the value's type (`'{file.size}'` is a
 *   number, `'{options.metadata}'` an object); anything else is text, and every placeholder in it
 *   must be set.
 * - Path segments are names or array indexes (`answer.files.0.id`).
 *
 * The scope's roots are fixed ({@link TEMPLATE_ROOTS}); a spec naming another is refused when it is
 * loaded, as is any template that does not parse.
 */

/** Every root a placeholder may start with, and what it holds. */
export const TEMPLATE_ROOTS = {
  file: 'the S3 object: name, key, size, extension, storedContentType, sha256 (base64), sha256Hex',
  options: "the route's options, after the vendor's option schema",
  secret: "the route's secret, after the vendor's secret schema",
  refs: 'ids recorded so far (presign refs, checkpoints; in status, the completion result too)',
  upload: 'what the upload did: url (without query), signedUrl',
  answer: "the vendor's answer being read (JSON)",
  token: 'the access token (token auth headers only)',
  contentType: 'the Content-Type chosen for the upload',
  lookup: "the spec's lookups, by name",
} as const;
export type TemplateRoot = keyof typeof TEMPLATE_ROOTS;

export type Scope = Partial<Record<TemplateRoot, unknown>>;

/** A parsed placeholder: its alternatives, each a path from a root. */
interface Placeholder {
  readonly alternatives: readonly (readonly string[])[];
}

type Part = string | Placeholder;

const PLACEHOLDER = /\{([^{}]*)\}/g;
const SEGMENT = /^(?:[A-Za-z_$][\w$-]*|\d+)$/;

/** Parsed templates, by source text (specs are few and fixed: the cache stays small). */
const parsed = new Map<string, readonly Part[]>();

/** The problems of a template's syntax and roots (empty when it is well formed). */
export function templateProblems(template: string): string[] {
  const problems: string[] = [];
  const stripped = template.replace(PLACEHOLDER, '');
  if (stripped.includes('{') || stripped.includes('}')) problems.push(`unbalanced braces in "${template}"`);
  for (const match of template.matchAll(PLACEHOLDER)) {
    const inner = match[1] ?? '';
    for (const alternative of inner.split('|')) {
      const segments = alternative.trim().split('.');
      const root = segments[0] ?? '';
      if (!(root in TEMPLATE_ROOTS)) {
        problems.push(
          `"${template}": {${inner}} starts with "${root}", not one of ${Object.keys(TEMPLATE_ROOTS).join(', ')}`,
        );
        continue;
      }
      if (segments.some((s) => !SEGMENT.test(s)))
        problems.push(`"${template}": {${inner}} is not a dotted path such as file.name`);
    }
  }
  return problems;
}

/** Every path (root first) a template reads. */
export function templatePaths(template: string): string[][] {
  return parse(template).flatMap((part) =>
    typeof part === 'string' ? [] : part.alternatives.map((a) => [...a]),
  );
}

function parse(template: string): readonly Part[] {
  const cached = parsed.get(template);
  if (cached) return cached;
  const parts: Part[] = [];
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    const index = match.index ?? 0;
    if (index > last) parts.push(template.slice(last, index));
    parts.push({
      alternatives: (match[1] ?? '').split('|').map((alternative) => alternative.trim().split('.')),
    });
    last = index + match[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  parsed.set(template, parts);
  return parts;
}

/** The value at `path` (names and array indexes) under `root`, or undefined. */
export function readPath(root: unknown, path: readonly string[]): unknown {
  let current = root;
  for (const segment of path) {
    if (current === null || current === undefined) return undefined;
    if (Array.isArray(current)) {
      if (!/^\d+$/.test(segment)) return undefined;
      current = current[Number(segment)];
    } else if (typeof current === 'object') {
      current = (current as Record<string, unknown>)[segment];
    } else {
      return undefined;
    }
  }
  return current;
}

/** The first alternative that is set and not empty; else `''` if one is set but empty; else undefined. */
function placeholderValue(placeholder: Placeholder, scope: Scope): unknown {
  let empty = false;
  for (const [root, ...path] of placeholder.alternatives) {
    const value = readPath(scope[root as TemplateRoot], path);
    if (value === '') empty = true;
    else if (value !== undefined && value !== null) return value;
  }
  return empty ? '' : undefined;
}

/** A placeholder that a text template needs is not set. */
export class MissingValueError extends Error {
  constructor(
    readonly template: string,
    readonly placeholder: string,
  ) {
    super(`"${template}": {${placeholder}} is not set`);
    this.name = 'MissingValueError';
  }
}

/**
 * The template's value in `scope`: the value itself for a lone placeholder (undefined when unset),
 * else the text with every placeholder filled (throws {@link MissingValueError} when one is unset).
 */
export function evaluate(template: string, scope: Scope): unknown {
  const parts = parse(template);
  if (parts.length === 1 && typeof parts[0] !== 'string')
    return placeholderValue(parts[0] as Placeholder, scope);
  let text = '';
  for (const part of parts) {
    if (typeof part === 'string') {
      text += part;
      continue;
    }
    const value = placeholderValue(part, scope);
    if (value === undefined) {
      throw new MissingValueError(template, part.alternatives.map((a) => a.join('.')).join('|'));
    }
    text += typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
  return text;
}

/** The template as text, or undefined when its value is unset. */
export function evaluateText(template: string, scope: Scope): string | undefined {
  const value = evaluate(template, scope);
  if (value === undefined || value === null) return undefined;
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** A JSON body template: string leaves (and object keys) are templates. */
export type JsonTemplate =
  | string
  | number
  | boolean
  | null
  | readonly JsonTemplate[]
  | { readonly [key: string]: JsonTemplate };

/** Every template string of a JSON template, keys included. */
export function jsonTemplates(template: JsonTemplate): string[] {
  if (typeof template === 'string') return [template];
  if (Array.isArray(template)) return template.flatMap(jsonTemplates);
  if (template !== null && typeof template === 'object')
    return Object.entries(template).flatMap(([key, value]) => [key, ...jsonTemplates(value as JsonTemplate)]);
  return [];
}

/**
 * The JSON value of a body template: string leaves evaluated, keys too; an entry whose value is unset
 * is left out (optional fields), as is an unset array item.
 */
export function evaluateJson(template: JsonTemplate, scope: Scope): unknown {
  if (typeof template === 'string') return evaluate(template, scope);
  if (Array.isArray(template)) {
    return template.map((item) => evaluateJson(item, scope)).filter((item) => item !== undefined);
  }
  if (template !== null && typeof template === 'object') {
    const out: Record<string, unknown> = {};
    for (const [rawKey, rawValue] of Object.entries(template)) {
      const value = evaluateJson(rawValue as JsonTemplate, scope);
      if (value === undefined) continue;
      const key = evaluateText(rawKey, scope);
      if (key === undefined || key === '') throw new MissingValueError(rawKey, rawKey);
      out[key] = value;
    }
    return out;
  }
  return template;
}

/** Each entry's text; entries whose value is unset are left out. */
export function evaluateRecord(
  templates: Readonly<Record<string, string>> | undefined,
  scope: Scope,
): Record<string, string> | undefined {
  if (templates === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [rawKey, template] of Object.entries(templates)) {
    const value = evaluateText(template, scope);
    if (value === undefined) continue;
    const key = evaluateText(rawKey, scope);
    if (key === undefined || key === '') throw new MissingValueError(rawKey, rawKey);
    out[key] = value;
  }
  return out;
}
