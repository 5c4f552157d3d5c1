import { Duration, Validations } from 'aws-cdk-lib';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Grant, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY } from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';
import { secureBucketProps } from '../secure-defaults';

export interface IngestBucketProps {
  /** Customer-managed key for SSE-KMS. @default SSE-S3 (S3-managed keys) */
  readonly encryptionKey?: IKey;
  /** How long an overwritten or deleted object version is kept. @default Duration.days(30) */
  readonly noncurrentVersionExpiration?: Duration;
  /** How long server access logs are kept. @default Duration.days(365) */
  readonly accessLogExpiration?: Duration;
  /** Keep both buckets and their objects when the stack is deleted. @default false */
  readonly retain?: boolean;
}

/**
 * The bucket vendors' files are dropped in: private, encrypted, TLS-only, versioned (the version id
 * is the delivery identity), with server access logs in a separate bucket.
 */
export class IngestBucket extends Construct {
  /**
   * What dispatch calls to read one object version: GetObject (its answer is the head; checksum mode
   * on for vendors that want the SHA-256), which S3 authorizes as GetObject, or GetObjectVersion when a
   * version id is given.
   */
  public static readonly OBJECT_READ_ACTIONS: readonly string[] = ['s3:GetObject', 's3:GetObjectVersion'];

  public readonly bucket: Bucket;
  public readonly accessLogBucket: Bucket;
  public readonly encryptionKey: IKey | undefined;

  constructor(scope: Construct, id: string, props: IngestBucketProps = {}) {
    super(scope, id);
    const retain = props.retain ?? false;
    this.encryptionKey = props.encryptionKey;

    // Access-log delivery must be granted by bucket policy: ACLs are off (bucket owner enforced). Set
    // here, not only in cdk.json, so the construct is correct in any app.
    this.node.setContext(S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);

    // S3 delivers access logs only to buckets encrypted with SSE-S3, so this one never takes the key.
    this.accessLogBucket = new Bucket(this, 'AccessLogs', {
      ...secureBucketProps({ retain }),
      lifecycleRules: [
        { id: 'expire-access-logs', expiration: props.accessLogExpiration ?? Duration.days(365) },
      ],
    });
    Validations.of(this.accessLogBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This is the server-access-log bucket itself; logging it into itself would log its own log writes.',
    });

    this.bucket = new Bucket(this, 'Bucket', {
      ...secureBucketProps({ encryptionKey: props.encryptionKey, retain }),
      versioned: true,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'ingest/',
      lifecycleRules: [
        {
          id: 'expire-noncurrent-versions',
          noncurrentVersionExpiration: props.noncurrentVersionExpiration ?? Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });
  }

  /**
   * Read-only access to object versions under the given key prefixes (each ending in `/`), plus
   * decryption when the bucket uses a customer-managed key, plus `s3:ListBucket` on this bucket:
   * without it S3 answers 403 instead of 404 for a missing object, and a file deleted before
   * dispatch could not be told from a permissions problem. No writes.
   */
  public grantReadObjects(
    grantee: IGrantable,
    prefixes: readonly string[],
    options: { readonly alsoTag?: boolean } = {},
  ): Grant {
    const unique = [...new Set(prefixes)].sort();
    // The outcome tags go on the same objects: shared statements keep a role of many routes small.
    const actions = [
      ...IngestBucket.OBJECT_READ_ACTIONS,
      ...(options.alsoTag ? IngestBucket.TAG_ACTIONS : []),
    ];
    const grant = this.grantPerPrefix(grantee, actions, unique);
    Grant.addToPrincipal({ grantee, actions: ['s3:ListBucket'], resourceArns: [this.bucket.bucketArn] });
    // A notification without a version id (emulators) is matched to its version by listing the key's
    // versions: only under the route prefixes.
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['s3:ListBucketVersions'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': unique.map((prefix) => `${prefix}*`) } },
      }),
    );
    this.encryptionKey?.grantDecrypt(grantee);
    return grant;
  }

  /**
   * The write-back of a delivery's outcome: result documents and vendor error files under the results
   * prefix only, and the outcome tags on source object versions under the route prefixes only (read to
   * keep a producer's own tags, then written).
   */
  public grantWriteBack(
    grantee: IGrantable,
    resultsPrefix: string,
    routePrefixes: readonly string[],
    /** Tag objects under the route prefixes (false when the grantee's read grant already carries it). */
    tagObjects: boolean,
  ): void {
    Grant.addToPrincipal({
      grantee,
      actions: [...IngestBucket.RESULT_WRITE_ACTIONS],
      resourceArns: [this.bucket.arnForObjects(`${resultsPrefix}*`)],
    });
    if (tagObjects) {
      this.grantPerPrefix(grantee, IngestBucket.TAG_ACTIONS, [...new Set(routePrefixes)].sort());
    }
    this.encryptionKey?.grantEncryptDecrypt(grantee);
  }

  /**
   * `actions` on the objects under each prefix, in statements of at most
   * {@link IngestBucket.PREFIXES_PER_STATEMENT} resources: CDK moves whole statements into overflow
   * managed policies (6,144 characters each) when a role's inline policy is full, and one statement of
   * 50 object ARNs alone could exceed that.
   */
  private grantPerPrefix(
    grantee: IGrantable,
    actions: readonly string[],
    prefixes: readonly string[],
  ): Grant {
    const grants: Grant[] = [];
    for (let i = 0; i < prefixes.length; i += IngestBucket.PREFIXES_PER_STATEMENT) {
      grants.push(
        Grant.addToPrincipal({
          grantee,
          actions: [...actions],
          resourceArns: prefixes
            .slice(i, i + IngestBucket.PREFIXES_PER_STATEMENT)
            .map((prefix) => this.bucket.arnForObjects(`${prefix}*`)),
        }),
      );
    }
    return grants.reduce((all, grant) => all.combine(grant));
  }

  /** Object ARNs per statement (see {@link grantPerPrefix}). */
  public static readonly PREFIXES_PER_STATEMENT = 20;

  /** Writing a result document or an error file. */
  public static readonly RESULT_WRITE_ACTIONS: readonly string[] = ['s3:PutObject'];
  /** Merging the outcome tags into an object version's tag set. */
  public static readonly TAG_ACTIONS: readonly string[] = [
    's3:GetObjectVersionTagging',
    's3:PutObjectVersionTagging',
  ];
}
