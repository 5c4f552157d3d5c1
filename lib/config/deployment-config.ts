import { isAbsolute, join } from 'node:path';
import { RouteConfigError, resolveRouteFile, routesFromDocument } from '../../functions/shared/routes/load';
import type { ResolvedRoute, ResolvedRoutesDocument } from '../../functions/shared/routes/schema';
import { adapterFor } from '../../functions/vendors/registry';
import { pascalCase, resourceNames, SQS_QUEUE_NAME_MAX } from '../naming';
import {
  completionEnvironment,
  dispatchEnvironment,
  environmentBytes,
  LAMBDA_ENVIRONMENT_MAX_BYTES,
} from '../pipeline-environment';
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
  readonly config: StageConfig;
  /** The resolved-routes document, as passed to the functions in `ROUTES_JSON`. */
  readonly routesDocument: ResolvedRoutesDocument;
  /** The same routes with their S3 filter prefixes compiled. */
  readonly routes: readonly ResolvedRoute[];
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

/** The `ROUTES_JSON` value. */
export function routesJson(doc: ResolvedRoutesDocument): string {
  return JSON.stringify(doc);
}

/**
 * Loads a stage: its settings, its routes (validated against their vendor adapters), and the checks
 * that need both. Throws one {@link StageConfigError} listing every problem found.
 */
export function loadDeploymentConfig(stage: string, options: LoadOptions = {}): DeploymentConfig {
  const rootDir = options.rootDir ?? PROJECT_ROOT;
  const problems: string[] = [];

  const stageFile = readJson(stageConfigPath(stage, { rootDir }), `stage "${stage}"`);
  problems.push(...stageFile.problems);
  const parsed = stageFile.problems.length === 0 ? parseStageConfig(stage, stageFile.value) : undefined;
  if (parsed) problems.push(...parsed.problems);

  // Routes are checked even when the stage file is broken, so both sets of problems show at once.
  const routesFile = parsed?.config?.routesFile ?? rawRoutesFile(stageFile.value) ?? 'config/routes.json';
  const routesPath = isAbsolute(routesFile) ? routesFile : join(rootDir, routesFile);
  const routesRaw = readJson(routesPath, 'routes file');
  problems.push(...routesRaw.problems);
  let routesDocument: ResolvedRoutesDocument | undefined;
  if (routesRaw.problems.length === 0) {
    try {
      routesDocument = resolveRouteFile(routesRaw.value, stage, adapterFor);
    } catch (error) {
      if (!(error instanceof RouteConfigError)) throw error;
      problems.push(...error.problems.map((p) => `${routesFile}: ${p}`));
    }
  }

  const config = parsed?.config;
  if (config && routesDocument) {
    const deployment: DeploymentConfig = {
      stage,
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
    if (visibilityTimeoutSeconds(settings) < minimum) {
      problems.push(
        `${name}.visibilityTimeoutSeconds is ${settings.visibilityTimeoutSeconds} but must be at least ${VISIBILITY_TIMEOUT_FACTOR} × ${name}.timeoutSeconds = ${minimum} (Lambda retries throttled batches while messages are invisible)`,
      );
    }
    if (config.vendorTimeoutMs >= settings.timeoutSeconds * 1000) {
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
  const { stage, config, routes } = deployment;
  const problems = settingsProblems(config);
  const names = resourceNames(stage);

  const routeIds = new Set(routes.map((r) => r.id));
  for (const id of Object.keys(config.routes)) {
    if (!routeIds.has(id)) problems.push(`routes.${id}: no route "${id}" in ${config.routesFile}`);
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

  for (const route of routes) {
    if (route.secretId.startsWith('arn:') && !/:secret:.+-[A-Za-z0-9]{6}$/.test(route.secretId)) {
      problems.push(
        `route "${route.id}": secretId "${route.secretId}" is an ARN without the 6-character suffix Secrets Manager adds; use the secret's name or its complete ARN`,
      );
    }
  }

  problems.push(...environmentProblems(deployment));
  return problems;
}

/** Throws {@link StageConfigError} when {@link deploymentProblems} finds anything. */
export function assertValidDeployment(deployment: DeploymentConfig): void {
  const problems = deploymentProblems(deployment);
  if (problems.length > 0) throw new StageConfigError(deployment.stage, problems);
}

interface Placement {
  readonly region: string | undefined;
  readonly account: string | undefined;
}

/** The longest value each deploy-time token can take, so the check holds for any account and region. */
function longest(where: Placement) {
  const region = where.region ?? 'x'.repeat(14); // ap-southeast-5, ap-northeast-3 …
  const account = where.account ?? '0'.repeat(12);
  const partition = where.region
    ? where.region.startsWith('cn-')
      ? 'aws-cn'
      : where.region.startsWith('us-gov-')
        ? 'aws-us-gov'
        : 'aws'
    : 'aws-us-gov';
  const domain = where.region
    ? where.region.startsWith('cn-')
      ? 'amazonaws.com.cn'
      : 'amazonaws.com'
    : 'amazonaws.com.cn';
  return {
    queueUrl: (name: string) => `https://sqs.${region}.${domain}/${account}/${name}`,
    queueArn: (name: string) => `arn:${partition}:sqs:${region}:${account}:${name}`,
  };
}

/**
 * The functions' environments as they will be once deployed, with every deploy-time value (queue
 * URLs and ARNs) at its longest for the stage's region and account (any region or account when the
 * stage leaves them open). Queue and table names are fixed, so this is exact when both are set.
 */
export function modelledEnvironments(deployment: DeploymentConfig): {
  dispatch: Record<string, string>;
  completion: Record<string, string>;
} {
  const { stage, config, routes, routesDocument } = deployment;
  const names = resourceNames(stage);
  const model = longest({ region: config.region, account: config.account });
  const common = {
    stage,
    routesJson: routesJson(routesDocument),
    completionQueueUrl: model.queueUrl(names.completionQueue),
    stateTableName: names.stateTable,
    secretCacheSeconds: config.secretCacheSeconds,
    vendorTimeoutMs: config.vendorTimeoutMs,
    retryBaseSeconds: config.retryBaseSeconds,
    retryMaxSeconds: config.retryMaxSeconds,
    logLevel: config.logLevel,
  };
  return {
    dispatch: dispatchEnvironment({
      ...common,
      maxReceiveCount: config.dispatch.maxReceiveCount,
      intakeDlqUrlsJson: JSON.stringify(
        Object.fromEntries(
          routes.map((r) => [
            model.queueArn(names.intakeQueue(r.id)),
            model.queueUrl(names.intakeDeadLetterQueue(r.id)),
          ]),
        ),
      ),
    }),
    completion: completionEnvironment({
      ...common,
      maxReceiveCount: config.completion.maxReceiveCount,
      completionDlqUrl: model.queueUrl(names.completionDeadLetterQueue),
    }),
  };
}

function environmentProblems(deployment: DeploymentConfig): string[] {
  const routesBytes = Buffer.byteLength(JSON.stringify(routesJson(deployment.routesDocument)), 'utf8') - 2;
  const problems: string[] = [];
  for (const [name, env] of Object.entries(modelledEnvironments(deployment))) {
    const bytes = environmentBytes(env);
    if (bytes > LAMBDA_ENVIRONMENT_MAX_BYTES) {
      problems.push(
        `the ${name} function's environment would be ${bytes} bytes, over Lambda's ${LAMBDA_ENVIRONMENT_MAX_BYTES}-byte limit (ROUTES_JSON alone is ${routesBytes}): shorten the routes (options, allow-lists) or split them across stages`,
      );
    }
  }
  return problems;
}
