import type { CfnElement } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DeploymentConfig } from '../../lib/config/deployment-config';
import type { VendorIngestStack } from '../../lib/vendor-ingest-stack';
import {
  getAtt,
  grants,
  grantsOf,
  nagFindings,
  resourcesOfType,
  type Synthesized,
  synthesize,
  withSettings,
} from './support';

const ALARM_EMAIL = 'ops@example.com';

/** The prod stage (KMS on, data retained) with an alarm subscription added. */
describe('VendorIngestStack (prod stage: KMS, retained data, alarm e-mail)', () => {
  let deployment: DeploymentConfig;
  let synth: Synthesized;
  let stack: VendorIngestStack;
  let template: Template;
  let id: (construct: IConstruct) => string;

  beforeAll(() => {
    deployment = withSettings('prod', ({ config }) => ({ ...config, alarmEmail: ALARM_EMAIL }));
    synth = synthesize(deployment);
    stack = synth.stack;
    template = synth.template;
    id = (construct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
  });

  const dataKey = () => {
    if (!stack.dataKey) throw new Error('prod has no data key');
    return getAtt(id(stack.dataKey));
  };

  it('encrypts the ingest bucket with the data key (bucket keys on) and its log bucket with SSE-S3', () => {
    // Prepare
    const buckets = resourcesOfType(template, 'AWS::S3::Bucket');

    // Assess
    expect(buckets[id(stack.ingest.bucket)]?.Properties?.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [
        {
          BucketKeyEnabled: true,
          ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: dataKey() },
        },
      ],
    });
    expect(buckets[id(stack.ingest.accessLogBucket)]?.Properties?.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
  });

  it('encrypts every queue and the alarm topic with the messaging key, and the table with the data key', () => {
    // Prepare
    const messagingKey = getAtt(id(stack.messagingKey));
    const queues = Object.values(resourcesOfType(template, 'AWS::SQS::Queue'));

    // Assess
    expect(queues).toHaveLength(2 * (deployment.routes.length + 1));
    for (const queue of queues) {
      expect(queue.Properties?.KmsMasterKeyId).toEqual(messagingKey);
      expect(queue.Properties?.SqsManagedSseEnabled).toBeUndefined();
    }
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: messagingKey });
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: dataKey() },
    });
    for (const key of Object.values(resourcesOfType(template, 'AWS::KMS::Key'))) {
      expect(key.Properties?.EnableKeyRotation).toBe(true);
    }
    template.resourceCountIs('AWS::KMS::Key', 2);
  });

  it('retains buckets, table, log groups and keys, and protects the table from deletion', () => {
    // Prepare
    const retained = [
      ...Object.values(resourcesOfType(template, 'AWS::S3::Bucket')),
      ...Object.values(resourcesOfType(template, 'AWS::DynamoDB::Table')),
      ...Object.values(resourcesOfType(template, 'AWS::Logs::LogGroup')),
      ...Object.values(resourcesOfType(template, 'AWS::KMS::Key')),
    ];

    // Assess
    expect(retained).toHaveLength(2 + 1 + 2 + 2);
    for (const resource of retained) expect(resource.DeletionPolicy).toBe('Retain');
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
    template.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: true });
  });

  it('grants each function KMS use of the stack’s two keys only', () => {
    // Prepare
    const keys = [dataKey(), getAtt(id(stack.messagingKey))];
    const kmsActions = ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'];

    for (const policy of ['DispatchRoleDefaultPolicy', 'CompletionRoleDefaultPolicy']) {
      // Act
      const kms = grantsOf(template, policy).filter((g) => g.startsWith('kms:'));

      // Assess
      expect(kms, policy).toEqual(grants(kmsActions, keys).sort());
    }
  });

  it('subscribes the configured address to the alarm topic', () => {
    // Assess
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: ALARM_EMAIL,
      TopicArn: { Ref: id(stack.monitoring.alarmTopic) },
    });
  });

  it('passes AwsSolutions and Serverless with nothing unacknowledged', () => {
    // Assess
    expect(nagFindings(synth.app)).toEqual([]);
  });
});
