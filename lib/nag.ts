import { type App, CfnResource, Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { IngestBucket } from './constructs/ingest-bucket';

/** The cdk-nag packs every synth runs (the app and the tests alike). Any unacknowledged finding fails the synth. */
export function applyNagPacks(app: App): void {
  Validations.of(app).addPlugins(
    new AwsSolutionsChecks(app, { verbose: true }),
    new ServerlessChecks(app, { verbose: true }),
  );
}

/** How cdk-nag renders a resource's `Fn::GetAtt [id, attribute]` in finding ids. */
function getAttRef(resource: IConstruct, attribute: string): string {
  const cfn = resource.node.defaultChild;
  if (!CfnResource.isCfnResource(cfn))
    throw new Error(`${resource.node.path} has no CloudFormation resource`);
  return `<${Stack.of(cfn).resolve(cfn.logicalId)}.${attribute}>`;
}

/**
 * Object reads under each routed prefix are necessarily `prefix/*`: keys are not known until files
 * arrive. One acknowledgement per prefix, on the reading function only.
 */
export function acknowledgeObjectPrefixReads(
  reader: IConstruct,
  ingest: IngestBucket,
  prefixes: readonly string[],
  reason: (prefix: string) => string = (prefix) =>
    `Read-only object access (GetObject, GetObjectVersion) limited to route prefix "${prefix}"; object keys are only known when files arrive.`,
): void {
  const bucketArn = getAttRef(ingest.bucket, 'Arn');
  for (const prefix of new Set(prefixes)) {
    Validations.of(reader).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${bucketArn}/${prefix}*]`,
      reason: reason(prefix),
    });
  }
}

/**
 * The singleton Lambda that aws-cdk-lib's `Bucket.addEventNotification` uses to write the bucket's
 * notification configuration. Its code and role are CDK's, created at deploy time only.
 */
export function acknowledgeBucketNotificationsHandler(stack: Stack): void {
  for (const child of stack.node.children) {
    if (!child.node.id.startsWith('BucketNotificationsHandler')) continue;
    Validations.of(child).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        "aws-cdk-lib's own BucketNotifications handler (runs once per deploy to set the bucket's notification configuration); its role is fixed by the library and only writes its logs with the managed policy.",
    });
  }
}

/**
 * With KMS on, aws-cdk-lib's queue and table grants add `kms:GenerateDataKey*` and `kms:ReEncrypt*`
 * (the action families SQS and DynamoDB use under a customer key), on the stack's own keys only.
 */
export function acknowledgeKmsGrants(grantee: IConstruct): void {
  for (const action of ['kms:GenerateDataKey*', 'kms:ReEncrypt*']) {
    Validations.of(grantee).acknowledge({
      id: `AwsSolutions-IAM5[Action::${action}]`,
      reason: `${action} comes from the L2 grants for the stack's KMS-encrypted queues and table; the statement's resources are only this stack's own keys.`,
    });
  }
}
