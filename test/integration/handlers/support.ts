import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { GetFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import { vi } from 'vitest';
import { BUNDLED_ROUTES_FILE } from '../../../functions/shared/deployment';
import { resolveRouteFile } from '../../../functions/shared/routes/load';
import { adapterFor } from '../../../functions/vendors/registry';
import { StackOutput } from '../../../lib/stack-outputs';
import type { AwsClients } from '../../../local/aws';
import { FAKE_SIGNATURE, s3NotificationBody } from '../../support/fakes';
import { scratchDir } from '../../support/scratch';
import type { EmbeddedStack } from '../../support/stack';
import type { UploadTargetServer } from '../../support/upload-target';

/** One call the fake Inspect API received. */
export interface ApiCall {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
  readonly body: unknown;
}

export interface FakeInspectApi {
  readonly url: string;
  readonly calls: readonly ApiCall[];
  close(): Promise<void>;
}

/**
 * A loopback stand-in for the Inspect upload API (presign → 201 with a URL on the upload target,
 * complete → 200), checking the bearer token.
 */
export async function startFakeInspectApi(
  target: UploadTargetServer,
  token: string,
): Promise<FakeInspectApi> {
  const calls: ApiCall[] = [];
  let files = 0;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      text += chunk;
    });
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://api.invalid').pathname;
      const body: unknown = text ? JSON.parse(text) : undefined;
      calls.push({ method: req.method ?? '', path, authorization: req.headers.authorization, body });
      const answer = (status: number, json: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      if (req.headers.authorization !== `Bearer ${token}`) return answer(401, { error: 'UNAUTHORIZED' });
      if (req.method === 'POST' && path === '/api/inspect/v1/file/upload/presigned') {
        files++;
        const id = `file-${files}`;
        const presignedURL = target.urlFor(`/inspect-bucket/${id}`, { 'X-Amz-Signature': FAKE_SIGNATURE });
        return answer(201, { data: { presignedURL, id } });
      }
      if (req.method === 'POST' && path === '/api/inspect/v1/file/upload/complete') return answer(200, {});
      return answer(404, { error: 'NOT_FOUND' });
    });
  };
  const server = http.createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Queue URL and ARN. */
export interface QueueRef {
  readonly url: string;
  readonly arn: string;
}

/** Receives what is on a queue now and shapes it as Lambda's SQS event source would. */
export async function receiveRecords(aws: AwsClients, queue: QueueRef): Promise<SQSRecord[]> {
  const out = await aws.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queue.url,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 1,
      MessageAttributeNames: ['All'],
      MessageSystemAttributeNames: ['All'],
    }),
  );
  return (out.Messages ?? []).map((m) => {
    const messageAttributes: SQSMessageAttributes = {};
    for (const [name, value] of Object.entries(m.MessageAttributes ?? {})) {
      messageAttributes[name] = { dataType: value.DataType ?? 'String', stringValue: value.StringValue };
    }
    return {
      messageId: m.MessageId ?? '',
      receiptHandle: m.ReceiptHandle ?? '',
      body: m.Body ?? '',
      attributes: {
        ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1',
        SentTimestamp: m.Attributes?.SentTimestamp ?? '0',
        SenderId: m.Attributes?.SenderId ?? '',
        ApproximateFirstReceiveTimestamp: m.Attributes?.ApproximateFirstReceiveTimestamp ?? '0',
      },
      messageAttributes,
      md5OfBody: m.MD5OfBody ?? '',
      eventSource: 'aws:sqs',
      eventSourceARN: queue.arn,
      awsRegion: aws.region,
    };
  });
}

/** Deletes the records a handler did not report as failed, as Lambda's event source mapping does. */
export async function acknowledge(
  aws: AwsClients,
  queue: QueueRef,
  records: readonly SQSRecord[],
  response?: SQSBatchResponse,
): Promise<void> {
  const failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
  const done = records.filter((r) => !failed.has(r.messageId));
  if (done.length === 0) return;
  await aws.sqs.send(
    new DeleteMessageBatchCommand({
      QueueUrl: queue.url,
      Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
    }),
  );
}

/** A Lambda context with `remainingMs` left. */
export function lambdaContext(functionName: string, remainingMs = 30_000): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2024/01/01/[$LATEST]test',
    getRemainingTimeInMillis: () => remainingMs,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * A task root holding the routes document a deployed function gets (its packaged routes.json): an
 * Inspect route uploading to the loopback target, and one whose secret was never created. Their
 * prefixes are outside every route of the embedded stack, so the bucket sends no notification of
 * its own for them: the tests deliver each notification by hand.
 */
export function taskRootWithRoutes(input: {
  apiUrl: string;
  target: UploadTargetServer;
  secretId: string;
}): string {
  const inspect = (id: string, prefix: string, secretId: string) => ({
    id,
    prefix,
    vendor: 'inspect',
    secretId,
    baseUrl: input.apiUrl,
    uploadHostAllowList: [input.target.hostPattern],
  });
  const doc = resolveRouteFile(
    {
      routes: [
        inspect('inspect-photos', 'handler-test/photos/{assetId}/', input.secretId),
        inspect('inspect-no-secret', 'handler-test/no-secret/{assetId}/', `${input.secretId}-never-created`),
      ],
      stages: { test: { allowLoopbackHttp: true } },
    },
    'test',
    adapterFor,
  );
  const dir = scratchDir('task-root-');
  writeFileSync(path.join(dir, BUNDLED_ROUTES_FILE), JSON.stringify(doc));
  return dir;
}

/** The embedded stack's resources one handler test uses, and a fresh vendor secret. */
export interface MotoPipeline {
  readonly bucket: string;
  readonly tableName: string;
  readonly intake: QueueRef;
  readonly intakeDlq: QueueRef;
  readonly completion: QueueRef;
  readonly completionDlq: QueueRef;
  readonly secretId: string;
  /** The environments the stack gave the two functions. */
  readonly environment: {
    readonly dispatch: Record<string, string>;
    readonly completion: Record<string, string>;
  };
}

/** The deployed stack's bucket, table and queues (inspect-photos intake), and a new secret. */
export async function stackPipeline(stack: EmbeddedStack, secretValue: string): Promise<MotoPipeline> {
  const { resources } = stack.target;
  const intake = resources.intake.find((q) => q.routeId === 'inspect-photos');
  if (!intake) throw new Error('the local stage has no inspect-photos route');
  // S3 sent each intake queue an s3:TestEvent when the stack configured its notifications.
  await acknowledge(stack.aws, { url: intake.url, arn: intake.arn }, await receiveRecords(stack.aws, intake));
  const secretId = `vendor-ingest/inspect-${randomUUID().slice(0, 8)}`;
  await stack.aws.secrets.send(new CreateSecretCommand({ Name: secretId, SecretString: secretValue }));
  const environmentOf = async (output: string) => {
    const config = await stack.aws.lambda.send(
      new GetFunctionConfigurationCommand({ FunctionName: stack.deployed.outputs[output] }),
    );
    return config.Environment?.Variables ?? {};
  };
  return {
    bucket: resources.bucket,
    tableName: resources.stateTable,
    intake: { url: intake.url, arn: intake.arn },
    intakeDlq: { url: intake.dlqUrl, arn: intake.dlqArn },
    completion: { url: resources.completion.url, arn: resources.completion.arn },
    completionDlq: { url: resources.completion.dlqUrl, arn: resources.completion.dlqArn },
    secretId,
    environment: {
      dispatch: await environmentOf(StackOutput.DispatchFunctionName),
      completion: await environmentOf(StackOutput.CompletionFunctionName),
    },
  };
}

/** Puts an object in moto and sends its S3 notification to the intake queue; returns its ETag. */
export async function dropFile(
  moto: EmbeddedStack,
  pipeline: MotoPipeline,
  key: string,
  body: Buffer,
  contentType: string,
): Promise<string> {
  const put = await moto.aws.s3.send(
    new PutObjectCommand({ Bucket: pipeline.bucket, Key: key, Body: body, ContentType: contentType }),
  );
  const eTag = (put.ETag ?? '').replaceAll('"', '');
  await moto.aws.sqs.send(
    new SendMessageCommand({
      QueueUrl: pipeline.intake.url,
      MessageBody: s3NotificationBody([{ bucket: pipeline.bucket, key, size: body.length, eTag }]),
    }),
  );
  return eTag;
}

/** Captures what is written to stdout and stderr until `restore`. */
export function captureOutput(): { stdout: () => string; stderr: () => string; restore: () => void } {
  const out: string[] = [];
  const err: string[] = [];
  const toText = (chunk: unknown): string =>
    typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
    out.push(toText(chunk));
    return true;
  });
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => {
    err.push(toText(chunk));
    return true;
  });
  return {
    stdout: () => out.join(''),
    stderr: () => err.join(''),
    restore: () => {
      stdout.mockRestore();
      stderr.mockRestore();
    },
  };
}

/** JSON lines of a captured stream (other lines skipped). */
export function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}
