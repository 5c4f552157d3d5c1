import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { LogGroupProps, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, BucketEncryption, type BucketProps, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import type { TopicProps } from 'aws-cdk-lib/aws-sns';
import { QueueEncryption, type QueueProps } from 'aws-cdk-lib/aws-sqs';

/**
 * The secure defaults of every resource the stack creates, in one place: encryption at rest,
 * TLS-only access, public access blocked, dead-letter retention, log retention and removal.
 */

/** Dead-letter queues keep a message this long (SQS's maximum). */
export const DEAD_LETTER_RETENTION = Duration.days(14);

/** Requests below this TLS version are denied by the bucket policy. */
export const MINIMUM_TLS_VERSION = 1.2;

/** `retain: true` keeps data (buckets, table, log groups) when the stack is deleted. */
export function removalPolicyFor(retain: boolean): RemovalPolicy {
  return retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
}

export interface SecureBucketOptions {
  /** Customer-managed key for SSE-KMS. @default SSE-S3 (S3-managed keys) */
  readonly encryptionKey?: IKey;
  /** Keep the bucket and its objects when the stack is deleted. */
  readonly retain: boolean;
}

/** A private, encrypted, TLS-only bucket; emptied and deleted with the stack unless retained. */
export function secureBucketProps(options: SecureBucketOptions): BucketProps {
  return {
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
    enforceSSL: true,
    minimumTLSVersion: MINIMUM_TLS_VERSION,
    ...(options.encryptionKey
      ? { encryption: BucketEncryption.KMS, encryptionKey: options.encryptionKey, bucketKeyEnabled: true }
      : { encryption: BucketEncryption.S3_MANAGED }),
    removalPolicy: removalPolicyFor(options.retain),
    autoDeleteObjects: !options.retain,
  };
}

/** Encrypted (SQS-managed SSE, or the given key) and TLS-only. */
export function secureQueueProps(
  encryptionKey?: IKey,
): Pick<QueueProps, 'encryption' | 'encryptionMasterKey' | 'enforceSSL'> {
  return {
    enforceSSL: true,
    ...(encryptionKey
      ? { encryption: QueueEncryption.KMS, encryptionMasterKey: encryptionKey }
      : { encryption: QueueEncryption.SQS_MANAGED }),
  };
}

/** Encrypted with a customer-managed key (CloudWatch cannot publish to a topic under the AWS-managed key) and TLS-only. */
export function secureTopicProps(masterKey: IKey): Pick<TopicProps, 'masterKey' | 'enforceSSL'> {
  return { masterKey, enforceSSL: true };
}

/** Log group retention and removal. */
export function logGroupProps(
  retentionDays: number,
  retain: boolean,
): Pick<LogGroupProps, 'retention' | 'removalPolicy'> {
  return { retention: retentionDays as RetentionDays, removalPolicy: removalPolicyFor(retain) };
}
