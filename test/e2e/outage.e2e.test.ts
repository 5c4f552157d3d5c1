import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { waitingNote } from '../../cli/operations';
import { nextUtcMidnight } from '../../functions/shared/state/dynamo-token-cache';
import { clearTaxTokenKey } from '../../functions/vendors/cleartax-common/auth';
import { LOCAL_CREDENTIALS } from '../../local/aws';
import { scratchDir } from '../support/scratch';
import { calls, catalogCsv, dlqFor, functionLog, invoiceCsv, waitFor, waitForDlq } from './support/faults';
import { assertInvariant, type Dropped, FAST, sha256Hex, useLocalPipeline } from './support/harness';

/**
 * Vendor outages, auth failures and object identity on the deployed stack (issue: outages end without
 * an operator). The horizon is compressed: files wait out a vendor for 90 s here instead of 24 h.
 */

const OUTAGE = {
  ...FAST,
  outage: { horizonHours: 90 / 3600, failureThreshold: 3, probeIntervalSeconds: 2, waitSeconds: 2 },
  stallTimeoutSeconds: 2,
};
const outage = useLocalPipeline({ overrides: OUTAGE });
const auth = useLocalPipeline({ overrides: OUTAGE });

/** EMF metric values the functions published for `metric` and `vendor`, in order. */
function emitted(e2e: typeof outage, metric: string, vendor: string): number[] {
  return functionLog(e2e)
    .filter(
      (entry) => entry._aws !== undefined && entry.Vendor === vendor && typeof entry[metric] === 'number',
    )
    .map((entry) => entry[metric] as number);
}

async function breaker(e2e: typeof outage, key: string) {
  return (await e2e.target.ledger.listBreakers()).find((b) => b.accountKey === key);
}

describe('a vendor outage longer than the retry window', () => {
  it('opens the breaker, keeps the files waiting without vendor calls, then delivers each exactly once with nothing in a DLQ', async () => {
    const e2e = outage;
    const sandbox = e2e.pipeline.sandbox;
    sandbox.faults.inject({
      vendor: 'cleartax-gst',
      operation: 'presign',
      times: 100_000,
      action: { kind: 'status', status: 503 },
    });
    const files: Dropped[] = [];
    for (let i = 0; i < 3; i++) {
      files.push(await e2e.drop('cleartax/sales/', `outage-${i}.csv`, invoiceCsv(4, `o${i}`)));
      files.push(await e2e.drop('cleartax/purchase/', `outage-p${i}.csv`, invoiceCsv(4, `op${i}`)));
    }
    const key = 'cleartax-gst:vendor-ingest/cleartax';
    const opened = await waitFor('the breaker to open', async () => {
      const b = await breaker(e2e, key);
      return b?.state === 'open' ? b : undefined;
    });
    const outageStarted = Date.now();
    // Longer than the queue's own retry window (3 receives × at most 2 s here).
    await new Promise((r) => setTimeout(r, 20_000));
    // A file that is the breaker's probe right now holds the lease, which clears its note until the
    // breaker next refuses it (a wake-up later): read until it shows.
    const { waiting, note } = await waitFor(
      'the first file to show what it waits for',
      async () => {
        const found = await e2e.pipeline.ledger.listByKey(e2e.pipeline.resources.bucket, files[0]?.key ?? '');
        const shown = found[0] ? waitingNote(found[0], await e2e.target.ledger.listBreakers()) : undefined;
        return shown ? { waiting: found, note: shown } : undefined;
      },
      15_000,
    );
    const presignsDuringOutage = calls(e2e, { vendor: 'cleartax-gst', operation: 'presign' }).length;
    sandbox.faults.clear();
    const outageSeconds = (Date.now() - outageStarted) / 1000;

    const settled = await e2e.settle(
      files.map((f) => f.key),
      120_000,
    );

    expect(opened).toMatchObject({ vendor: 'cleartax-gst', reason: 'consecutive vendor failures' });
    expect(waiting[0]?.state).not.toBe('FAILED');
    expect(note).toMatch(/^waiting for cleartax-gst \(down since \d{4}-/);
    for (const file of files) expect(settled.get(file.key)?.state, file.key).toBe('COMPLETED');
    for (const file of files) expect(await dlqFor(e2e, file.key), file.key).toEqual([]);
    // The stated bound: the threshold, what was already in flight when it opened (one per intake
    // poller), and one probe per probe interval while open.
    const inFlight = 2 * (OUTAGE.dispatch?.maxConcurrency ?? 4);
    const probes = Math.ceil((outageSeconds + 5) / OUTAGE.outage.probeIntervalSeconds) + 1;
    expect(presignsDuringOutage).toBeLessThanOrEqual(OUTAGE.outage.failureThreshold + inFlight + probes);
    const flags = emitted(e2e, 'VendorUnavailable', 'cleartax-gst');
    expect(flags[0]).toBe(1);
    expect(flags.at(-1)).toBe(0);
    expect((await breaker(e2e, key))?.state).toBe('closed');
    await assertInvariant(e2e, files);
  });

  it('still parks a message that crashes the function on every receive, after maxReceiveCount', async () => {
    const e2e = outage;
    e2e.armFailpoint({ point: 'dispatch:after-upload', keyContains: 'crash-loop' });
    const file = await e2e.drop(
      'inspect/0b4cf1d2-6a8e-4f3a-9c1b-7d2e5f8a9b10/',
      'crash-loop.jpg',
      `x${randomUUID()}`,
      {
        expectFailure: true,
      },
    );
    try {
      const parked = await waitForDlq(e2e, file.key, 60_000);
      // The receives are spent by crashes (and the lease the dead worker left, LEASE_HELD): parked by
      // the redrive policy, or on the last receive with its code; never waiting for ever.
      expect(parked.map((m) => m.queue)).toEqual([expect.stringContaining('intake')]);
      expect(parked[0]?.errorCode).not.toMatch(/^VENDOR_/);
    } finally {
      e2e.clearFailpoints();
    }
    const uploads = e2e.pipeline.sandbox.log.uploads({ vendor: 'inspect', fileName: file.fileName });
    expect(uploads.length).toBeGreaterThanOrEqual(1);
    expect(uploads.length).toBeLessThanOrEqual(OUTAGE.dispatch?.maxReceiveCount ?? 3);
  });

  it('aborts an upload whose bytes stop flowing and retries it, instead of hanging until the deadline', async () => {
    const e2e = outage;
    const file = await e2e.drop('clevertap/1001/', 'stalls.csv', catalogCsv(20, 'stall'));
    e2e.pipeline.sandbox.faults.inject({
      vendor: 'clevertap-catalog',
      operation: 'upload',
      times: 1,
      match: { fileName: file.fileName },
      action: { kind: 'hang' },
    });

    const settled = await e2e.settle([file.key], 60_000);

    expect(settled.get(file.key)?.state).toBe('COMPLETED');
    const uploads = calls(e2e, { vendor: 'clevertap-catalog', operation: 'upload', fileName: file.fileName });
    expect(uploads.map((u) => u.fault ?? u.status)).toEqual(['hang', 200]);
    await assertInvariant(e2e, [file]);
  });
});

describe('one object version is one delivery', () => {
  it('delivers a file put with the SDK’s multipart upload once, though S3 announces it twice', async () => {
    const e2e = outage;
    const { s3 } = e2e.pipeline.clients;
    const bucket = e2e.pipeline.resources.bucket;
    const body = Buffer.from(catalogCsv(320_000, 'mp'));
    expect(body.length).toBeGreaterThan(5 * 1024 * 1024);
    const key = `clevertap/1002/multipart-sdk-${randomUUID().slice(0, 8)}.csv`;
    const created = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: 'text/csv' }),
    );
    const split = 5 * 1024 * 1024;
    const parts = [];
    for (const [n, chunk] of [body.subarray(0, split), body.subarray(split)].entries()) {
      const out = await s3.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId: created.UploadId,
          PartNumber: n + 1,
          Body: chunk,
        }),
      );
      parts.push({ PartNumber: n + 1, ETag: out.ETag });
    }
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: created.UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
    const file: Dropped = {
      key,
      fileName: path.posix.basename(key),
      bytes: body.length,
      sha256Hex: sha256Hex(body),
      expectFailure: false,
    };
    e2e.dropped.push(file);

    const settled = await e2e.settle([key], 90_000);
    // Both notifications have been handled by now or are duplicates the ledger answers "done".
    await new Promise((r) => setTimeout(r, 3000));

    const versions = await e2e.pipeline.ledger.listByKey(bucket, key);
    expect(versions.map((v) => v.versionId)).toEqual([done.VersionId]);
    expect(settled.get(key)?.state).toBe('COMPLETED');
    expect(e2e.pipeline.sandbox.log.completions('clevertap-catalog', file.fileName)).toHaveLength(1);
    await assertInvariant(e2e, [file]);
  });

  it('delivers a file over 8 MB copied with the AWS CLI (a multipart upload) once', async () => {
    const e2e = outage;
    const aws = awsCli();
    const dir = scratchDir('aws-cli-');
    try {
      const body = Buffer.from(catalogCsv(480_000, 'cli'));
      expect(body.length).toBeGreaterThan(8 * 1024 * 1024);
      const name = `multipart-cli-${randomUUID().slice(0, 8)}.csv`;
      const local = path.join(dir, name);
      writeFileSync(local, body);
      const key = `clevertap/1001/${name}`;
      execFileSync(
        aws,
        [
          's3',
          'cp',
          local,
          `s3://${e2e.pipeline.resources.bucket}/${key}`,
          '--endpoint-url',
          e2e.pipeline.endpoint,
          '--region',
          e2e.pipeline.clients.region,
          '--content-type',
          'text/csv',
          '--only-show-errors',
        ],
        {
          env: {
            ...process.env,
            AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
            AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
            AWS_CONFIG_FILE: '/dev/null',
            AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
          },
          timeout: 60_000,
        },
      );
      const file: Dropped = {
        key,
        fileName: name,
        bytes: body.length,
        sha256Hex: sha256Hex(body),
        expectFailure: false,
      };
      e2e.dropped.push(file);

      const settled = await e2e.settle([key], 90_000);
      await new Promise((r) => setTimeout(r, 3000));

      expect(settled.get(key)?.state).toBe('COMPLETED');
      expect(await e2e.pipeline.ledger.listByKey(e2e.pipeline.resources.bucket, key)).toHaveLength(1);
      expect(e2e.pipeline.sandbox.log.completions('clevertap-catalog', name)).toHaveLength(1);
      await assertInvariant(e2e, [file]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('auth failures end instead of being retried as an outage', () => {
  const GST_401 = {
    kind: 'status',
    status: 401,
    // As seen from a stricter endpoint: a 401 whose body says INTERNAL_ERROR.
    body: {
      status: null,
      preSignedS3Url: null,
      errorCode: 'INTERNAL_ERROR',
      errorMessage: 'Invalid Auth Token',
    },
  } as const;

  it('ClearTax: a 401 re-mints once, a 401 on the fresh token is a permanent AUTH_FAILED, and both flows stop minting', async () => {
    const e2e = auth;
    const sandbox = e2e.pipeline.sandbox;
    // Warm the shared token first, so the refusal meets a cached token.
    const warm = await e2e.drop('cleartax/sales/', 'warm.csv', invoiceCsv(2, 'warm'));
    await e2e.settle([warm.key]);
    const mintsBefore = calls(e2e, { vendor: 'cleartax-gst', operation: 'token' }).length;
    const refused = await e2e.drop('cleartax/sales/', 'refused.csv', invoiceCsv(2, 'refused'), {
      expectFailure: true,
    });
    sandbox.faults.inject({
      vendor: 'cleartax-gst',
      operation: 'presign',
      times: 2,
      match: { fileName: refused.fileName },
      action: GST_401,
    });

    const parked = await waitForDlq(e2e, refused.key, 60_000);
    const one = await e2e.drop('cleartax-one/sales/', 'after.csv', invoiceCsv(2, 'after'), {
      expectFailure: true,
    });
    const parkedOne = await waitForDlq(e2e, one.key, 60_000);

    expect(parked.map((m) => [m.errorCode, m.retryable])).toEqual([['AUTH_FAILED', 'false']]);
    expect(
      calls(e2e, { vendor: 'cleartax-gst', operation: 'presign', fileName: refused.fileName }),
    ).toHaveLength(2);
    expect(calls(e2e, { vendor: 'cleartax-gst', operation: 'token' }).length - mintsBefore).toBe(1);
    // The other ClearTax flow shares the credentials: refused without a mint. A sandbox that holds
    // its own copy of the refused token (warm from an earlier file) learns of the refusal from the
    // vendor's 401 on its next call, so at most one call; a sandbox without one makes none.
    expect(parkedOne.map((m) => [m.errorCode, m.retryable])).toEqual([['AUTH_FAILED', 'false']]);
    expect(
      calls(e2e, { vendor: 'cleartax-one', operation: 'presign', fileName: one.fileName }).length,
    ).toBeLessThanOrEqual(1);
    expect(calls(e2e, { vendor: 'cleartax-gst', operation: 'token' }).length - mintsBefore).toBe(1);
    const [record] = await e2e.pipeline.ledger.listByKey(e2e.pipeline.resources.bucket, refused.key);
    expect(record).toMatchObject({ state: 'FAILED', reason: 'AUTH_FAILED' });
    // The re-mint was counted for the day and published.
    expect(emitted(e2e, 'TokenMintsToday', 'cleartax').at(-1)).toBeGreaterThanOrEqual(2);
    await assertInvariant(e2e, [warm, refused, one]);
  });

  it.each([
    [
      'clevertap-catalog',
      'clevertap/1001/',
      'refused.csv',
      { status: 'fail', code: 'INTERNAL_ERROR', error: 'bad token' },
    ],
    [
      'inspect',
      'inspect/0b4cf1d2-6a8e-4f3a-9c1b-7d2e5f8a9b10/',
      'refused.jpg',
      { error: 'unauthorized', errorDescription: 'bad token' },
    ],
  ] as const)(
    '%s: a 401 is a permanent AUTH_FAILED whatever its body, after one call',
    async (vendor, prefix, name, body) => {
      const e2e = auth;
      const content = name.endsWith('.jpg') ? `jpeg-${randomUUID()}` : catalogCsv(3, 'auth');
      const file = await e2e.drop(prefix, name, content, { expectFailure: true });
      e2e.pipeline.sandbox.faults.inject({
        vendor,
        operation: 'presign',
        times: 5,
        match: { fileName: file.fileName },
        action: { kind: 'status', status: 401, body },
      });

      const parked = await waitForDlq(e2e, file.key, 60_000);

      expect(parked.map((m) => [m.errorCode, m.retryable])).toEqual([['AUTH_FAILED', 'false']]);
      expect(calls(e2e, { vendor, operation: 'presign', fileName: file.fileName })).toHaveLength(1);
      await assertInvariant(e2e, [file]);
    },
  );
});

describe('the token mint budget', () => {
  it('at the daily limit mints no more: deliveries wait, the breaker opens until the next UTC day, nothing is parked', async () => {
    const e2e = outage;
    const doc = e2e.pipeline.clients.doc;
    const table = e2e.pipeline.resources.stateTable;
    const tokenKey = clearTaxTokenKey(e2e.pipeline.sandbox.url, 'sandbox-cleartax-client-secret');
    const day = new Date().toISOString().slice(0, 10);
    // Spend the day's budget, as 288 mints would have.
    await doc.send(
      new UpdateCommand({
        TableName: table,
        Key: { pk: `mints#${tokenKey}`, sk: day },
        UpdateExpression: 'SET mints = :n',
        ExpressionAttributeValues: { ':n': 288 },
      }),
    );
    const file = await e2e.drop('cleartax-one/sales/', 'budget.csv', invoiceCsv(2, 'budget'));
    // The cached token is refused: a fresh one would need a mint the budget no longer allows.
    e2e.pipeline.sandbox.faults.inject({
      vendor: 'cleartax-one',
      operation: 'presign',
      times: 1,
      match: { fileName: file.fileName },
      action: { kind: 'status', status: 401, body: 'UNAUTHORIZED' },
    });

    const open = await waitFor('the cleartax-one breaker to open for the budget', async () => {
      const b = await breaker(e2e, 'cleartax-one:vendor-ingest/cleartax-one');
      return b?.state === 'open' ? b : undefined;
    });
    await new Promise((r) => setTimeout(r, 4000));

    expect(open).toMatchObject({ reason: 'token mint budget spent', openUntil: nextUtcMidnight(Date.now()) });
    expect(await dlqFor(e2e, file.key)).toEqual([]);
    const [record] = await e2e.pipeline.ledger.listByKey(e2e.pipeline.resources.bucket, file.key);
    expect(record?.state).not.toBe('FAILED');
    const counter = await doc.send(
      new GetCommand({ TableName: table, Key: { pk: `mints#${tokenKey}`, sk: day } }),
    );
    expect(counter.Item?.mints).toBe(288);
    // Settled only tomorrow: leave it out of later invariant checks.
    e2e.dropped.splice(e2e.dropped.indexOf(file), 1);
  });
});

/** The AWS CLI: on PATH, or under pyenv's shims (on this machine kind pyenv's Python carries it). */
function awsCli(): string {
  const candidates = [
    ...(process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'aws')),
    path.join(process.env.PYENV_ROOT ?? path.join(os.homedir(), '.pyenv'), 'shims', 'aws'),
  ];
  const found = candidates.find((candidate) => candidate && existsSync(candidate));
  if (!found)
    throw new Error(
      'the AWS CLI is needed for this test: `apt-get install awscli` (or `pip install awscli`)',
    );
  return found;
}
