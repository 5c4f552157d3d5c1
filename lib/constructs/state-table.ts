import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { ROUTE_INDEX, STATE_INDEX } from '../../functions/shared/deployment';
import { removalPolicyFor } from '../secure-defaults';

export interface StateTableProps {
  /** Physical table name. */
  readonly tableName: string;
  /** Customer-managed key. @default DynamoDB's AWS-owned key */
  readonly encryptionKey?: IKey;
  /** Keep the table (and turn on deletion protection). @default false */
  readonly retain?: boolean;
}

/**
 * The pipeline's state: delivery ledger, shared vendor tokens and concurrency slots, in one table
 * (`pk`/`sk`), with `gsi1` listing deliveries by state, `gsi2` by route and time, and `expiresAt` as
 * the TTL attribute.
 */
export class StateTable extends Construct {
  /**
   * What the functions call on the table: every write is a conditional UpdateItem (ledger, token
   * cache, call slots, breakers), every read a GetItem. No queries (listings are the operator's), puts,
   * deletes, scans or admin.
   */
  public static readonly ACTIONS: readonly string[] = ['dynamodb:GetItem', 'dynamodb:UpdateItem'];
  public static readonly GSI1 = STATE_INDEX;
  public static readonly GSI2 = ROUTE_INDEX;
  public static readonly TTL_ATTRIBUTE = 'expiresAt';

  public readonly table: Table;
  public readonly encryptionKey: IKey | undefined;

  constructor(scope: Construct, id: string, props: StateTableProps) {
    super(scope, id);
    const retain = props.retain ?? false;
    this.encryptionKey = props.encryptionKey;
    this.table = new Table(this, 'Table', {
      tableName: props.tableName,
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: StateTable.TTL_ATTRIBUTE,
      ...(props.encryptionKey
        ? { encryption: TableEncryption.CUSTOMER_MANAGED, encryptionKey: props.encryptionKey }
        : { encryption: TableEncryption.DEFAULT }),
      deletionProtection: retain,
      removalPolicy: removalPolicyFor(retain),
    });
    this.table.addGlobalSecondaryIndex({
      indexName: StateTable.GSI1,
      partitionKey: { name: 'gsi1pk', type: AttributeType.STRING },
      sortKey: { name: 'gsi1sk', type: AttributeType.STRING },
      projectionType: ProjectionType.ALL,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: StateTable.GSI2,
      partitionKey: { name: 'gsi2pk', type: AttributeType.STRING },
      sortKey: { name: 'gsi2sk', type: AttributeType.STRING },
      projectionType: ProjectionType.ALL,
    });
  }

  /** Exactly {@link StateTable.ACTIONS} on the table (plus the key, when there is one). */
  public grantStateAccess(grantee: IGrantable): Grant {
    const grant = Grant.addToPrincipal({
      grantee,
      actions: [...StateTable.ACTIONS],
      resourceArns: [this.table.tableArn],
    });
    this.encryptionKey?.grantEncryptDecrypt(grantee);
    return grant;
  }
}
