/**
 * Names of the stack's CloudFormation outputs. They are stable: the local CLI reads them (with
 * `aws cloudformation describe-stacks`) to run against a deployed stack.
 */
export const StackOutput = {
  /** The stage the stack was synthesized for (the CLI loads that stage's routes). */
  Stage: 'Stage',
  /** The bucket files are dropped in. */
  IngestBucketName: 'IngestBucketName',
  /** Its server-access-log bucket. */
  AccessLogBucketName: 'AccessLogBucketName',
  StateTableName: 'StateTableName',
  CompletionQueueUrl: 'CompletionQueueUrl',
  CompletionDlqUrl: 'CompletionDlqUrl',
  /** JSON object: route id → `{ prefix, vendor }`. Queue names follow from stage, instance and id. */
  Routes: 'Routes',
  /** The instance name, when the stack is one of several copies of its stage. */
  Instance: 'Instance',
  DispatchFunctionName: 'DispatchFunctionName',
  CompletionFunctionName: 'CompletionFunctionName',
  /** Log groups of the two functions (`aws logs tail <name> --follow`). */
  DispatchLogGroupName: 'DispatchLogGroupName',
  CompletionLogGroupName: 'CompletionLogGroupName',
  DashboardName: 'DashboardName',
  DashboardUrl: 'DashboardUrl',
  AlarmTopicArn: 'AlarmTopicArn',
  /** Managed policies (comma-separated) to attach to operators: one per about fifteen routes. */
  OperatorPolicyArns: 'OperatorPolicyArns',
  /** The EventBridge bus the outcome events go to. */
  EventBusName: 'EventBusName',
  /** Key prefix of result documents and vendor error files in the ingest bucket. */
  ResultsPrefix: 'ResultsPrefix',
  /** The queue receiving every outcome event, when the stage asks for it (`events.queue`). */
  EventsQueueUrl: 'EventsQueueUrl',
  /** `RouteEventsQueueUrl<RouteId>`: a route's events queue (`events.routes.<id>.sqs`). */
  RouteEventsQueueUrlPrefix: 'RouteEventsQueueUrl',
  /** `RouteEventsTopicArn<RouteId>`: a route's events topic (`events.routes.<id>.sns`). */
  RouteEventsTopicArnPrefix: 'RouteEventsTopicArn',
  /** Days a terminal ledger entry is kept (the CLI sets it on what it finishes). */
  LedgerRetentionDays: 'LedgerRetentionDays',
} as const;
