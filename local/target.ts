import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { routesFromDocument } from '../functions/shared/routes/load';
import type { ResolvedRoute, ResolvedRoutesDocument } from '../functions/shared/routes/schema';
import { DeliveryLedger } from '../functions/shared/state/ledger';
import { loadDeploymentConfig } from '../lib/config/deployment-config';
import { StackOutput } from '../lib/stack-outputs';
import { type AwsClients, awsClients } from './aws';
import type { IntakeQueueRef, PipelineResources, QueueRef } from './provision';

/** A running pipeline the CLI acts on: the local one or a deployed stack. */
export interface Target {
  readonly kind: 'local' | 'aws';
  readonly description: string;
  readonly clients: AwsClients;
  readonly resources: PipelineResources;
  readonly routes: readonly ResolvedRoute[];
  readonly ledger: DeliveryLedger;
}

/** What `npm start` writes so that commands in another terminal find the running local pipeline. */
export interface LocalStateFile {
  readonly endpoint: string;
  readonly region: string;
  readonly sandboxUrl: string;
  readonly resources: PipelineResources;
  readonly routesDocument: ResolvedRoutesDocument;
  readonly pid: number;
}

export function localStatePath(root: string): string {
  return path.join(root, '.local', 'pipeline.json');
}

export function writeLocalState(root: string, state: LocalStateFile): void {
  mkdirSync(path.dirname(localStatePath(root)), { recursive: true });
  writeFileSync(localStatePath(root), `${JSON.stringify(state, null, 2)}\n`);
}

function targetFrom(
  kind: Target['kind'],
  description: string,
  clients: AwsClients,
  resources: PipelineResources,
  routes: readonly ResolvedRoute[],
): Target {
  return {
    kind,
    description,
    clients,
    resources,
    routes,
    ledger: new DeliveryLedger({ doc: clients.doc, tableName: resources.stateTable }),
  };
}

/** The local pipeline started by `npm start` (from its state file). */
export function localTarget(root: string): Target {
  const file = localStatePath(root);
  if (!existsSync(file))
    throw new Error(
      'no local pipeline is running: start it with `npm start` (or pass --stack <name> for a deployed one)',
    );
  const state = JSON.parse(readFileSync(file, 'utf8')) as LocalStateFile;
  try {
    process.kill(state.pid, 0);
  } catch {
    throw new Error(
      `the local pipeline recorded in ${file} (pid ${state.pid}) is not running: start it with \`npm start\``,
    );
  }
  return targetFrom(
    'local',
    `local pipeline (${state.endpoint})`,
    awsClients(state.endpoint, state.region),
    state.resources,
    routesFromDocument(state.routesDocument),
  );
}

/** A deployed stack, from its CloudFormation outputs; routes come from the stage's config in this checkout. */
export async function stackTarget(
  stackName: string,
  stage: string,
  region: string | undefined,
): Promise<Target> {
  const cfn = new CloudFormationClient(region ? { region } : {});
  const out = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
  const outputs = new Map(
    (out.Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']),
  );
  const need = (name: string) => {
    const value = outputs.get(name);
    if (!value) throw new Error(`stack ${stackName} has no output ${name}`);
    return value;
  };
  const arnOf = (url: string) => {
    const u = new URL(url);
    const [, account, name] = u.pathname.split('/');
    const queueRegion = u.hostname.split('.')[1] ?? region ?? '';
    return `arn:aws:sqs:${queueRegion}:${account}:${name}`;
  };
  const queue = (url: string, dlqUrl: string): QueueRef => ({
    name: url.split('/').pop() ?? url,
    url,
    arn: arnOf(url),
    dlqName: dlqUrl.split('/').pop() ?? dlqUrl,
    dlqUrl,
    dlqArn: arnOf(dlqUrl),
  });
  const intakeJson = JSON.parse(need(StackOutput.IntakeQueues)) as Record<
    string,
    { queueUrl: string; dlqUrl: string }
  >;
  const intake: IntakeQueueRef[] = Object.entries(intakeJson).map(([routeId, q]) => ({
    ...queue(q.queueUrl, q.dlqUrl),
    routeId,
  }));
  const resources: PipelineResources = {
    bucket: need(StackOutput.IngestBucketName),
    stateTable: need(StackOutput.StateTableName),
    intake,
    completion: queue(need(StackOutput.CompletionQueueUrl), need(StackOutput.CompletionDlqUrl)),
  };
  const deployment = loadDeploymentConfig(stage);
  const clients = awsClients(undefined, region ?? (await cfn.config.region()));
  return targetFrom('aws', `stack ${stackName}`, clients, resources, deployment.routes);
}
