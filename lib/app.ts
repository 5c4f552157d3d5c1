import { App, type AppProps } from 'aws-cdk-lib';
import {
  type DeploymentConfig,
  type DeploymentOptions,
  loadDeploymentConfig,
} from './config/deployment-config';
import { applyNagPacks } from './nag';
import { VendorIngestStack } from './vendor-ingest-stack';

/**
 * CDK context keys the app reads. `cdk synth|deploy -c key=value` passes them as strings (JSON for
 * the structured ones); the local pipeline and the tests pass the same keys in-process. They are
 * the only way to vary a stage without editing its files: everything else is the stage config.
 */
export const ContextKey = {
  /** Stage name: `config/stages/<stage>.json`. @default dev */
  stage: 'stage',
  /** Optional instance name: `VendorIngest-<stage>-<instance>`, resource names to match. */
  instance: 'instance',
  /** JSON object merged onto the stage file (test variants: timeouts, receive counts, batch sizes). */
  stageOverrides: 'vendor-ingest:stageOverrides',
  /** JSON object: route id → fields merged onto that route (test variants: options, flags). */
  routeOverrides: 'vendor-ingest:routeOverrides',
  /** URL of the vendor sandbox the stage's routes talk to (see `DeploymentOptions.vendorSandboxUrl`). */
  vendorSandboxUrl: 'vendor-ingest:vendorSandboxUrl',
} as const;

/** Synth-time inputs, as read from context. */
export interface AppInputs extends DeploymentOptions {
  readonly stage: string;
}

function parsed(value: unknown, key: string): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  const json = typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(`context ${key} must be a JSON object`);
  }
  return json as Record<string, unknown>;
}

/** Reads the app's inputs from its context. */
export function appInputs(app: App): AppInputs {
  const get = (key: string) => app.node.tryGetContext(key) as unknown;
  const instance = get(ContextKey.instance);
  const sandbox = get(ContextKey.vendorSandboxUrl);
  return {
    stage: String(get(ContextKey.stage) ?? 'dev'),
    ...(instance !== undefined && instance !== '' ? { instance: String(instance) } : {}),
    ...(sandbox !== undefined && sandbox !== '' ? { vendorSandboxUrl: String(sandbox) } : {}),
    stageOverrides: parsed(get(ContextKey.stageOverrides), ContextKey.stageOverrides),
    routeOverrides: parsed(get(ContextKey.routeOverrides), ContextKey.routeOverrides) as
      | Record<string, Record<string, unknown>>
      | undefined,
  };
}

/**
 * The whole CDK app: one stack for the stage named in context, with cdk-nag on. `bin/app.ts` (what
 * `cdk synth|deploy` runs), the local pipeline and the tests all build it here, so each of them
 * deploys the same template. Throws `StageConfigError` listing every configuration problem.
 */
export function createApp(props: AppProps = {}): {
  app: App;
  stack: VendorIngestStack;
  deployment: DeploymentConfig;
} {
  const app = new App(props);
  const { stage, ...options } = appInputs(app);
  const deployment = loadDeploymentConfig(stage, options);
  const stack = new VendorIngestStack(app, deployment.stackName, {
    deployment,
    env: {
      account: deployment.config.account ?? process.env.CDK_DEFAULT_ACCOUNT,
      region: deployment.config.region ?? process.env.CDK_DEFAULT_REGION,
    },
    description: `vendor-ingest (${stage}): S3 drops delivered to vendor upload APIs`,
    // A stack of many routes nears CloudFormation's 1 MB template limit; unindented JSON is ~40% smaller.
    suppressTemplateIndentation: true,
    tags: {
      project: 'vendor-ingest',
      stage,
      ...(deployment.instance ? { instance: deployment.instance } : {}),
    },
  });
  applyNagPacks(app);
  return { app, stack, deployment };
}
