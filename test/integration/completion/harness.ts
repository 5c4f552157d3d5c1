import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { LedgerAdmin } from '../../../cli/ledger-admin';
import { type CompletionDeps, completionMessage } from '../../../functions/completion/completion';
import type { FailpointHook } from '../../../functions/shared/failpoints';
import type { InvocationInfo } from '../../../functions/shared/invocation';
import type { CompletionMessageV1 } from '../../../functions/shared/messages';
import type { RecordContext } from '../../../functions/shared/queue/sqs-batch';
import type { ResolvedRoute } from '../../../functions/shared/routes/schema';
import { DynamoBreakers } from '../../../functions/shared/state/breaker';
import { type DeliveryKey, DeliveryLedger, deliveryKeyOf } from '../../../functions/shared/state/ledger';
import {
  aCompletionMessage,
  anInvocation,
  COMPLETION_QUEUE_URL,
  completionRecord,
  FakeVendor,
  type FakeVendorOptions,
  type FakeVendorRuntime,
  fakeSecret,
  fakeVendorRuntime,
  noFailpoints,
  RecordingAnnouncer,
  RecordingLogger,
  RecordingMetrics,
  receive,
  TEST_BUCKET,
  TEST_REGION,
  type TestClock,
  testClock,
  testGuard,
  testRoute,
  testRoutes,
} from '../../support/fakes';
import { useEmbeddedStack } from '../../support/stack';

export const SECRET_ID = 'vendor-ingest/fake';
export const ROUTE_ID = 'fake-reports';
export const PREFIX = 'fake/reports/';
/** Lease of every simulated completion invocation. */
export const LEASE_MS = 30_000;
/** First status check delay of the completion deps. */
export const FIRST_STATUS_DELAY = 30;

export const firstReceive: RecordContext = receive();

export interface WorldOptions extends Partial<Omit<FakeVendorOptions, 'target'>> {
  readonly failpoint?: FailpointHook;
  readonly route?: Partial<ResolvedRoute>;
  readonly statusMaxSeconds?: number;
}

/** An uploaded delivery waiting for its completion. */
export interface Uploaded {
  readonly key: DeliveryKey;
  readonly message: CompletionMessageV1;
  readonly record: SQSRecord;
}

/**
 * The completion core under test: the ledger on this file's moto, SQS through aws-sdk-client-mock,
 * the vendor a {@link FakeVendor} on route `fake/reports/`.
 */
export function useCompletionHarness() {
  const moto = useEmbeddedStack();
  const sqs = new SQSClient({ region: TEST_REGION });
  // This instance only: the embedded stack's own deploy and ledger calls go to moto.
  const sqsMock = mockClient(sqs);
  // The vendor's error file is copied here (tests of that read what was put).
  const s3 = new S3Client({ region: TEST_REGION });
  const s3Mock = mockClient(s3);
  const shared = { tableName: '' };

  beforeAll(async () => {
    shared.tableName = moto.target.resources.stateTable;
  });
  afterAll(() => {
    sqsMock.restore();
    s3Mock.restore();
  });
  beforeEach(() => {
    sqsMock.reset();
    s3Mock.reset();
    s3Mock.on(PutObjectCommand).resolves({});
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'sent-1' });
  });

  let n = 0;

  function world(options: WorldOptions = {}) {
    const { failpoint, route, statusMaxSeconds, ...vendorOptions } = options;
    const vendor = new FakeVendor(vendorOptions);
    const vendors: FakeVendorRuntime = fakeVendorRuntime({
      adapters: [vendor.adapter],
      secrets: { [SECRET_ID]: fakeSecret('fake-api-key-0123456789abcdef') },
    });
    const clock: TestClock = testClock();
    const ledger = new DeliveryLedger({ doc: moto.aws.doc, tableName: shared.tableName, now: clock.now });
    const log = new RecordingLogger();
    const metrics = new RecordingMetrics();
    const announcer = new RecordingAnnouncer();
    const deps: CompletionDeps = {
      sqs,
      ledger,
      routes: testRoutes(
        testRoute(
          { hostPattern: 'uploads.example.com' },
          { id: ROUTE_ID, prefix: PREFIX, vendor: vendor.name, secretId: SECRET_ID, ...route },
        ),
      ),
      vendors,
      completionQueueUrl: COMPLETION_QUEUE_URL,
      metrics,
      guard: testGuard(moto.aws.doc, shared.tableName, metrics),
      announcer,
      attentionAfterMs: 3_600_000,
      s3,
      errorFileMaxBytes: 1024 * 1024,
      failpoint: failpoint ?? noFailpoints,
      statusFirstDelaySeconds: FIRST_STATUS_DELAY,
      statusMaxSeconds: statusMaxSeconds ?? 3600,
    };

    /** Runs the completion core on one record, as a fresh invocation unless one is given. */
    const run = (
      record: SQSRecord,
      ctx: RecordContext = firstReceive,
      invocation: InvocationInfo = anInvocation(LEASE_MS),
    ) => completionMessage(deps, record, ctx, invocation, log);

    /** Puts a delivery in the ledger as dispatch leaves it (UPLOADED, message enqueued) and returns its message. */
    const uploaded = async (): Promise<Uploaded> => {
      n++;
      const object = {
        bucket: TEST_BUCKET,
        key: `${PREFIX}c${n}-${Date.now().toString(36)}/ledger.csv`,
        versionId: `v-${n}`,
        eTag: `etag-${n}`,
        size: 1234,
      };
      const message = aCompletionMessage(object, { routeId: ROUTE_ID, vendor: vendor.name });
      const key = deliveryKeyOf(object);
      await ledger.beginDispatch({
        object,
        routeId: ROUTE_ID,
        vendor: vendor.name,
        owner: 'dispatch-worker',
        leaseMs: LEASE_MS,
        redrive: false,
      });
      await ledger.markUploaded(key, 'dispatch-worker', {
        refs: message.refs,
        completionMessage: JSON.stringify(message),
      });
      return { key, message, record: completionRecord(message) };
    };

    return { deps, vendor, vendors, ledger, clock, log, metrics, announcer, run, uploaded };
  }

  return {
    sqsMock,
    s3Mock,
    world,
    /** The vendor accounts' breakers on this file's table, as a test drives them (read fresh each time). */
    breakers(): DynamoBreakers {
      return new DynamoBreakers({
        doc: moto.aws.doc,
        tableName: shared.tableName,
        failureThreshold: 1,
        probeIntervalMs: 60_000,
        cacheMs: 0,
      });
    },
    /** The operator's view of the same table (listings). */
    admin(): LedgerAdmin {
      return new LedgerAdmin({ doc: moto.aws.doc, tableName: shared.tableName });
    },
    /** SendMessage inputs so far. */
    sent() {
      return sqsMock.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    },
  };
}

/** Awaits a promise expected to reject and returns what it rejected with. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}
