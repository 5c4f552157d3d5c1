import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { type DeploymentConfig, loadDeploymentConfig } from '../../lib/config/deployment-config';
import { PROJECT_ROOT } from '../../lib/config/stage-config';
import { applyNagPacks } from '../../lib/nag';
import { stackNameFor } from '../../lib/naming';
import { VendorIngestStack } from '../../lib/vendor-ingest-stack';

/** The feature flags `cdk synth` runs with (cdk.json), so tests see the same template. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
}

export interface Synthesized {
  readonly app: App;
  readonly stack: VendorIngestStack;
  readonly template: Template;
  /** The cloud assembly directory (bundled assets live here). */
  readonly outdir: string;
}

/** Builds the app as bin/app.ts does (nag packs included) and synthesizes it once. */
export function synthesize(deployment: DeploymentConfig): Synthesized {
  const app = new App({ context: cdkJsonContext() });
  const stack = new VendorIngestStack(app, stackNameFor(deployment.stage), {
    deployment,
    env: { account: deployment.config.account, region: deployment.config.region },
  });
  applyNagPacks(app);
  const template = Template.fromStack(stack);
  return { app, stack, template, outdir: app.synth().directory };
}

/** A stage's deployment config with some settings replaced. */
export function withSettings(
  stage: string,
  change: (d: DeploymentConfig) => DeploymentConfig['config'],
): DeploymentConfig {
  const deployment = loadDeploymentConfig(stage);
  return { ...deployment, config: change(deployment) };
}

/** Every unacknowledged cdk-nag finding of both packs, as `rule @ path` lines. */
export function nagFindings(app: App): string[] {
  return [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
    pack
      .validateScope(app)
      .violations.flatMap((v) =>
        v.violatingResources.map((r) => `${v.severity} ${v.ruleName} @ ${r.constructPath ?? '?'}`),
      ),
  );
}

type Json = unknown;

/** A template resource. */
export interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, Json>;
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
}

export function resourcesOfType(template: Template, type: string): Record<string, Resource> {
  return template.findResources(type) as Record<string, Resource>;
}

/**
 * An IAM policy as a set of `action → resource` grants, independent of how statements are merged.
 * Resources are rendered as compact JSON (`{"Fn::GetAtt":["X","Arn"]}` …).
 */
export function grantsOf(
  template: Template,
  policyLogicalIdPrefix: string,
  type: 'AWS::IAM::Policy' | 'AWS::IAM::ManagedPolicy' = 'AWS::IAM::Policy',
  options: { readonly many?: boolean } = {},
): string[] {
  const policies = Object.entries(resourcesOfType(template, type)).filter(([id]) =>
    id.startsWith(policyLogicalIdPrefix),
  );
  if (policies.length === 0 || (policies.length !== 1 && !options.many))
    throw new Error(`expected one policy ${policyLogicalIdPrefix}*, found ${policies.length}`);
  const grants = new Set<string>();
  const statements = policies.flatMap(([, policy]) => {
    const document = policy.Properties?.PolicyDocument as { Statement: Array<Record<string, Json>> };
    return document.Statement;
  });
  for (const statement of statements) {
    if (statement.Effect !== 'Allow') throw new Error(`unexpected ${String(statement.Effect)} statement`);
    const actions = ([] as Json[]).concat(statement.Action as Json);
    const resources = ([] as Json[]).concat(statement.Resource as Json);
    const when = statement.Condition ? ` when ${JSON.stringify(statement.Condition)}` : '';
    for (const action of actions)
      for (const resource of resources) grants.add(`${String(action)} → ${JSON.stringify(resource)}${when}`);
  }
  return [...grants].sort();
}

/** `action → resource` lines for each action on each resource (`when <condition>` when there is one). */
export function grants(actions: readonly string[], resources: readonly Json[], condition?: Json): string[] {
  const when = condition === undefined ? '' : ` when ${JSON.stringify(condition)}`;
  return actions.flatMap((a) => resources.map((r) => `${a} → ${JSON.stringify(r)}${when}`));
}

export const getAtt = (logicalId: string, attribute = 'Arn') => ({ 'Fn::GetAtt': [logicalId, attribute] });
export const ref = (logicalId: string) => ({ Ref: logicalId });

/**
 * Resolves the intrinsics the functions' environment uses (Ref / GetAtt of queues and the table,
 * Fn::Join) to the values CloudFormation would give them, from the resources' physical names.
 */
export function resolveIntrinsics(
  template: Template,
  value: Json,
  where: { region: string; account: string },
): string {
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const physical = (id: string): { type: string; name: string } => {
    const r = resources[id];
    if (!r) throw new Error(`no resource ${id}`);
    const name = (r.Properties?.QueueName ?? r.Properties?.TableName) as string | undefined;
    if (typeof name !== 'string') throw new Error(`${id} (${r.Type}) has no literal physical name`);
    return { type: r.Type, name };
  };
  const resolve = (v: Json): string => {
    if (typeof v === 'string') return v;
    if (typeof v !== 'object' || v === null) throw new Error(`cannot resolve ${JSON.stringify(v)}`);
    const o = v as Record<string, Json>;
    if ('Ref' in o) {
      const { type, name } = physical(o.Ref as string);
      if (type === 'AWS::SQS::Queue')
        return `https://sqs.${where.region}.amazonaws.com/${where.account}/${name}`;
      if (type === 'AWS::DynamoDB::Table') return name;
      throw new Error(`Ref to ${type}`);
    }
    if ('Fn::GetAtt' in o) {
      const [id, attribute] = o['Fn::GetAtt'] as [string, string];
      const { type, name } = physical(id);
      if (type === 'AWS::SQS::Queue' && attribute === 'Arn')
        return `arn:aws:sqs:${where.region}:${where.account}:${name}`;
      throw new Error(`GetAtt ${type}.${attribute}`);
    }
    if ('Fn::Join' in o) {
      const [separator, parts] = o['Fn::Join'] as [string, Json[]];
      return parts.map(resolve).join(separator);
    }
    throw new Error(`cannot resolve ${JSON.stringify(v)}`);
  };
  return resolve(value);
}

export interface AlarmMetric {
  readonly Namespace: string;
  readonly MetricName: string;
  readonly Dimensions: Json[];
}

/** The metrics an alarm reads, whether it has one metric or a math expression over several. */
export function alarmMetrics(properties: Record<string, Json>): AlarmMetric[] {
  if (typeof properties.MetricName === 'string') {
    return [
      {
        Namespace: properties.Namespace as string,
        MetricName: properties.MetricName,
        Dimensions: (properties.Dimensions as Json[]) ?? [],
      },
    ];
  }
  const metrics = (properties.Metrics as Array<{ MetricStat?: { Metric: AlarmMetric } }> | undefined) ?? [];
  return metrics
    .filter((m) => m.MetricStat !== undefined)
    .map((m) => ({
      ...(m.MetricStat?.Metric as AlarmMetric),
      Dimensions: m.MetricStat?.Metric.Dimensions ?? [],
    }));
}

/** Properties of every alarm that reads `namespace/metricName` with exactly `dimensions`. */
export function alarmsOn(
  template: Template,
  namespace: string,
  metricName: string,
  dimensions: Json[],
): Array<Record<string, Json>> {
  return Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm'))
    .map((alarm) => alarm.Properties ?? {})
    .filter((properties) =>
      alarmMetrics(properties).some(
        (m) =>
          m.Namespace === namespace &&
          m.MetricName === metricName &&
          JSON.stringify(m.Dimensions) === JSON.stringify(dimensions),
      ),
    );
}
