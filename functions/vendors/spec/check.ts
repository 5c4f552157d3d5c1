import type * as z from 'zod';
import { jsonTemplates, type TemplateRoot, templatePaths, templateProblems } from '../kit/template';
import type { ValueSpec, VendorSpecData } from './schema';

/** A template and the roots its place in the spec may read. */
interface Placed {
  readonly where: string;
  readonly template: string;
  readonly roots: readonly TemplateRoot[];
}

const CALL_ROOTS: readonly TemplateRoot[] = ['file', 'options', 'secret', 'contentType', 'lookup'];
const LATER_ROOTS: readonly TemplateRoot[] = [...CALL_ROOTS, 'refs', 'upload'];

// biome-ignore lint/suspicious/noExplicitAny: zod's internal definition is read structurally
type AnyDef = any;

/**
 * Whether `path` can exist under a zod schema: object shapes are followed, wrappers (optional, default,
 * pipe …) looked through; a record or an unknown accepts anything, a leaf accepts nothing further.
 */
export function schemaHasPath(schema: z.ZodType, path: readonly string[]): boolean {
  const def: AnyDef = (schema as AnyDef)._zod?.def;
  if (def === undefined) return true;
  if (path.length === 0) return true;
  switch (def.type) {
    case 'object': {
      const next = def.shape[path[0] as string];
      if (next) return schemaHasPath(next, path.slice(1));
      return def.catchall !== undefined && def.catchall._zod?.def?.type !== 'never';
    }
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return schemaHasPath(def.innerType, path);
    case 'pipe':
      return schemaHasPath(def.in, path) || schemaHasPath(def.out, path);
    case 'lazy':
      return schemaHasPath(def.getter(), path);
    case 'union':
      return def.options.some((option: z.ZodType) => schemaHasPath(option, path));
    case 'intersection':
      return schemaHasPath(def.left, path) || schemaHasPath(def.right, path);
    case 'array':
      return /^\d+$/.test(path[0] as string) && schemaHasPath(def.element, path.slice(1));
    case 'record':
    case 'unknown':
    case 'any':
      return true;
    default:
      return false;
  }
}

function valueTemplates(value: ValueSpec | undefined): string[] {
  if (value === undefined) return [];
  return [typeof value === 'string' ? value : value.at];
}

/**
 * Every problem of a parsed spec beyond its shape: template syntax, roots a place may not read, option
 * and secret fields the route's schemas do not have, lookups and refs that nothing defines. Empty when
 * the spec is sound.
 */
export function checkSpec(
  spec: VendorSpecData,
  schemas: { readonly secret: z.ZodType; readonly options: z.ZodType },
): string[] {
  const placed: Placed[] = [];
  const add = (where: string, roots: readonly TemplateRoot[], ...templates: string[]) => {
    for (const template of templates) placed.push({ where, template, roots });
  };
  const addRequest = (
    where: string,
    roots: readonly TemplateRoot[],
    request: VendorSpecData['presign']['request'],
  ) => {
    // `{name}` of a pathParams entry is a parameter, not a template placeholder.
    const params = Object.keys(request.pathParams ?? {});
    add(
      `${where}.path`,
      roots,
      params.reduce((path, name) => path.replaceAll(`{${name}}`, name), request.path),
    );
    for (const [part, record] of [
      ['pathParams', request.pathParams],
      ['query', request.query],
      ['headers', request.headers],
      ['form', request.form],
    ] as const) {
      for (const [key, value] of Object.entries(record ?? {}))
        add(`${where}.${part}.${key}`, roots, key, value);
    }
    if (request.json !== undefined) add(`${where}.json`, roots, ...jsonTemplates(request.json));
  };
  const answer = (roots: readonly TemplateRoot[]): TemplateRoot[] => [...roots, 'answer'];

  const { auth } = spec;
  if (auth.kind === 'headers') {
    for (const [key, value] of Object.entries(auth.headers))
      add(`auth.headers.${key}`, CALL_ROOTS, key, value);
  } else {
    const withToken: TemplateRoot[] = [...CALL_ROOTS, 'token'];
    for (const [key, value] of Object.entries(auth.headers))
      add(`auth.headers.${key}`, withToken, key, value);
    if (auth.staticToken !== undefined) add('auth.staticToken', CALL_ROOTS, auth.staticToken);
    addRequest('auth.mint.request', CALL_ROOTS, auth.mint.request);
    add('auth.mint.token', answer(CALL_ROOTS), ...valueTemplates(auth.mint.token));
    add('auth.mint.validUntil', answer(CALL_ROOTS), ...valueTemplates(auth.mint.validUntil));
    add('auth.mint.keyFrom', CALL_ROOTS, auth.mint.keyFrom);
  }
  if (typeof spec.files.maxSizeBytes === 'string')
    add('files.maxSizeBytes', ['options'], spec.files.maxSizeBytes);
  for (const [name, lookup] of Object.entries(spec.lookups)) {
    const roots = LATER_ROOTS.filter((root) => root !== 'lookup');
    add(`lookups.${name}.of`, roots, lookup.of);
    for (const [key, value] of Object.entries(lookup.map))
      add(`lookups.${name}.map.${key}`, roots, ...jsonTemplates(value));
  }
  add('errors.code', ['answer'], ...spec.errors.code);
  add('errors.message', ['answer'], ...spec.errors.message);
  if (spec.errors.innerStatus !== undefined) add('errors.innerStatus', ['answer'], spec.errors.innerStatus);

  const { presign, complete, status } = spec;
  addRequest('presign.request', CALL_ROOTS, presign.request);
  add('presign.upload.url', answer(CALL_ROOTS), ...valueTemplates(presign.upload.url));
  add('presign.upload.expiresAt', answer(CALL_ROOTS), ...valueTemplates(presign.upload.expiresAt));
  for (const [key, value] of Object.entries(presign.upload.headers))
    add(`presign.upload.headers.${key}`, answer(CALL_ROOTS), key, value);
  for (const [ref, value] of Object.entries(presign.refs))
    add(`presign.refs.${ref}`, answer(CALL_ROOTS), ...valueTemplates(value));
  if (presign.alreadyPresent) {
    for (const [ref, value] of Object.entries(presign.alreadyPresent.refs))
      add(`presign.alreadyPresent.refs.${ref}`, answer(CALL_ROOTS), ...valueTemplates(value));
    if (presign.alreadyPresent.completeIf !== undefined)
      add('presign.alreadyPresent.completeIf', ['options'], presign.alreadyPresent.completeIf);
  }
  addRequest('complete.request', LATER_ROOTS, complete.request);
  for (const [ref, value] of Object.entries(complete.refs))
    add(`complete.refs.${ref}`, answer(LATER_ROOTS), ...valueTemplates(value));
  add('complete.vendorState', answer(LATER_ROOTS), ...valueTemplates(complete.vendorState));
  if (status) {
    addRequest('status.request', LATER_ROOTS, status.request);
    add('status.state', answer(LATER_ROOTS), ...valueTemplates(status.state));
    add('status.stats', answer(LATER_ROOTS), ...valueTemplates(status.stats));
    add('status.errorFileUrl', answer(LATER_ROOTS), ...valueTemplates(status.errorFileUrl));
  }
  if (spec.keepSignedUrl !== undefined) add('keepSignedUrl', ['options'], spec.keepSignedUrl);
  if (spec.accountKey !== undefined) add('accountKey', ['secret', 'options'], spec.accountKey);

  const problems: string[] = [];
  const presignRefs = new Set([
    ...Object.keys(presign.refs),
    ...Object.keys(presign.alreadyPresent?.refs ?? {}),
  ]);
  const completeRefs = new Set(Object.keys(complete.refs));
  for (const { where, template, roots } of placed) {
    const syntax = templateProblems(template);
    if (syntax.length > 0) {
      problems.push(...syntax.map((problem) => `${where}: ${problem}`));
      continue;
    }
    for (const [root, ...path] of templatePaths(template)) {
      if (!roots.includes(root as TemplateRoot)) {
        problems.push(
          `${where}: "${template}" reads {${root}}, which is not known here (only ${roots.join(', ')})`,
        );
      } else if (root === 'options' && !schemaHasPath(schemas.options, path)) {
        problems.push(
          `${where}: "${template}" reads options.${path.join('.')}, which the option schema does not have`,
        );
      } else if (root === 'secret' && !schemaHasPath(schemas.secret, path)) {
        problems.push(
          `${where}: "${template}" reads secret.${path.join('.')}, which the secret schema does not have`,
        );
      } else if (root === 'lookup' && !(path[0] && path[0] in spec.lookups)) {
        problems.push(
          `${where}: "${template}" reads lookup.${path[0] ?? ''}, which is not among the spec's lookups`,
        );
      } else if (root === 'refs' && path[0] !== undefined) {
        const known = where.startsWith('status') ? new Set([...presignRefs, ...completeRefs]) : presignRefs;
        if (!known.has(path[0]) && !where.startsWith('lookups'))
          problems.push(`${where}: "${template}" reads refs.${path[0]}, which no earlier step records`);
      }
    }
  }
  for (const ref of complete.requires)
    if (!presignRefs.has(ref)) problems.push(`complete.requires: ${ref} is not recorded by presign.refs`);
  for (const ref of status?.requires ?? [])
    if (!presignRefs.has(ref) && !completeRefs.has(ref))
      problems.push(`status.requires: ${ref} is not recorded by presign or complete`);
  if (auth.kind === 'token' && !Object.values(auth.headers).some((value) => value.includes('{token}')))
    problems.push('auth.headers: token auth needs a header carrying {token}');
  if (
    spec.contentType.option !== undefined &&
    !schemaHasPath(schemas.options, spec.contentType.option.split('.'))
  )
    problems.push(`contentType.option: the option schema has no ${spec.contentType.option}`);
  if (presign.status !== undefined && (presign.status < 200 || presign.status > 299))
    problems.push(`presign.status: ${presign.status} is not a 2xx status`);
  if (presign.alreadyPresent && presign.alreadyPresent.status === presign.status)
    problems.push('presign.alreadyPresent.status: must differ from presign.status');
  if (status && Object.keys(status.states).length === 0)
    problems.push('status.states: name at least one state');
  if (status && !Object.values(status.states).includes('succeeded'))
    problems.push('status.states: no state means succeeded, so no job could ever end well');
  return problems;
}
