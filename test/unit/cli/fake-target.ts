import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import type { QueueRef, Target, TargetRoute } from '../../../cli/target';
import { filterPrefixOf, segmentsOf } from '../../../functions/shared/routes/match';

/** Routes as the `local` stage's outputs list them. */
export const ROUTES: readonly TargetRoute[] = [
  ['cleartax-sales', 'cleartax/sales/', 'cleartax-gst'],
  ['cleartax-purchase', 'cleartax/purchase/', 'cleartax-gst'],
  ['cleartax-one-sales', 'cleartax-one/sales/', 'cleartax-one'],
  ['clevertap-catalogs', 'clevertap/{catalogId}/', 'clevertap-catalog'],
  ['inspect-photos', 'inspect/{assetId}/', 'inspect'],
].map(([id = '', prefix = '', vendor = '']) => ({
  id,
  prefix,
  vendor,
  filterPrefix: filterPrefixOf(prefix),
  segments: segmentsOf(prefix),
}));

interface Stored {
  readonly id: string;
  readonly body: string;
  readonly attributes: Message['MessageAttributes'];
  readonly sentAt: number;
  receipt?: string;
  visibleAt: number;
}

/**
 * An in-memory SQS with visibility timeouts: enough of ReceiveMessage, SendMessage, DeleteMessage,
 * ChangeMessageVisibility and GetQueueAttributes for the operations' queue handling, and no
 * StartMessageMoveTask (as moto). `onSend` runs after each send, as a consumer would react.
 */
export class FakeSqs {
  readonly queues = new Map<string, Stored[]>();
  readonly sends: Array<{ url: string; body: string }> = [];
  onSend: (url: string, body: string) => void = () => undefined;
  /** The server's clock, which need not be the caller's. */
  clock: () => number = Date.now;
  private next = 0;

  put(url: string, body: string, sentAt = this.clock()): string {
    const id = `m-${++this.next}`;
    const queue = this.queues.get(url) ?? [];
    queue.push({ id, body, attributes: {}, sentAt, visibleAt: 0 });
    this.queues.set(url, queue);
    return id;
  }

  bodies(url: string): string[] {
    return (this.queues.get(url) ?? []).map((m) => m.body);
  }

  async send(command: unknown): Promise<unknown> {
    const now = this.clock();
    if (command instanceof StartMessageMoveTaskCommand)
      throw Object.assign(new Error('not implemented'), { name: 'UnsupportedOperation' });
    if (command instanceof ReceiveMessageCommand) {
      const { QueueUrl = '', MaxNumberOfMessages = 1, VisibilityTimeout = 30 } = command.input;
      const visible = (this.queues.get(QueueUrl) ?? [])
        .filter((m) => m.visibleAt <= now)
        .slice(0, MaxNumberOfMessages);
      return {
        Messages: visible.map((m) => {
          m.receipt = `${m.id}:${++this.next}`;
          m.visibleAt = now + VisibilityTimeout * 1000;
          return {
            MessageId: m.id,
            ReceiptHandle: m.receipt,
            Body: m.body,
            MessageAttributes: m.attributes,
            Attributes: { SentTimestamp: String(m.sentAt) },
          };
        }),
      };
    }
    if (command instanceof SendMessageCommand) {
      const { QueueUrl = '', MessageBody = '' } = command.input;
      this.put(QueueUrl, MessageBody);
      this.sends.push({ url: QueueUrl, body: MessageBody });
      this.onSend(QueueUrl, MessageBody);
      return { MessageId: `m-${this.next}` };
    }
    if (command instanceof DeleteMessageCommand) {
      const { QueueUrl = '', ReceiptHandle } = command.input;
      const queue = this.queues.get(QueueUrl) ?? [];
      this.queues.set(
        QueueUrl,
        queue.filter((m) => m.receipt !== ReceiptHandle),
      );
      return {};
    }
    if (command instanceof ChangeMessageVisibilityCommand) {
      const { QueueUrl = '', ReceiptHandle, VisibilityTimeout = 0 } = command.input;
      const m = (this.queues.get(QueueUrl) ?? []).find((x) => x.receipt === ReceiptHandle);
      if (m) m.visibleAt = now + VisibilityTimeout * 1000;
      return {};
    }
    if (command instanceof GetQueueAttributesCommand) {
      const queue = this.queues.get(command.input.QueueUrl ?? '') ?? [];
      return {
        Attributes: {
          ApproximateNumberOfMessages: String(queue.filter((m) => m.visibleAt <= now).length),
          ApproximateNumberOfMessagesNotVisible: String(queue.filter((m) => m.visibleAt > now).length),
        },
      };
    }
    throw new Error(`FakeSqs: ${(command as object).constructor.name} is not faked`);
  }
}

function queueRef(name: string): QueueRef {
  return {
    name,
    url: `https://sqs.local/1/${name}`,
    arn: `arn:aws:sqs:local:1:${name}`,
    dlqName: `${name}-dlq`,
    dlqUrl: `https://sqs.local/1/${name}-dlq`,
    dlqArn: `arn:aws:sqs:local:1:${name}-dlq`,
  };
}

/** A target over the fake SQS (and nothing else: S3 and DynamoDB calls would fail). */
export function fakeTarget(sqs: FakeSqs = new FakeSqs(), routes: readonly TargetRoute[] = ROUTES): Target {
  return {
    kind: 'local',
    description: 'fake stack',
    stackName: 'Fake',
    stage: 'test',
    clients: { sqs, region: 'local', endpoint: 'http://fake' } as unknown as Target['clients'],
    resources: {
      bucket: 'bucket',
      stateTable: 'table',
      resultsPrefix: '_results/',
      intake: routes.map((r) => ({ ...queueRef(`intake-${r.id}`), routeId: r.id })),
      completion: queueRef('completion'),
    },
    routes,
    ledger: undefined as unknown as Target['ledger'],
  };
}
