import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Dummy credentials for the embedded AWS (moto accepts any). */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

export interface AwsClients {
  readonly endpoint: string | undefined;
  readonly region: string;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly ddb: DynamoDBClient;
  readonly doc: DynamoDBDocumentClient;
  readonly secrets: SecretsManagerClient;
  readonly cloudformation: CloudFormationClient;
  readonly lambda: LambdaClient;
}

/**
 * SDK clients for an endpoint (the embedded moto, LocalStack…) or, with no endpoint, for the real
 * AWS account in the environment's credentials.
 */
export function awsClients(endpoint: string | undefined, region: string): AwsClients {
  const common = endpoint ? { endpoint, region, credentials: LOCAL_CREDENTIALS } : { region };
  const ddb = new DynamoDBClient(common);
  return {
    endpoint,
    region,
    s3: new S3Client({
      ...common,
      forcePathStyle: endpoint !== undefined,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    }),
    // A deployed stack's queue URLs name AWS's host; with an endpoint, calls go to the endpoint.
    sqs: new SQSClient({ ...common, useQueueUrlAsEndpoint: endpoint === undefined }),
    ddb,
    doc: DynamoDBDocumentClient.from(ddb, { marshallOptions: { removeUndefinedValues: true } }),
    secrets: new SecretsManagerClient(common),
    cloudformation: new CloudFormationClient(common),
    lambda: new LambdaClient(common),
  };
}
