import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { LedgerAdmin } from '../../../cli/ledger-admin';
import { Env } from '../../../functions/shared/env';
import { CompletionMessageV1Schema } from '../../../functions/shared/messages';
import { DeliveryState } from '../../../functions/shared/state/ledger';
import { stubEnvironment } from '../../support/environment';
import { FAKE_SIGNATURE, sha256Hex, testBytes } from '../../support/fakes';
import { useEmbeddedStack } from '../../support/stack';
import { startUploadTarget, type UploadTargetServer } from '../../support/upload-target';
import {
  acknowledge,
  captureOutput,
  dropFile,
  type FakeInspectApi,
  jsonLines,
  lambdaContext,
  type MotoPipeline,
  receiveRecords,
  stackPipeline,
  startFakeInspectApi,
  taskRootWithRoutes,
} from './support';

const moto = useEmbeddedStack();
const TOKEN = 'inspect-token-DISTINCTIVE-5b7e9d1c';
const ASSET = '3f1c2a4e-8b7d-4c3e-9a1f-2b3c4d5e6f70';

let target: UploadTargetServer;
let api: FakeInspectApi;
let pipeline: MotoPipeline;

beforeAll(async () => {
  target = await startUploadTarget();
  api = await startFakeInspectApi(target, TOKEN);
  pipeline = await stackPipeline(moto, JSON.stringify({ token: TOKEN }));
});
afterAll(async () => {
  await api?.close();
  await target?.close();
});

beforeEach(() => {
  vi.resetModules();
  // What the stack set for the two functions, plus what Lambda's runtime and the local emulation
  // add: region, credentials, the endpoint, and the task root with the packaged routes.
  stubEnvironment({
    ...pipeline.environment.completion,
    ...pipeline.environment.dispatch,
    AWS_REGION: moto.aws.region,
    AWS_ENDPOINT_URL: moto.moto.endpoint,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_SESSION_TOKEN: '',
    [Env.LAMBDA_TASK_ROOT]: taskRootWithRoutes({ apiUrl: api.url, target, secretId: pipeline.secretId }),
    [Env.S3_FORCE_PATH_STYLE]: 'true',
  });
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe('dispatch and completion handlers on moto', () => {
  it.each([
    ['completing at once in the dispatch (the shipped default)', true],
    ['handing the completion to the completion queue', false],
  ])(
    'deliver a dropped file end to end, %s, logging correlation keys and never the secret',
    async (_name, inline) => {
      vi.stubEnv(Env.COMPLETE_INLINE, String(inline));
      const key = `handler-test/photos/${ASSET}/site photo ${inline ? 1 : 2}.png`;
      const data = testBytes(200_000, inline ? 5 : 6);
      const eTag = await dropFile(moto, pipeline, key, data, 'image/png');
      const intakeEvent = { Records: await receiveRecords(moto.aws, pipeline.intake) };
      const dispatch = await import('../../../functions/dispatch/handler');
      const completion = await import('../../../functions/completion/handler');
      const ledger = new LedgerAdmin({ doc: moto.aws.doc, tableName: pipeline.tableName });
      const callsBefore = api.calls.length;
      const requestsBefore = target.requests.length;
      const output = captureOutput();
      let dispatched: SQSBatchResponse;
      let completed: SQSBatchResponse | undefined;
      let completionEvent: SQSEvent;
      try {
        dispatched = await dispatch.handler(intakeEvent, lambdaContext('dispatch'));
        await acknowledge(moto.aws, pipeline.intake, intakeEvent.Records, dispatched);
        completionEvent = { Records: await receiveRecords(moto.aws, pipeline.completion) };
        if (completionEvent.Records.length > 0) {
          completed = await completion.handler(completionEvent, lambdaContext('completion'));
          await acknowledge(moto.aws, pipeline.completion, completionEvent.Records, completed);
        }
      } finally {
        output.restore();
      }

      expect(intakeEvent.Records).toHaveLength(1);
      expect(dispatched).toEqual({ batchItemFailures: [] });
      expect(target.requests.slice(requestsBefore)).toEqual([
        expect.objectContaining({ bytes: data.length, sha256: sha256Hex(data), outcome: 'stored' }),
      ]);
      if (inline) {
        // Inspect has no status check: nothing is left for the completion queue.
        expect(completionEvent.Records).toHaveLength(0);
      } else {
        expect(completionEvent.Records).toHaveLength(1);
        const message = CompletionMessageV1Schema.parse(JSON.parse(completionEvent.Records[0]?.body ?? ''));
        expect(message).toMatchObject({
          routeId: 'inspect-photos',
          vendor: 'inspect',
          object: { key, eTag },
        });
        expect(completed).toEqual({ batchItemFailures: [] });
      }
      const calls = api.calls.slice(callsBefore);
      expect(calls.map((c) => c.path)).toEqual([
        '/api/inspect/v1/file/upload/presigned',
        '/api/inspect/v1/file/upload/complete',
      ]);
      const fileId = (calls[1]?.body as { id?: string } | undefined)?.id;
      expect(fileId).toMatch(/^file-\d+$/);
      const versions = await ledger.listByKey(pipeline.bucket, key);
      expect(versions).toHaveLength(1);
      expect(versions[0]).toMatchObject({ state: DeliveryState.COMPLETED, refs: { fileId } });
      const states = (versions[0]?.history ?? []).map((h) => h.state);
      expect(states).toEqual(
        inline
          ? [DeliveryState.UPLOADING, DeliveryState.COMPLETING, DeliveryState.COMPLETED]
          : [
              DeliveryState.UPLOADING,
              DeliveryState.UPLOADED,
              DeliveryState.COMPLETING,
              DeliveryState.COMPLETED,
            ],
      );

      const lines = jsonLines(output.stdout());
      const uploaded = lines.find((l) => l.message === 'uploaded');
      expect(uploaded).toMatchObject({
        bucket: pipeline.bucket,
        key,
        route: 'inspect-photos',
        vendor: 'inspect',
      });
      const done = lines.find((l) => l.message === 'completed');
      expect(done).toMatchObject({
        bucket: pipeline.bucket,
        key,
        route: 'inspect-photos',
        vendor: 'inspect',
      });
      const everything = output.stdout() + output.stderr();
      expect(everything).not.toContain(TOKEN);
      expect(everything).not.toContain(FAKE_SIGNATURE);
    },
  );

  it.each([
    ['an unrouted file', `elsewhere/${ASSET}.csv`, 'NO_ROUTE'],
    ['a file whose route secret does not exist', `handler-test/no-secret/${ASSET}/a.png`, 'SECRET_NOT_FOUND'],
  ])('parks %s in the intake DLQ with its reason and acknowledges it', async (_name, key, code) => {
    await dropFile(moto, pipeline, key, testBytes(10), 'image/png');
    const event = { Records: await receiveRecords(moto.aws, pipeline.intake) };
    const dispatch = await import('../../../functions/dispatch/handler');
    const ledger = new LedgerAdmin({ doc: moto.aws.doc, tableName: pipeline.tableName });
    const output = captureOutput();
    let result: SQSBatchResponse;
    try {
      result = await dispatch.handler(event, lambdaContext('dispatch'));
      await acknowledge(moto.aws, pipeline.intake, event.Records, result);
    } finally {
      output.restore();
    }

    expect(result).toEqual({ batchItemFailures: [] });
    const parked = await receiveRecords(moto.aws, pipeline.intakeDlq);
    await acknowledge(moto.aws, pipeline.intakeDlq, parked);
    expect(parked).toHaveLength(1);
    expect(parked[0]?.body).toBe(event.Records[0]?.body);
    expect(parked[0]?.messageAttributes.errorCode?.stringValue).toBe(code);
    expect(parked[0]?.messageAttributes.retryable?.stringValue).toBe('false');
    expect(parked[0]?.messageAttributes.sourceQueue?.stringValue).toBe(pipeline.intake.arn);
    expect((await ledger.listByKey(pipeline.bucket, key)).map((v) => [v.state, v.reason])).toEqual([
      [DeliveryState.FAILED, code],
    ]);
  });
});
