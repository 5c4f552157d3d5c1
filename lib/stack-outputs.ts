import { pascalCase } from './naming';

/**
 * Names of the stack's CloudFormation outputs. They are stable: the local CLI reads them (with
 * `aws cloudformation describe-stacks`) to run against a deployed stack.
 */
export const StackOutput = {
  /** The bucket files are dropped in. */
  IngestBucketName: 'IngestBucketName',
  /** Its server-access-log bucket. */
  AccessLogBucketName: 'AccessLogBucketName',
  StateTableName: 'StateTableName',
  CompletionQueueUrl: 'CompletionQueueUrl',
  CompletionDlqUrl: 'CompletionDlqUrl',
  /** JSON object: route id → `{ "queueUrl": …, "dlqUrl": … }` for every intake queue. */
  IntakeQueues: 'IntakeQueues',
  DispatchFunctionName: 'DispatchFunctionName',
  CompletionFunctionName: 'CompletionFunctionName',
  /** Log groups of the two functions (`aws logs tail <name> --follow`). */
  DispatchLogGroupName: 'DispatchLogGroupName',
  CompletionLogGroupName: 'CompletionLogGroupName',
  DashboardName: 'DashboardName',
  DashboardUrl: 'DashboardUrl',
  AlarmTopicArn: 'AlarmTopicArn',
} as const;

/** Output holding a route's intake queue URL, e.g. `IntakeQueueUrlCleartaxSales`. */
export function intakeQueueUrlOutput(routeId: string): string {
  return `IntakeQueueUrl${pascalCase(routeId)}`;
}

/** Output holding a route's intake dead-letter queue URL, e.g. `IntakeDlqUrlCleartaxSales`. */
export function intakeDlqUrlOutput(routeId: string): string {
  return `IntakeDlqUrl${pascalCase(routeId)}`;
}
