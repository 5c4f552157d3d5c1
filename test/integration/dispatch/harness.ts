import { S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { LedgerAdmin } from '../../../cli/ledger-admin';
import { type DispatchDeps, dispatchMessage } from '../../../functions/dispatch/dispatch';
import type { InvocationInfo } from '../../../functions/shared/invocation';
import type { RecordContext } from '../../../functions/shared/queue/sqs-batch';
import type { ResolvedRoute } from '../../../functions/shared/routes/schema';
import { DeliveryLedger } from '../../../functions/shared/state/ledger';
import {
  anInvocation,
  COMPLETION_DLQ_URL,
  COMPLETION_QUEUE_URL,
  FakeS3Objects,
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
  TEST_REGION,
  type TestClock,
  testClock,
  testGuard,
  testRoute,
  testRoutes,
} from '../../support/fakes';
import { useEmbeddedStack } from '../../support/stack';
import { startUploadTarget, type UploadTargetServer } from '../../support/upload-target';

export const SECRET_ID = 'vendor-ingest/fake';
export const API_KEY = 'fake-api-key-0123456789abcdef';
export const ROUTE_ID = 'fake-reports';
export const PREFIX = 'fake/reports/';

export const firstReceive: RecordContext = receive();

export interface DispatchWorld {
  readonly deps: DispatchDeps;
  readonly vendor: FakeVendor;
  readonly vendors: FakeVendorRuntime;
  readonly objects: FakeS3Objects;
  readonly ledger: DeliveryLedger;
  /** The operator's view of the same ledger (listings). */
  readonly admin: LedgerAdmin;
  readonly clock: TestClock;
  readonly log: RecordingLogger;
  readonly metrics: RecordingMetrics;
  readonly announcer: RecordingAnnouncer;
  /** Runs the dispatch core on one record, as a fresh invocation unless one is given. */
  run(record: SQSRecord, ctx?: RecordContext, invocation?: InvocationInfo): Promise<void>;
}

/**
 * Dispatch under test: S3 and SQS through aws-sdk-client-mock, the ledger on this file's moto, uploads
 * to a loopback target, the vendor a {@link FakeVendor} on route `fake/reports/`.
 */
export function useDispatchHarness() {
  const moto = useEmbeddedStack();
  const s3 = new S3Client({ region: TEST_REGION });
  const sqs = new SQSClient({ region: TEST_REGION });
  // These instances only: the embedded stack's own deploy and ledger calls go to moto.
  const s3Mock = mockClient(s3);
  const sqsMock = mockClient(sqs);
  const shared = {} as { target: UploadTargetServer; tableName: string };

  beforeAll(async () => {
    shared.target = await startUploadTarget();
    shared.tableName = moto.target.resources.stateTable;
  });
  afterAll(async () => {
    await shared.target?.close();
    s3Mock.restore();
    sqsMock.restore();
  });
  // Every GetObject body a dispatch opened is read to its end or destroyed, on every path.
  const opened: FakeS3Objects[] = [];
  afterEach(() => {
    const open = opened.flatMap((objects) => objects.openBodies());
    opened.length = 0;
    expect(open, 'GetObject bodies left open (a leaked socket against S3)').toHaveLength(0);
  });
  beforeEach(() => {
    s3Mock.reset();
    sqsMock.reset();
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'sent-1' });
    shared.target.resetStats();
  });

  function world(
    options: Partial<FakeVendorOptions> & {
      failpoint?: DispatchDeps['failpoint'];
      /** Dispatch calls the vendor's completion itself (the stage default); off: it enqueues. */
      completeInline?: boolean;
      /** Invocation time a completion at once needs, ms (default: none). */
      completeInlineMinMs?: number;
      /** Route settings over the test route's. */
      route?: Partial<ResolvedRoute>;
    } = {},
  ) {
    const { failpoint, completeInline = false, completeInlineMinMs, route, ...vendorOptions } = options;
    const vendor = new FakeVendor({ target: shared.target, ...vendorOptions });
    const vendors = fakeVendorRuntime({
      adapters: [vendor.adapter],
      secrets: { [SECRET_ID]: fakeSecret(API_KEY) },
    });
    const objects = new FakeS3Objects(s3Mock).install();
    opened.push(objects);
    const clock = testClock();
    const ledger = new DeliveryLedger({ doc: moto.aws.doc, tableName: shared.tableName, now: clock.now });
    const admin = new LedgerAdmin({ doc: moto.aws.doc, tableName: shared.tableName, now: clock.now });
    const log = new RecordingLogger();
    const metrics = new RecordingMetrics();
    const announcer = new RecordingAnnouncer();
    const deps: DispatchDeps = {
      s3,
      sqs,
      ledger,
      routes: testRoutes(
        testRoute(shared.target, {
          id: ROUTE_ID,
          prefix: PREFIX,
          vendor: vendor.name,
          secretId: SECRET_ID,
          ...route,
        }),
      ),
      vendors,
      completionQueueUrl: COMPLETION_QUEUE_URL,
      completionDlqUrl: COMPLETION_DLQ_URL,
      metrics,
      guard: testGuard(moto.aws.doc, shared.tableName, metrics),
      announcer,
      attentionAfterMs: 3_600_000,
      statusFirstDelaySeconds: 60,
      statusMaxSeconds: 3600,
      completeInline,
      ...(completeInlineMinMs === undefined ? {} : { completeInlineMinMs }),
      failpoint: failpoint ?? noFailpoints,
    };
    const run = (record: SQSRecord, ctx = firstReceive, invocation: InvocationInfo = anInvocation()) =>
      dispatchMessage(deps, record, ctx, invocation, log);
    return {
      deps,
      vendor,
      vendors,
      objects,
      ledger,
      admin,
      clock,
      log,
      metrics,
      announcer,
      run,
    } satisfies DispatchWorld;
  }

  return {
    moto,
    s3Mock,
    sqsMock,
    get target(): UploadTargetServer {
      return shared.target;
    },
    get tableName(): string {
      return shared.tableName;
    },
    world,
    /** Bodies of the completion messages sent so far. */
    sentBodies(): string[] {
      return sqsMock.commandCalls(SendMessageCommand).map((c) => c.args[0].input.MessageBody ?? '');
    },
  };
}

let keys = 0;
/** A key under the test route, unique in this process. */
export function uniqueKey(name = 'march.csv'): string {
  keys++;
  return `${PREFIX}t${keys}-${Date.now().toString(36)}/${name}`;
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
