import { Duration, Validations } from 'aws-cdk-lib';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEAD_LETTER_RETENTION, secureQueueProps } from '../secure-defaults';

export interface QueueWithDlqProps {
  /** Physical name of the queue. */
  readonly queueName: string;
  /** Physical name of its dead-letter queue. */
  readonly deadLetterQueueName: string;
  /** Must be at least 6 × the consuming function's timeout; the stage config check enforces it. */
  readonly visibilityTimeout: Duration;
  /** Receives before SQS moves a message to the dead-letter queue. */
  readonly maxReceiveCount: number;
  /** Customer-managed key. @default SQS-managed server-side encryption */
  readonly encryptionKey?: IKey;
  /** @default Duration.days(4) */
  readonly retentionPeriod?: Duration;
}

/** A work queue and its own dead-letter queue, both encrypted and TLS-only. */
export class QueueWithDlq extends Construct {
  public readonly queue: Queue;
  public readonly deadLetterQueue: Queue;
  public readonly maxReceiveCount: number;

  constructor(scope: Construct, id: string, props: QueueWithDlqProps) {
    super(scope, id);
    this.maxReceiveCount = props.maxReceiveCount;
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      ...secureQueueProps(props.encryptionKey),
      queueName: props.deadLetterQueueName,
      // SQS keeps a dead-lettered message's original enqueue time, so this must outlast the source's retention.
      retentionPeriod: DEAD_LETTER_RETENTION,
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'Serverless-SQSRedrivePolicy',
      reason:
        'This is itself a dead-letter queue, the end of the redrive chain; messages here wait for a person.',
    });
    this.queue = new Queue(this, 'Queue', {
      ...secureQueueProps(props.encryptionKey),
      queueName: props.queueName,
      visibilityTimeout: props.visibilityTimeout,
      retentionPeriod: props.retentionPeriod ?? Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
    });
  }
}
