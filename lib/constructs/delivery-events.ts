import { Duration } from 'aws-cdk-lib';
import { EventBus, type IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { SnsTopic, SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { EVENT_SOURCE } from '../../functions/shared/deployment';
import { pascalCase } from '../naming';
import { secureTopicProps } from '../secure-defaults';
import { QueueWithDlq } from './queue-with-dlq';

export interface DeliveryEventsProps {
  /** Bus name or ARN. @default the account's default bus */
  readonly busName?: string;
  /** The stack's name: every event carries it (`detail.stack`), and the rules match on it. */
  readonly stackName: string;
  /** Prefix of the physical names of the queues and topics created here. */
  readonly namePrefix: string;
  /** An SQS queue receiving every event of the stack. */
  readonly queue: boolean;
  /** Per route id: a queue and/or a topic receiving that route's events. */
  readonly routes: Readonly<Record<string, { readonly sqs: boolean; readonly sns: boolean }>>;
  /** Key of the topics (always) and the queues (when given). */
  readonly topicKey: IKey;
  readonly queueKey?: IKey;
}

/**
 * Where the pipeline's delivery outcome events go: the bus (default or named), and for producers that
 * do not write EventBridge rules, optional queues and topics fed by rules on this stack's events.
 */
export class DeliveryEvents extends Construct {
  public readonly bus: IEventBus;
  public readonly busName: string;
  /** Every event of the stack, when asked for. */
  public readonly queue: QueueWithDlq | undefined;
  public readonly routeQueues = new Map<string, QueueWithDlq>();
  public readonly routeTopics = new Map<string, Topic>();

  constructor(scope: Construct, id: string, props: DeliveryEventsProps) {
    super(scope, id);
    const name = props.busName ?? 'default';
    this.bus = name.startsWith('arn:')
      ? EventBus.fromEventBusArn(this, 'Bus', name)
      : EventBus.fromEventBusName(this, 'Bus', name);
    this.busName = name.startsWith('arn:') ? (name.split('/').at(-1) ?? name) : name;

    const queue = (queueId: string, queueName: string) =>
      new QueueWithDlq(this, queueId, {
        queueName,
        deadLetterQueueName: `${queueName}-dlq`,
        // Consumers read these; a message they cannot handle moves on after a few tries.
        visibilityTimeout: Duration.seconds(60),
        maxReceiveCount: 5,
        retentionPeriod: Duration.days(14),
        ...(props.queueKey ? { encryptionKey: props.queueKey } : {}),
      });
    const rule = (ruleId: string, description: string, route?: string) =>
      new Rule(this, ruleId, {
        eventBus: this.bus,
        description,
        eventPattern: {
          source: [EVENT_SOURCE],
          detail: { stack: [props.stackName], ...(route ? { route: [route] } : {}) },
        },
      });

    if (props.queue) {
      this.queue = queue('Queue', `${props.namePrefix}-events`);
      rule('AllRule', `${props.stackName}: every delivery outcome event → the events queue`).addTarget(
        new SqsQueue(this.queue.queue, { deadLetterQueue: this.queue.deadLetterQueue }),
      );
    }
    for (const [routeId, wants] of Object.entries(props.routes).sort()) {
      if (!wants.sqs && !wants.sns) continue;
      const r = rule(
        `Route${pascalCase(routeId)}Rule`,
        `${props.stackName}: ${routeId} outcome events`,
        routeId,
      );
      if (wants.sqs) {
        const q = queue(`Route${pascalCase(routeId)}Queue`, `${props.namePrefix}-${routeId}-events`);
        r.addTarget(new SqsQueue(q.queue, { deadLetterQueue: q.deadLetterQueue }));
        this.routeQueues.set(routeId, q);
      }
      if (wants.sns) {
        const topic = new Topic(this, `Route${pascalCase(routeId)}Topic`, {
          ...secureTopicProps(props.topicKey),
          topicName: `${props.namePrefix}-${routeId}-events`,
          displayName: `${routeId} delivery outcomes`,
        });
        r.addTarget(new SnsTopic(topic));
        this.routeTopics.set(routeId, topic);
      }
    }
  }

  /** events:PutEvents on the one bus. */
  grantPut(grantee: IGrantable): void {
    this.bus.grantPutEventsTo(grantee);
  }
}
