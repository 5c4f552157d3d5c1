import {
  type BucketLocationConstraint,
  CreateBucketCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketVersioningCommand,
} from '@aws-sdk/client-s3';
import { CreateSecretCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { ResolvedRoute } from '../functions/shared/routes/schema';
import type { AwsClients } from './aws';
import { createStateTable } from './aws';

export interface QueueRef {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
  readonly dlqName: string;
  readonly dlqUrl: string;
  readonly dlqArn: string;
}

export interface IntakeQueueRef extends QueueRef {
  readonly routeId: string;
}

/** Where everything lives: enough for the CLI to drop files, read the ledger and move DLQ messages. */
export interface PipelineResources {
  readonly bucket: string;
  readonly stateTable: string;
  readonly intake: readonly IntakeQueueRef[];
  readonly completion: QueueRef;
}

export interface QueueSpec {
  readonly name: string;
  readonly dlqName: string;
  readonly visibilityTimeoutSeconds: number;
  readonly maxReceiveCount: number;
}

const DLQ_RETENTION_SECONDS = 14 * 24 * 3600;

/** A queue and its DLQ with the stack's redrive policy and visibility timeout. */
export async function createQueueWithDlq(clients: AwsClients, spec: QueueSpec): Promise<QueueRef> {
  const dlq = await clients.sqs.send(
    new CreateQueueCommand({
      QueueName: spec.dlqName,
      Attributes: { MessageRetentionPeriod: String(DLQ_RETENTION_SECONDS) },
    }),
  );
  const dlqUrl = dlq.QueueUrl ?? '';
  const dlqArn = await queueArn(clients, dlqUrl);
  const queue = await clients.sqs.send(
    new CreateQueueCommand({
      QueueName: spec.name,
      Attributes: {
        VisibilityTimeout: String(spec.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: spec.maxReceiveCount }),
      },
    }),
  );
  const url = queue.QueueUrl ?? '';
  return { name: spec.name, url, arn: await queueArn(clients, url), dlqName: spec.dlqName, dlqUrl, dlqArn };
}

async function queueArn(clients: AwsClients, url: string): Promise<string> {
  const out = await clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  const arn = out.Attributes?.QueueArn;
  if (!arn) throw new Error(`no ARN for queue ${url}`);
  return arn;
}

/**
 * The ingest bucket as the stack builds it: versioned, with one S3 → SQS notification per route
 * (ObjectCreated:*, filtered by the route's literal prefix) into that route's intake queue.
 */
export async function createIngestBucket(
  clients: AwsClients,
  bucket: string,
  routes: readonly ResolvedRoute[],
  intake: readonly IntakeQueueRef[],
): Promise<void> {
  try {
    await clients.s3.send(
      new CreateBucketCommand({
        Bucket: bucket,
        ...(clients.region === 'us-east-1'
          ? {}
          : {
              CreateBucketConfiguration: { LocationConstraint: clients.region as BucketLocationConstraint },
            }),
      }),
    );
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw error;
  }
  await clients.s3.send(
    new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }),
  );
  await clients.s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: bucket,
      NotificationConfiguration: {
        QueueConfigurations: routes.map((route) => {
          const queue = intake.find((q) => q.routeId === route.id);
          if (!queue) throw new Error(`no intake queue for route ${route.id}`);
          return {
            Id: `route-${route.id}`,
            QueueArn: queue.arn,
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: route.filterPrefix }] } },
          };
        }),
      },
    }),
  );
}

/** Creates (or updates) each secret with its JSON value. */
export async function putSecrets(
  clients: AwsClients,
  secrets: Readonly<Record<string, unknown>>,
): Promise<void> {
  for (const [name, value] of Object.entries(secrets)) {
    const SecretString = JSON.stringify(value);
    try {
      await clients.secrets.send(new CreateSecretCommand({ Name: name, SecretString }));
    } catch (error) {
      if ((error as { name?: string }).name !== 'ResourceExistsException') throw error;
      await clients.secrets.send(new PutSecretValueCommand({ SecretId: name, SecretString }));
    }
  }
}

export { createStateTable };
