import { Stack } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import {
  AccountPrincipal,
  ArnPrincipal,
  Effect,
  type IPrincipal,
  ManagedPolicy,
  PolicyDocument,
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
  /** Read a delivery, and the operator transitions (replay, resolve) on the table. */
  ledgerItems: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
  /** Listings: a key's versions (the table), by state and by route (the indexes). */
  ledgerListings: ['dynamodb:Query'],
  deadLetterQueues: [
    'sqs:ReceiveMessage',
    'sqs:DeleteMessage',
    'sqs:ChangeMessageVisibility',
    'sqs:GetQueueAttributes',
    'sqs:StartMessageMoveTask',
    'sqs:PurgeQueue',
  ],
  workQueues: ['sqs:SendMessage', 'sqs:GetQueueAttributes'],
  /** Result documents and the vendors' error files (`status`, the console). */
  results: ['s3:GetObject'],
  /** The outcome events queue, when the stage has one (`events`, the live view). */
  eventsQueue: [
    'sqs:ReceiveMessage',
    'sqs:DeleteMessage',
    'sqs:ChangeMessageVisibility',
    'sqs:GetQueueAttributes',
  ],
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

/** IAM's limit on a managed policy document (whitespace excluded). */
export const MANAGED_POLICY_MAX_CHARS = 6_144;

/** What one operator policy covers for one route: its drop prefix, its intake queue and that DLQ. */
export interface OperatorRouteScope {
  /** Literal route prefix (before any `{segment}`). */
  readonly prefix: string;
  readonly queue: IQueue;
  readonly deadLetterQueue: IQueue;
}

export interface OperatorPolicyProps {
  readonly bucket: IBucket;
  readonly table: ITable;
  /** The table's indexes the operator lists deliveries from. */
  readonly indexNames: readonly string[];
  /** The completion queue and its DLQ (in the first policy). */
  readonly completion: { readonly queue: IQueue; readonly deadLetterQueue: IQueue };
  readonly routes: readonly OperatorRouteScope[];
  /** Customer-managed keys of the bucket, table and queues, when KMS is on. */
  readonly keys: readonly IKey[];
  /** The ingest bucket's results prefix (e.g. `_results/`): the operator reads what is under it. */
  readonly resultsPrefix: string;
  /** The stage's outcome events queue, when it has one. */
  readonly eventsQueue?: IQueue;
}

/** Longer than any ARN a `Ref` or `Fn::GetAtt` here resolves to (partition, region, account, 80-char name). */
const WORST_CASE_TOKEN = `arn:aws-us-gov:sqs:ap-southeast-5:000000000000:${'q'.repeat(80)}`;

/**
 * A policy document's size as IAM measures it (JSON without whitespace), with every deploy-time
 * value at its longest: each `Ref`/`Fn::GetAtt` counts as {@link WORST_CASE_TOKEN}, and the
 * `Fn::Join` around it is counted too, so the figure only ever overestimates.
 */
export function worstCasePolicyChars(stack: Stack, statements: readonly PolicyStatement[]): number {
  const document = stack.resolve(new PolicyDocument({ statements: [...statements] }).toJSON());
  return JSON.stringify(document, (_key, value: unknown) =>
    value && typeof value === 'object' && ('Fn::GetAtt' in value || 'Ref' in value)
      ? WORST_CASE_TOKEN
      : value,
  ).length;
}

/**
 * Managed policies with exactly what `vendor-ingest --stack` and the console call: read the stack's
 * outputs, drop files under route prefixes, read and update the ledger, list, move, delete and purge
 * DLQ messages (StartMessageMoveTask on AWS), send to the work queues (replay, resolve, redrive), read
 * result documents and error files, and take events from the stage's events queue.
 * IAM caps a managed policy at 6,144 characters, which about fifteen routes' ARNs fill, so the routes
 * are packed into as many policies as they need, each measured at its worst case; attach them all
 * (the `OperatorPolicyArns` output).
 */
export class OperatorPolicy extends Construct {
  public readonly policies: ManagedPolicy[] = [];

  constructor(scope: Construct, id: string, props: OperatorPolicyProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const common = [
      new PolicyStatement({ actions: [...OPERATOR_ACTIONS.stack], resources: [stack.stackId] }),
      new PolicyStatement({ actions: [...OPERATOR_ACTIONS.ledgerItems], resources: [props.table.tableArn] }),
      new PolicyStatement({
        actions: [...OPERATOR_ACTIONS.ledgerListings],
        resources: [
          props.table.tableArn,
          ...props.indexNames.map((index) => `${props.table.tableArn}/index/${index}`),
        ],
      }),
      new PolicyStatement({
        actions: [...OPERATOR_ACTIONS.deadLetterQueues],
        resources: [props.completion.deadLetterQueue.queueArn],
      }),
      new PolicyStatement({
        actions: [...OPERATOR_ACTIONS.workQueues],
        resources: [props.completion.queue.queueArn],
      }),
      new PolicyStatement({
        actions: [...OPERATOR_ACTIONS.results],
        resources: [props.bucket.arnForObjects(`${props.resultsPrefix}*`)],
      }),
      ...(props.eventsQueue
        ? [
            new PolicyStatement({
              actions: [...OPERATOR_ACTIONS.eventsQueue],
              resources: [props.eventsQueue.queueArn],
            }),
          ]
        : []),
      ...(props.keys.length > 0
        ? [
            new PolicyStatement({
              actions: [...OPERATOR_ACTIONS.keys],
              resources: props.keys.map((k) => k.keyArn),
            }),
          ]
        : []),
    ];
    const routeStatements = (routes: readonly OperatorRouteScope[]) =>
      routes.length === 0
        ? []
        : [
            new PolicyStatement({
              actions: [...OPERATOR_ACTIONS.drop],
              resources: routes.map((r) => props.bucket.arnForObjects(`${r.prefix}*`)),
            }),
            new PolicyStatement({
              actions: [...OPERATOR_ACTIONS.deadLetterQueues],
              resources: routes.map((r) => r.deadLetterQueue.queueArn),
            }),
            new PolicyStatement({
              actions: [...OPERATOR_ACTIONS.workQueues],
              resources: routes.map((r) => r.queue.queueArn),
            }),
          ];
    const chunks: OperatorRouteScope[][] = [[]];
    for (const route of props.routes) {
      const current = chunks.at(-1) as OperatorRouteScope[];
      const candidate = [...current, route];
      const statements = [...(chunks.length === 1 ? common : []), ...routeStatements(candidate)];
      if (current.length > 0 && worstCasePolicyChars(stack, statements) > MANAGED_POLICY_MAX_CHARS)
        chunks.push([route]);
      else current.push(route);
    }
    chunks.forEach((routes, i) => {
      const statements = [...(i === 0 ? common : []), ...routeStatements(routes)];
      this.policies.push(
        new ManagedPolicy(this, i === 0 ? 'Policy' : `Policy${i + 1}`, {
          description: `${stack.stackName}: what the vendor-ingest operator CLI and console call (${i + 1} of ${chunks.length})`,
          statements,
        }),
      );
    });
  }
}
