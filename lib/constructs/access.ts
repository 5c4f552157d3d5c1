import { Stack } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import {
  AccountPrincipal,
  ArnPrincipal,
  Effect,
  type IPrincipal,
  ManagedPolicy,
  PolicyStatement,
} from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** What a producer may do under its route's prefix: write objects (single or multipart), nothing else. */
export const PRODUCER_OBJECT_ACTIONS: readonly string[] = ['s3:PutObject', 's3:AbortMultipartUpload'];
/** The key actions an SSE-KMS write (single and multipart) needs. */
export const PRODUCER_KEY_ACTIONS: readonly string[] = ['kms:GenerateDataKey', 'kms:Encrypt', 'kms:Decrypt'];

/** What the operator CLI and console call, by service (asserted exactly by the infra tests). */
export const OPERATOR_ACTIONS = {
  stack: ['cloudformation:DescribeStacks'],
  drop: ['s3:PutObject', 's3:AbortMultipartUpload'],
  ledger: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
  deadLetterQueues: [
    'sqs:ReceiveMessage',
    'sqs:DeleteMessage',
    'sqs:ChangeMessageVisibility',
    'sqs:GetQueueAttributes',
    'sqs:StartMessageMoveTask',
    'sqs:ListMessageMoveTasks',
  ],
  workQueues: ['sqs:SendMessage', 'sqs:GetQueueAttributes'],
  keys: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
} as const;

/** `123456789012` or an IAM ARN, as a principal. */
export function principalOf(value: string): IPrincipal {
  return /^\d{12}$/.test(value) ? new AccountPrincipal(value) : new ArnPrincipal(value);
}

/**
 * Lets each named principal write under its route's key prefix of the ingest bucket (a bucket policy
 * statement per route, so it works for principals in other accounts too), and use the data key for
 * it when the bucket is SSE-KMS.
 */
export function grantProducers(
  bucket: IBucket,
  dataKey: IKey | undefined,
  producers: ReadonlyArray<{
    readonly routeId: string;
    readonly prefix: string;
    readonly principals: readonly string[];
  }>,
): void {
  for (const { routeId, prefix, principals } of producers) {
    const grantees = principals.map(principalOf);
    bucket.addToResourcePolicy(
      new PolicyStatement({
        sid: `Producers${routeId.replace(/[^A-Za-z0-9]/g, '')}`,
        effect: Effect.ALLOW,
        principals: grantees,
        actions: [...PRODUCER_OBJECT_ACTIONS],
        resources: [bucket.arnForObjects(`${prefix}*`)],
      }),
    );
    if (dataKey) for (const grantee of grantees) dataKey.grant(grantee, ...PRODUCER_KEY_ACTIONS);
  }
}

export interface OperatorPolicyProps {
  readonly bucket: IBucket;
  /** Literal route prefixes operators may drop files under. */
  readonly prefixes: readonly string[];
  readonly table: ITable;
  readonly indexName: string;
  readonly deadLetterQueues: readonly IQueue[];
  readonly workQueues: readonly IQueue[];
  /** Customer-managed keys of the bucket, table and queues, when KMS is on. */
  readonly keys: readonly IKey[];
}

/**
 * A managed policy with exactly what `vendor-ingest --stack` and the console call: read the stack's
 * outputs, drop files under route prefixes, read and update the ledger, list, move and delete DLQ
 * messages (StartMessageMoveTask on AWS), and send to the work queues (replay, resolve, redrive).
 * Attach it to the operators' role or group.
 */
export class OperatorPolicy extends Construct {
  public readonly policy: ManagedPolicy;

  constructor(scope: Construct, id: string, props: OperatorPolicyProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const statements = [
      new PolicyStatement({ actions: [...OPERATOR_ACTIONS.stack], resources: [stack.stackId] }),
      new PolicyStatement({
        actions: [...OPERATOR_ACTIONS.drop],
        resources: props.prefixes.map((p) => props.bucket.arnForObjects(`${p}*`)),
      }),
      new PolicyStatement({
        actions: [...OPERATOR_ACTIONS.ledger],
        resources: [props.table.tableArn, `${props.table.tableArn}/index/${props.indexName}`],
      }),
      new PolicyStatement({
        actions: [...OPERATOR_ACTIONS.deadLetterQueues],
        resources: props.deadLetterQueues.map((q) => q.queueArn),
      }),
      new PolicyStatement({
        actions: [...OPERATOR_ACTIONS.workQueues],
        resources: props.workQueues.map((q) => q.queueArn),
      }),
    ];
    if (props.keys.length > 0) {
      statements.push(
        new PolicyStatement({
          actions: [...OPERATOR_ACTIONS.keys],
          resources: props.keys.map((k) => k.keyArn),
        }),
      );
    }
    this.policy = new ManagedPolicy(this, 'Policy', {
      description: `${stack.stackName}: what the vendor-ingest operator CLI and console call`,
      statements,
    });
  }
}
