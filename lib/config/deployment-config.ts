import { isAbsolute, join } from 'node:path';
import { RouteConfigError } from '../../functions/shared/errors';
import { resolveRouteFile, routesFromDocument } from '../../functions/shared/routes/load';
import type { ResolvedRoute, ResolvedRoutesDocument } from '../../functions/shared/routes/schema';
import { adapterFor } from '../../functions/vendors/registry';
import {
  INSTANCE_NAME,
  pascalCase,
  type ResourceNames,
  resourceNames,
  SQS_QUEUE_NAME_MAX,
  stackNameFor,
} from '../naming';
import {
  type FunctionSettings,
  type LoadOptions,
  PROJECT_ROOT,
  parseStageConfig,
  readJson,
  type StageConfig,
  StageConfigError,
  stageConfigPath,
} from './stage-config';

/** Everything the stack is built from: a stage's settings and its resolved routes. */
export interface DeploymentConfig {
  readonly stage: string;
  /** Suffix of the stack and resource names, when several copies of a stage share an account. */
  readonly instance: string | undefined;
  /** The CloudFormation stack name (`VendorIngest-<stage>[-<instance>]`). */
  readonly stackName: string;
  readonly names: ResourceNames;
  readonly config: StageConfig;
  /** The resolved-routes document, as bundled with the functions (`routes.json`). */
  readonly routesDocument: ResolvedRoutesDocument;
  /** The same routes with their S3 filter prefixes compiled. */
  readonly routes: readonly ResolvedRoute[];
}

/**
 * What may vary a stage at synth without editing its files: test variants and local endpoints.
 * Each comes from CDK context (see lib/app.ts), never from an edited copy of the template.
 */
export interface DeploymentOptions extends LoadOptions {
  /** Merged (deeply) onto the stage file before it is validated: shorter timeouts, fewer receives … */
  readonly stageOverrides?: Readonly<Record<string, unknown>>;
  /** Per route id, merged onto the route before it is validated (`options` merge key by key). */
  readonly routeOverrides?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /**
   * The vendor sandbox's URL: every route that the route file does not give its own endpoint for this
   * stage (`stages.<stage>.routes.<id>.baseUrl`) talks to the sandbox, uploads only to its host, and
   * loopback http is allowed. Set by the local pipeline.
   */
  readonly vendorSandboxUrl?: string;
  /** Instance name (see {@link DeploymentConfig.instance}). */
  readonly instance?: string;
}

/** Lambda retries throttled SQS batches while a message is invisible; AWS advises 6 × the timeout. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

/** Visibility timeout of the queue(s) a function consumes, seconds. */
export function visibilityTimeoutSeconds(settings: FunctionSettings): number {
  return settings.visibilityTimeoutSeconds ?? VISIBILITY_TIMEOUT_FACTOR * settings.timeoutSeconds;
}

/** `MaximumConcurrency` of a route's intake event source. */
export function intakeMaxConcurrency(config: StageConfig, routeId: string): number {
  return config.routes[routeId]?.maxConcurrency ?? config.dispatch.maxConcurrency;
}

/**
 * Loads a stage: its settings, its routes (validated against their vendor adapters), and the checks
 * that need both, with the synth-time {@link DeploymentOptions} applied. Throws one
 * {@link StageConfigError} listing every problem found.
 */
export function loadDeploymentConfig(stage: string, options: DeploymentOptions = {}): DeploymentConfig {
  const rootDir = options.rootDir ?? PROJECT_ROOT;
  const problems: string[] = [];
  const instance = options.instance;
  if (instance !== undefined && !INSTANCE_NAME.test(instance)) {
    problems.push(
      `instance name "${instance}": lower-case letters and digits, starting with a letter, at most 12`,
    );
  }

  const stageFile = readJson(stageConfigPath(stage, { rootDir }), `stage "${stage}"`);
  problems.push(...stageFile.problems);
  const stageRaw =
    stageFile.problems.length === 0 && options.stageOverrides
      ? deepMerge(stageFile.value, options.stageOverrides)
      : stageFile.value;
  const parsed = stageFile.problems.length === 0 ? parseStageConfig(stage, stageRaw) : undefined;
  if (parsed) problems.push(...parsed.problems);

  // Routes are checked even when the stage file is broken, so both sets of problems show at once.
  const routesFile = parsed?.config?.routesFile ?? rawRoutesFile(stageRaw) ?? 'config/routes.json';
  const routesPath = isAbsolute(routesFile) ? routesFile : join(rootDir, routesFile);
  const routesRaw = readJson(routesPath, 'routes file');
  problems.push(...routesRaw.problems);
  let routesDocument: ResolvedRoutesDocument | undefined;
  if (routesRaw.problems.length === 0) {
    try {
      const raw = withSynthOverrides(routesRaw.value, stage, options);
      routesDocument = resolveRouteFile(raw, stage, adapterFor);
    } catch (error) {
      if (!(error instanceof RouteConfigError)) throw error;
      problems.push(...error.problems.map((p) => `${routesFile}: ${p}`));
    }
  }

  const config = parsed?.config;
  if (config && routesDocument && problems.length === 0) {
    const deployment: DeploymentConfig = {
      stage,
      instance,
      stackName: stackNameFor(stage, instance),
      names: resourceNames(stage, instance),
      config,
      routesDocument,
      routes: routesFromDocument(routesDocument),
    };
    problems.push(...deploymentProblems(deployment));
    if (problems.length === 0) return deployment;
  } else if (config) {
    problems.push(...settingsProblems(config));
  }
  throw new StageConfigError(stage, problems);
}

/** Plain objects merge key by key; anything else (arrays included) replaces. */
export function deepMerge(base: unknown, patch: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) out[key] = deepMerge(base[key], value);
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The route file with the synth-time options applied: route overrides merged onto their routes, and
 * the routes without their own endpoint for this stage pointed at the vendor sandbox. Malformed input
 * is passed through for the schema to report.
 */
function withSynthOverrides(raw: unknown, stage: string, options: DeploymentOptions): unknown {
  if (!isPlainObject(raw) || !Array.isArray(raw.routes)) return raw;
  const routes = raw.routes.map((route: unknown) => {
    if (!isPlainObject(route) || typeof route.id !== 'string') return route;
    const patch = options.routeOverrides?.[route.id];
    return patch ? deepMerge(route, patch) : route;
  });
  if (!options.vendorSandboxUrl) return { ...raw, routes };
  const stages = isPlainObject(raw.stages) ? raw.stages : {};
  const own = isPlainObject(stages[stage]) ? stages[stage] : {};
  const ownRoutes = isPlainObject(own.routes) ? own.routes : {};
  const sandboxHost = new URL(options.vendorSandboxUrl).host;
  const pointed: Record<string, unknown> = { ...ownRoutes };
  for (const route of routes) {
    if (!isPlainObject(route) || typeof route.id !== 'string') continue;
    const override = isPlainObject(ownRoutes[route.id])
      ? (ownRoutes[route.id] as Record<string, unknown>)
      : {};
    if (override.baseUrl !== undefined) continue;
    pointed[route.id] = {
      ...override,
      baseUrl: options.vendorSandboxUrl,
      uploadHostAllowList: [sandboxHost],
    };
  }
  return {
    ...raw,
    routes,
    stages: { ...stages, [stage]: { ...own, allowLoopbackHttp: true, routes: pointed } },
  };
}

function rawRoutesFile(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const value = (raw as Record<string, unknown>).routesFile;
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** Checks between fields of the stage settings alone. */
export function settingsProblems(config: StageConfig): string[] {
  const problems: string[] = [];
  for (const name of ['dispatch', 'completion'] as const) {
    const settings = config[name];
    const minimum = VISIBILITY_TIMEOUT_FACTOR * settings.timeoutSeconds;
    if (visibilityTimeoutSeconds(settings) < minimum && !config.relaxedChecks) {
      problems.push(
        `${name}.visibilityTimeoutSeconds is ${settings.visibilityTimeoutSeconds} but must be at least ${VISIBILITY_TIMEOUT_FACTOR} × ${name}.timeoutSeconds = ${minimum} (Lambda retries throttled batches while messages are invisible)`,
      );
    }
    if (config.vendorTimeoutMs >= settings.timeoutSeconds * 1000 && !config.relaxedChecks) {
      problems.push(
        `vendorTimeoutMs (${config.vendorTimeoutMs}) must be below ${name}.timeoutSeconds (${settings.timeoutSeconds} s), or one slow vendor call times the whole invocation out`,
      );
    }
  }
  if (config.retryBaseSeconds > config.retryMaxSeconds) {
    problems.push(
      `retryBaseSeconds (${config.retryBaseSeconds}) must not exceed retryMaxSeconds (${config.retryMaxSeconds})`,
    );
  }
  return problems;
}

/** Synth-time checks that need both the stage settings and the routes. */
export function deploymentProblems(deployment: DeploymentConfig): string[] {
  const { config, routes, names } = deployment;
  const problems = settingsProblems(config);

  const routeIds = new Set(routes.map((r) => r.id));
  for (const id of Object.keys(config.routes)) {
    if (!routeIds.has(id)) problems.push(`routes.${id}: no route "${id}" in ${config.routesFile}`);
  }
  for (const id of Object.keys(config.producers)) {
    if (!routeIds.has(id)) problems.push(`producers.${id}: no route "${id}" in ${config.routesFile}`);
  }

  const byPascal = new Map<string, string>();
  for (const route of routes) {
    const key = pascalCase(route.id);
    const other = byPascal.get(key);
    if (other)
      problems.push(`routes "${other}" and "${route.id}" both map to "${key}" in construct and output names`);
    else byPascal.set(key, route.id);
  }

  const queueNames = [
    names.completionQueue,
    names.completionDeadLetterQueue,
    ...routes.flatMap((r) => [names.intakeQueue(r.id), names.intakeDeadLetterQueue(r.id)]),
  ];
  for (const name of queueNames) {
    if (name.length > SQS_QUEUE_NAME_MAX) {
      problems.push(
        `queue name "${name}" is ${name.length} characters (SQS allows ${SQS_QUEUE_NAME_MAX}): shorten the stage name or the route id`,
      );
    }
  }

  const results = config.results.prefix;
  for (const route of routes) {
    if (route.filterPrefix.startsWith(results) || results.startsWith(route.filterPrefix)) {
      problems.push(
        `results.prefix "${results}" overlaps route "${route.id}" (${route.prefix}): a result document would be delivered as a file; choose a prefix outside every route`,
      );
    }
  }
  for (const id of Object.keys(config.events.routes)) {
    if (!routeIds.has(id)) problems.push(`events.routes.${id}: no route "${id}" in ${config.routesFile}`);
  }

  for (const route of routes) {
    if (route.secretId.startsWith('arn:') && !/:secret:.+-[A-Za-z0-9]{6}$/.test(route.secretId)) {
      problems.push(
        `route "${route.id}": secretId "${route.secretId}" is an ARN without the 6-character suffix Secrets Manager adds; use the secret's name or its complete ARN`,
      );
    }
  }

  return problems;
}

/** Throws {@link StageConfigError} when {@link deploymentProblems} finds anything. */
export function assertValidDeployment(deployment: DeploymentConfig): void {
  const problems = deploymentProblems(deployment);
  if (problems.length > 0) throw new StageConfigError(deployment.stage, problems);
}
