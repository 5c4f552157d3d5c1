import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateStackCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  paginateListStackResources,
  type StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { zipSync } from 'fflate';
import { PROJECT_ROOT } from '../lib/config/stage-config';
import type { AwsClients } from './aws';
import type { SynthesizedStack } from './synth';

/**
 * Deploys a synthesized stack onto an AWS endpoint (the embedded moto) the way `cdk bootstrap` and
 * `cdk deploy` do: bootstrap once, publish the file assets to the bootstrap bucket, then create the
 * stack from the template in S3.
 * (The pinned CLI itself, `cdk bootstrap` + `cdk deploy`, does the same; a test runs it. This path
 * skips the CLI's start-up and change-set polling, which cost a local run seconds.)
 */

export interface DeployedStack {
  readonly stackName: string;
  readonly stackId: string;
  readonly outputs: Readonly<Record<string, string>>;
  /** Resources the endpoint reports for the stack. */
  readonly resources: readonly StackResourceSummary[];
  /** Resource counts per type in the template. */
  readonly templateTypes: Readonly<Record<string, number>>;
  /** Template resource types the endpoint created nothing for (e.g. moto ignores alarms), with counts. */
  readonly notEmulated: Readonly<Record<string, number>>;
  readonly seconds: number;
}

interface AssetManifest {
  readonly files: Record<
    string,
    {
      readonly source: { readonly path: string; readonly packaging?: 'zip' | 'file' };
      readonly destinations: Record<string, { readonly bucketName: string; readonly objectKey: string }>;
    }
  >;
}

/** The bootstrap template of the pinned CDK CLI: what `cdk bootstrap` deploys. */
const BOOTSTRAP_TEMPLATE = path.join(
  PROJECT_ROOT,
  'node_modules/aws-cdk/lib/api/bootstrap/bootstrap-template.yaml',
);
/** The stack name `cdk bootstrap` uses. */
export const BOOTSTRAP_STACK = 'CDKToolkit';

/** A directory as a zip, entries in sorted order with a fixed date (same bytes for the same files). */
function zipDirectory(dir: string): Uint8Array {
  const files: Record<string, [Uint8Array, { mtime: Date }]> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const relPath = rel ? `${rel}/${name}` : name;
      const full = path.join(dir, relPath);
      if (statSync(full).isDirectory()) walk(relPath);
      else files[relPath] = [readFileSync(full), { mtime: new Date('1980-01-01T00:00:00Z') }];
    }
  };
  walk('');
  return zipSync(files, { level: 6 });
}

/** Resolves the `${AWS::…}` placeholders of an asset destination (CloudFormation's Fn::Sub syntax). */
function substitute(text: string, account: string, region: string): string {
  const values: Record<string, string> = { AccountId: account, Region: region, Partition: 'aws' };
  return text.replace(/\$\{AWS::(AccountId|Region|Partition)\}/g, (_, name: string) => values[name] ?? '');
}

/**
 * Bootstraps the environment as `cdk bootstrap` does, once: deploys the pinned CLI's own bootstrap
 * template (asset bucket, publishing and deploy roles, the version parameter the stack's bootstrap
 * rule checks). Nothing here creates a bucket or parameter by hand.
 */
async function ensureBootstrapped(clients: AwsClients): Promise<void> {
  try {
    const out = await clients.cloudformation.send(new DescribeStacksCommand({ StackName: BOOTSTRAP_STACK }));
    if (out.Stacks?.[0]?.StackStatus?.endsWith('_COMPLETE')) return;
  } catch (error) {
    if (!/does not exist/.test((error as Error).message)) throw error;
  }
  const created = await clients.cloudformation.send(
    new CreateStackCommand({
      StackName: BOOTSTRAP_STACK,
      TemplateBody: readFileSync(BOOTSTRAP_TEMPLATE, 'utf8'),
      Capabilities: ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM'],
    }),
  );
  const stack = await waitForStack(clients, created.StackId ?? BOOTSTRAP_STACK);
  if (stack.StackStatus !== 'CREATE_COMPLETE') {
    throw new Error(
      `the bootstrap stack ended ${stack.StackStatus}${await failureReasons(clients, created.StackId ?? BOOTSTRAP_STACK)}`,
    );
  }
}

/** Publishes the assets and creates the stack; throws with the failing resources' reasons. */
export async function deployStack(clients: AwsClients, synth: SynthesizedStack): Promise<DeployedStack> {
  const started = Date.now();
  const { account, region } = synth;
  const manifest = JSON.parse(readFileSync(synth.assetsFile, 'utf8')) as AssetManifest;
  const templateText = readFileSync(synth.templateFile, 'utf8');
  const template = JSON.parse(templateText) as { Resources: Record<string, { Type: string }> };

  const uploads: Array<{ bucket: string; key: string; body: Uint8Array }> = [];
  let templateUrl: string | undefined;
  for (const asset of Object.values(manifest.files)) {
    const source = path.join(synth.dir, asset.source.path);
    const body = asset.source.packaging === 'zip' ? zipDirectory(source) : readFileSync(source);
    for (const destination of Object.values(asset.destinations)) {
      const bucket = substitute(destination.bucketName, account, region);
      const key = substitute(destination.objectKey, account, region);
      uploads.push({ bucket, key, body });
      if (source === synth.templateFile) templateUrl = `https://s3.${region}.amazonaws.com/${bucket}/${key}`;
    }
  }
  if (!templateUrl) throw new Error(`the assets of ${synth.stackName} do not include its template`);
  await ensureBootstrapped(clients);
  await Promise.all(
    uploads.map((u) => clients.s3.send(new PutObjectCommand({ Bucket: u.bucket, Key: u.key, Body: u.body }))),
  );

  const created = await clients.cloudformation.send(
    new CreateStackCommand({
      StackName: synth.stackName,
      TemplateURL: templateUrl,
      Capabilities: ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM', 'CAPABILITY_AUTO_EXPAND'],
    }),
  );
  const stackId = created.StackId ?? synth.stackName;
  const stack = await waitForStack(clients, stackId);
  if (stack.StackStatus !== 'CREATE_COMPLETE') {
    throw new Error(
      `stack ${synth.stackName} ended ${stack.StackStatus}${stack.StackStatusReason ? ` (${stack.StackStatusReason})` : ''}${await failureReasons(clients, stackId)}`,
    );
  }

  const resources: StackResourceSummary[] = [];
  for await (const page of paginateListStackResources(
    { client: clients.cloudformation },
    { StackName: stackId },
  )) {
    resources.push(...(page.StackResourceSummaries ?? []));
  }
  const templateTypes = countBy(Object.values(template.Resources).map((r) => r.Type));
  const deployedTypes = countBy(resources.map((r) => r.ResourceType ?? ''));
  const notEmulated = Object.fromEntries(
    Object.entries(templateTypes)
      .map(([type, n]) => [type, n - (deployedTypes[type] ?? 0)] as const)
      .filter(([, missing]) => missing > 0),
  );
  return {
    stackName: synth.stackName,
    stackId,
    outputs: Object.fromEntries((stack.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? ''])),
    resources,
    templateTypes,
    notEmulated,
    seconds: (Date.now() - started) / 1000,
  };
}

function countBy(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

async function waitForStack(clients: AwsClients, stackId: string) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const out = await clients.cloudformation.send(new DescribeStacksCommand({ StackName: stackId }));
    const stack = out.Stacks?.[0];
    if (!stack) throw new Error(`stack ${stackId} vanished`);
    if (!stack.StackStatus?.endsWith('_IN_PROGRESS')) return stack;
    if (Date.now() > deadline) throw new Error(`stack ${stackId} still ${stack.StackStatus} after 120 s`);
    await sleep(100);
  }
}

async function failureReasons(clients: AwsClients, stackId: string): Promise<string> {
  try {
    const out = await clients.cloudformation.send(new DescribeStackEventsCommand({ StackName: stackId }));
    const failed = (out.StackEvents ?? []).filter((e) => e.ResourceStatus?.endsWith('FAILED'));
    return failed
      .map((e) => `\n- ${e.LogicalResourceId} (${e.ResourceType}): ${e.ResourceStatusReason}`)
      .join('');
  } catch {
    return '';
  }
}

/** Reads a deployed stack's outputs (any stack, however it was deployed). */
export async function stackOutputs(clients: AwsClients, stackName: string): Promise<Record<string, string>> {
  const out = await clients.cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
  const stack = out.Stacks?.[0];
  if (!stack) throw new Error(`no stack ${stackName}`);
  return Object.fromEntries((stack.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
}
