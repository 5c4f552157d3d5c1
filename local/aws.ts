import { CreateTableCommand, DynamoDBClient, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Region and dummy credentials for the embedded AWS (moto accepts any). */
export const LOCAL_REGION = 'ap-south-1';
export const LOCAL_ACCOUNT = '123456789012';
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

export interface AwsClients {
  readonly endpoint: string | undefined;
  readonly region: string;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly ddb: DynamoDBClient;
  readonly doc: DynamoDBDocumentClient;
  readonly secrets: SecretsManagerClient;
}

/**
 * SDK clients for an endpoint (the embedded moto, LocalStack…) or, with no endpoint, for the real
 * AWS account in the environment's credentials.
 */
export function awsClients(endpoint: string | undefined, region = LOCAL_REGION): AwsClients {
  const common = endpoint ? { endpoint, region, credentials } : { region };
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
    sqs: new SQSClient(common),
    ddb,
    doc: DynamoDBDocumentClient.from(ddb, { marshallOptions: { removeUndefinedValues: true } }),
    secrets: new SecretsManagerClient(common),
  };
}

/** The state table exactly as the stack defines it: pk/sk, GSI `gsi1` for listing by state, TTL on `expiresAt`. */
export async function createStateTable(ddb: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await ddb.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          { AttributeName: 'gsi1pk', AttributeType: 'S' },
          { AttributeName: 'gsi1sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: 'gsi1',
            KeySchema: [
              { AttributeName: 'gsi1pk', KeyType: 'HASH' },
              { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      }),
    );
  } catch (error) {
    if ((error as { name?: string }).name !== 'ResourceInUseException') throw error;
  }
  await waitUntilTableExists({ client: ddb, maxWaitTime: 30 }, { TableName: tableName });
}
