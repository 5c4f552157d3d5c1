import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import type { FunctionPool, InvokeOutcome } from './function-pool';

export interface EventSourceOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly region: string;
  readonly pool: FunctionPool;
  /** Messages per invocation (SQS returns at most 10 per receive; larger batches need a window). */
  readonly batchSize: number;
  /** Wait up to this long to fill a batch, ms (0 = invoke as soon as something arrives). */
  readonly batchWindowMs: number;
  /** ScalingConfig.MaximumConcurrency: invocations in flight for this queue. */
  readonly maxConcurrency: number;
  /** `FunctionResponseTypes: [ReportBatchItemFailures]`: honour `batchItemFailures` in the result. */
  readonly reportBatchItemFailures: boolean;
  /** Long-poll wait per receive, seconds (Lambda uses 20; shorter stops faster locally). */
  readonly pollWaitSeconds?: number;
  readonly onInvoke?: (info: {
    queueArn: string;
    records: number;
    outcome: InvokeOutcome;
    failed: number;
  }) => void;
}

function toRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  const messageAttributes: SQSRecord['messageAttributes'] = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      dataType: value.DataType ?? 'String',
      stringValue: value.StringValue,
      stringListValues: [],
      binaryListValues: [],
    };
  }
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/**
 * Emulates Lambda's SQS event source mapping: long polling, batch size and window, at most
 * `maxConcurrency` invocations at once, and the same acknowledgement rules — a successful invocation
 * deletes every record not listed in `batchItemFailures`; a thrown error, a crash or a timeout
 * deletes nothing, so the records return after their visibility timeout and the queue's redrive
 * policy moves them to the DLQ after `maxReceiveCount`. An invalid `batchItemFailures` entry fails
 * the whole batch, as Lambda does.
 */
export class SqsEventSource {
  private running = false;
  private pollers: Promise<void>[] = [];
  private readonly controller = new AbortController();

  constructor(private readonly options: EventSourceOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.pollers = Array.from({ length: this.options.maxConcurrency }, () => this.poll());
  }

  async stop(): Promise<void> {
    this.running = false;
    this.controller.abort();
    await Promise.all(this.pollers);
  }

  private async receive(max: number, waitSeconds: number): Promise<Message[]> {
    try {
      const out = await this.options.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.options.queueUrl,
          MaxNumberOfMessages: Math.min(10, max),
          WaitTimeSeconds: waitSeconds,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
        { abortSignal: this.controller.signal },
      );
      return out.Messages ?? [];
    } catch (error) {
      if (!this.running) return [];
      // A transient emulator error: back off briefly and poll again.
      await new Promise((r) => setTimeout(r, 200));
      void error;
      return [];
    }
  }

  private async poll(): Promise<void> {
    const wait = this.options.pollWaitSeconds ?? 1;
    while (this.running) {
      const batch = await this.receive(this.options.batchSize, wait);
      if (batch.length === 0) continue;
      if (this.options.batchWindowMs > 0) {
        const until = Date.now() + this.options.batchWindowMs;
        while (this.running && batch.length < this.options.batchSize && Date.now() < until) {
          const more = await this.receive(this.options.batchSize - batch.length, 0);
          if (more.length === 0) await new Promise((r) => setTimeout(r, 50));
          batch.push(...more);
        }
      }
      if (!this.running) return;
      await this.invoke(batch);
    }
  }

  private async invoke(messages: Message[]): Promise<void> {
    const records = messages.map((m) => toRecord(m, this.options.queueArn, this.options.region));
    const event: SQSEvent = { Records: records };
    const outcome = await this.options.pool.invoke(event);
    let toDelete: SQSRecord[] = [];
    let failed = records.length;
    if (outcome.ok && !this.options.reportBatchItemFailures) {
      // Without ReportBatchItemFailures Lambda ignores the result: a returned invocation deletes all.
      toDelete = records;
      failed = 0;
    } else if (outcome.ok) {
      const failures =
        (outcome.result as { batchItemFailures?: Array<{ itemIdentifier?: string }> } | null)
          ?.batchItemFailures ?? [];
      const ids = new Set(records.map((r) => r.messageId));
      const valid = failures.every((f) => f.itemIdentifier && ids.has(f.itemIdentifier));
      if (valid) {
        const failedIds = new Set(failures.map((f) => f.itemIdentifier));
        toDelete = records.filter((r) => !failedIds.has(r.messageId));
        failed = failedIds.size;
      }
    }
    for (let i = 0; i < toDelete.length; i += 10) {
      const chunk = toDelete.slice(i, i + 10);
      await this.options.sqs
        .send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.options.queueUrl,
            Entries: chunk.map((r, j) => ({ Id: String(j), ReceiptHandle: r.receiptHandle })),
          }),
        )
        .catch(() => undefined);
    }
    this.options.onInvoke?.({ queueArn: this.options.queueArn, records: records.length, outcome, failed });
  }
}
