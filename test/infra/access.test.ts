import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ContextKey, createApp } from '../../lib/app';
import { PROJECT_ROOT } from '../../lib/config/stage-config';
import {
  MANAGED_POLICY_MAX_CHARS,
  OPERATOR_ACTIONS,
  PRODUCER_KEY_ACTIONS,
  PRODUCER_OBJECT_ACTIONS,
} from '../../lib/constructs/access';
import { StackOutput } from '../../lib/stack-outputs';
import type { VendorIngestStack } from '../../lib/vendor-ingest-stack';
import { scratchDir } from '../support/scratch';
import { cdkJsonContext, getAtt, grants, grantsOf, nagFindings, resourcesOfType } from './support';

/**
 * Who may write and operate, on a stage built the way `cdk deploy -c …` builds it (lib/app.ts with
 * context): prod (KMS on) as instance "alice", with producers named per route in stage overrides.
 */

const PRODUCER_ROLE = 'arn:aws:iam::111122223333:role/erp-exporter';
const PRODUCER_ACCOUNT = '444455556666';

describe('access: producers, operators, and an instance of a stage', () => {
  let stack: VendorIngestStack;
  let template: Template;
  let app: ReturnType<typeof createApp>['app'];
  let id: (construct: IConstruct) => string;

  beforeAll(() => {
    const built = createApp({
      context: {
        ...cdkJsonContext(),
        [ContextKey.stage]: 'prod',
        [ContextKey.instance]: 'alice',
        [ContextKey.stageOverrides]: JSON.stringify({
          producers: { 'cleartax-sales': [PRODUCER_ROLE], 'clevertap-catalogs': [PRODUCER_ACCOUNT] },
        }),
      },
    });
    app = built.app;
    stack = built.stack;
    template = Template.fromStack(stack);
    id = (construct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
  });

  it('names the stack and every physical resource after the stage and the instance', () => {
    expect(stack.stackName).toBe('VendorIngest-prod-alice');
    const queues = Object.values(resourcesOfType(template, 'AWS::SQS::Queue')).map(
      (q) => q.Properties?.QueueName,
    );
    expect(queues.length).toBeGreaterThan(0);
    for (const name of queues) expect(name).toMatch(/^vendor-ingest-prod-alice-/);
    template.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'vendor-ingest-prod-alice-state' });
    const functions = Object.values(resourcesOfType(template, 'AWS::Lambda::Function'))
      .map((f) => f.Properties?.FunctionName)
      .filter(Boolean);
    expect(functions.sort()).toEqual([
      'vendor-ingest-prod-alice-completion',
      'vendor-ingest-prod-alice-dispatch',
    ]);
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs[StackOutput.Instance]?.Value).toBe('alice');
    expect(outputs[StackOutput.Stage]?.Value).toBe('prod');
  });

  it('lets each producer write under its own route prefix only, through the bucket policy', () => {
    const policies = Object.values(resourcesOfType(template, 'AWS::S3::BucketPolicy')).filter(
      (p) => JSON.stringify(p.Properties?.Bucket) === JSON.stringify({ Ref: id(stack.ingest.bucket) }),
    );
    expect(policies).toHaveLength(1);
    const document = policies[0]?.Properties?.PolicyDocument as { Statement: Array<Record<string, unknown>> };
    const statements = document.Statement;
    const producer = (sid: string) => statements.find((s) => s.Sid === sid);
    const objects = (prefix: string) => ({
      'Fn::Join': ['', [getAtt(id(stack.ingest.bucket)), `/${prefix}*`]],
    });

    expect(producer('Producerscleartaxsales')).toEqual({
      Sid: 'Producerscleartaxsales',
      Effect: 'Allow',
      Principal: { AWS: PRODUCER_ROLE },
      Action: [...PRODUCER_OBJECT_ACTIONS].sort(),
      Resource: objects('cleartax/sales/'),
    });
    expect(producer('Producersclevertapcatalogs')).toMatchObject({
      Principal: { AWS: `arn:aws:iam::${PRODUCER_ACCOUNT}:root` },
      Action: [...PRODUCER_OBJECT_ACTIONS].sort(),
      Resource: objects('clevertap/'),
    });
    expect(statements.filter((s) => String(s.Sid ?? '').startsWith('Producers'))).toHaveLength(2);
  });

  it('lets producers use the data key for SSE-KMS writes, and nothing more', () => {
    const key = resourcesOfType(template, 'AWS::KMS::Key')[id(stack.dataKey as IConstruct)];
    const keyPolicy = key?.Properties?.KeyPolicy as { Statement: Array<Record<string, unknown>> };
    const statements = keyPolicy.Statement;
    const forProducer = statements.filter((s) => JSON.stringify(s.Principal).includes('erp-exporter'));
    expect(forProducer).toHaveLength(1);
    expect(([] as unknown[]).concat(forProducer[0]?.Action).sort()).toEqual([...PRODUCER_KEY_ACTIONS].sort());
  });

  it('gives operators a managed policy with exactly what the operator CLI calls', () => {
    const bucket = getAtt(id(stack.ingest.bucket));
    const table = getAtt(id(stack.state.table));
    const queues = [...stack.intakeQueues.values(), stack.completionQueues];
    const expected = [
      ...grants(OPERATOR_ACTIONS.stack, [{ Ref: 'AWS::StackId' }]),
      ...grants(
        OPERATOR_ACTIONS.drop,
        stack.deployment.routes.map((r) => ({ 'Fn::Join': ['', [bucket, `/${r.filterPrefix}*`]] })),
      ),
      ...grants(OPERATOR_ACTIONS.ledgerItems, [table]),
      ...grants(OPERATOR_ACTIONS.ledgerListings, [
        table,
        { 'Fn::Join': ['', [table, '/index/gsi1']] },
        { 'Fn::Join': ['', [table, '/index/gsi2']] },
      ]),
      ...grants(
        OPERATOR_ACTIONS.deadLetterQueues,
        queues.map((q) => getAtt(id(q.deadLetterQueue))),
      ),
      ...grants(
        OPERATOR_ACTIONS.workQueues,
        queues.map((q) => getAtt(id(q.queue))),
      ),
      ...grants(OPERATOR_ACTIONS.keys, [
        getAtt(id(stack.dataKey as IConstruct)),
        getAtt(id(stack.messagingKey)),
      ]),
      ...grants(OPERATOR_ACTIONS.results, [
        { 'Fn::Join': ['', [bucket, `/${stack.deployment.config.results.prefix}*`]] },
      ]),
      ...(stack.events.queue
        ? grants(OPERATOR_ACTIONS.eventsQueue, [getAtt(id(stack.events.queue.queue))])
        : []),
    ];

    const actual = grantsOf(template, 'OperatorsPolicy', 'AWS::IAM::ManagedPolicy');

    expect(actual).toEqual([...new Set(expected)].sort());
    expect(stack.operatorPolicies).toHaveLength(1);
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    // One policy: CloudFormation's join of a single ARN is that ARN.
    expect(outputs[StackOutput.OperatorPolicyArns]?.Value).toEqual({
      Ref: id(stack.operatorPolicies[0] as IConstruct),
    });
  });

  it('grants each AWS call the CLI and the console make, and no action they do not make', () => {
    // Every SDK command constructed by the operator's code (the shared ledger's operator transitions too).
    const sources = [
      ...['cli', 'console'].flatMap((dir) =>
        readdirSync(join(PROJECT_ROOT, dir), { recursive: true, encoding: 'utf8' })
          .filter((file) => file.endsWith('.ts') && !file.startsWith('web'))
          .map((file) => join(PROJECT_ROOT, dir, file)),
      ),
      join(PROJECT_ROOT, 'functions/shared/state/ledger.ts'),
    ];
    const commands = new Set(
      sources.flatMap((file) =>
        [...readFileSync(file, 'utf8').matchAll(/new (\w+)Command\(/g)].map((m) => m[1] as string),
      ),
    );
    // Commands whose IAM action is not their own name.
    const ACTION_OF: Record<string, string> = {
      CreateMultipartUpload: 's3:PutObject',
      UploadPart: 's3:PutObject',
      CompleteMultipartUpload: 's3:PutObject',
      Get: 'dynamodb:GetItem',
      Update: 'dynamodb:UpdateItem',
    };
    const SERVICE_OF: Record<string, string> = {
      DescribeStacks: 'cloudformation',
      PutObject: 's3',
      GetObject: 's3',
      AbortMultipartUpload: 's3',
      Query: 'dynamodb',
    };
    const called = new Set(
      [...commands].map((command) => ACTION_OF[command] ?? `${SERVICE_OF[command] ?? 'sqs'}:${command}`),
    );
    const granted = new Set(
      Object.entries(OPERATOR_ACTIONS)
        .filter(([group]) => group !== 'keys')
        .flatMap(([, actions]) => actions as readonly string[]),
    );

    expect(commands.size).toBeGreaterThan(10);
    expect([...called].sort()).toEqual([...granted].sort());
  });

  it('passes cdk-nag with these grants', () => {
    expect(nagFindings(app)).toEqual([]);
  });
});

describe('access with 50 routes', () => {
  it('spreads the operator grants over managed policies that each fit the IAM limit, covering every route', () => {
    const base = JSON.parse(readFileSync(join(PROJECT_ROOT, 'config/routes.json'), 'utf8')) as {
      routes: unknown[];
    };
    // Up to 50 routes in all, however many the shipped route file holds.
    const extra = Array.from({ length: 50 - base.routes.length }, (_, i) => ({
      id: `photos-${i + 1}`,
      prefix: `sites/site-${i + 1}/{assetId}/`,
      vendor: 'inspect',
      secretId: 'vendor-ingest/inspect',
      baseUrl: 'https://api.eu.screeningeagle.com',
      uploadHostAllowList: ['*.s3.amazonaws.com'],
    }));
    const routesFile = join(scratchDir('routes-50-'), 'routes.json');
    writeFileSync(routesFile, JSON.stringify({ routes: [...base.routes, ...extra] }));
    const { app, stack } = createApp({
      context: {
        ...cdkJsonContext(),
        [ContextKey.stage]: 'dev',
        [ContextKey.stageOverrides]: { routesFile },
      },
    });
    const template = Template.fromStack(stack);
    const policies = resourcesOfType(template, 'AWS::IAM::ManagedPolicy');
    const operator = Object.entries(policies).filter(([logicalId]) =>
      logicalId.startsWith('OperatorsPolicy'),
    );

    expect(operator.length).toBeGreaterThan(1);
    // The longest each reference can resolve to: pseudo parameters by their longest value, S3 buckets
    // by the 63-character name limit, anything else (queues, tables, secrets) as a long SQS ARN.
    const resources = template.toJSON().Resources as Record<string, { Type: string }>;
    const PSEUDO: Record<string, string> = {
      'AWS::Partition': 'aws-us-gov',
      'AWS::Region': 'ap-southeast-5',
      'AWS::AccountId': '000000000000',
      'AWS::URLSuffix': 'amazonaws.com.cn',
    };
    const longest = (reference: { Ref?: string; 'Fn::GetAtt'?: [string, string] }): string => {
      const name = reference.Ref ?? reference['Fn::GetAtt']?.[0] ?? '';
      if (PSEUDO[name]) return PSEUDO[name];
      if (resources[name]?.Type === 'AWS::S3::Bucket')
        return reference.Ref ? 'b'.repeat(63) : `arn:aws-us-gov:s3:::${'b'.repeat(63)}`;
      return `arn:aws-us-gov:sqs:ap-southeast-5:000000000000:${'q'.repeat(80)}`;
    };
    const worstCaseChars = (document: unknown) =>
      JSON.stringify(document, (_key, value: unknown) =>
        value && typeof value === 'object' && ('Fn::GetAtt' in value || 'Ref' in value)
          ? longest(value as { Ref?: string; 'Fn::GetAtt'?: [string, string] })
          : value,
      ).length;
    for (const [logicalId, policy] of operator) {
      expect(worstCaseChars(policy.Properties?.PolicyDocument), logicalId).toBeLessThanOrEqual(
        MANAGED_POLICY_MAX_CHARS,
      );
    }
    // Lambda roles: CDK moves what an inline policy cannot hold into overflow managed policies.
    for (const [logicalId, policy] of Object.entries(policies)) {
      expect(worstCaseChars(policy.Properties?.PolicyDocument), logicalId).toBeLessThanOrEqual(
        MANAGED_POLICY_MAX_CHARS,
      );
    }
    const granted = grantsOf(template, 'OperatorsPolicy', 'AWS::IAM::ManagedPolicy', { many: true });
    for (const queues of stack.intakeQueues.values()) {
      const dlq = JSON.stringify(
        getAtt(stack.getLogicalId(queues.deadLetterQueue.node.defaultChild as CfnElement)),
      );
      expect(granted).toContain(`sqs:StartMessageMoveTask → ${dlq}`);
    }
    expect(Object.keys(template.toJSON().Resources).length).toBeLessThanOrEqual(500);
    expect(nagFindings(app)).toEqual([]);
  });
});
