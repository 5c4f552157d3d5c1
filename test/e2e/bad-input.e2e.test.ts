import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateSecretCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, describe, expect, it } from 'vitest';
import { type DlqMessage, dlqList, redrive } from '../../cli/operations';
import { PROJECT_ROOT } from '../../local/pipeline';
import {
  assertInvariant,
  type Dropped,
  type E2E,
  FAST,
  s3NotificationBody,
  sha256Hex,
  useLocalPipeline,
} from './support/harness';
import {
  csvBody,
  dlqMessageFor,
  expectDelivered,
  expectRefused,
  functionLog,
  INSPECT_ASSETS,
  jpegBody,
  latestRecord,
  queueDepth,
  sleep,
  unknownLedgerKeys,
  waitFor,
} from './support/inputs';

/**
 * Bad input of every kind reaches the pipeline: each one must end with a reason an operator can read
 * (DLQ attributes, and the ledger when the input names an object), and must not disturb good files
 * flowing at the same time. Awkward but valid keys must simply be delivered.
 */

/** An input sent to the pipeline: an object key, or (no key) a text its DLQ message's subject contains. */
type Input = { readonly key: string } | { readonly marker: string };
const tally = { refused: 0, delivered: 0, lost: [] as string[] };

/**
 * Counts how each input ended, from the pipeline's own records when its file is done: delivered
 * (ledger COMPLETED), refused with a reason (ledger reason and a DLQ message with that code; for
 * inputs without a key, a DLQ message with a code), or lost (anything else).
 */
async function classify(e2e: E2E, inputs: readonly Input[]): Promise<void> {
  if (!e2e.pipeline) return;
  const dlq = await dlqList(e2e.target);
  const coded = (m: DlqMessage) => m.errorCode !== '' && !m.errorCode.startsWith('(none');
  for (const i of inputs) {
    if ('marker' in i) {
      if (dlq.some((m) => m.subject.includes(i.marker) && coded(m))) tally.refused++;
      else tally.lost.push(`body ${i.marker}: no DLQ message with a reason`);
      continue;
    }
    const r = await latestRecord(e2e, i.key);
    if (r?.state === 'COMPLETED') tally.delivered++;
    else if (r?.reason && r.lastError && dlq.some((m) => m.subject === i.key && m.errorCode === r.reason))
      tally.refused++;
    else
      tally.lost.push(
        `${i.key}: ${r ? `${r.state} ${r.reason ?? '(no reason)'}` : 'no ledger entry'}; DLQ: ${dlq
          .filter((m) => m.subject === i.key)
          .map((m) => m.errorCode)
          .join(', ')}`,
      );
  }
}

const refused = async (...checks: Array<Promise<unknown>>) => {
  for (const check of checks) await check;
};
const delivered = async (e2e: E2E, ...files: Dropped[]) => {
  for (const file of files) await expectDelivered(e2e, file);
};

afterAll(() => {
  console.log(
    `bad input: ${tally.refused} inputs refused with a reason, ${tally.delivered} delivered, ${tally.lost.length} lost`,
  );
  if (tally.lost.length > 0) console.log(`lost:\n${tally.lost.join('\n')}`);
});

/** A notification for an object that is not (or no longer) in the bucket: an input with a key but no bytes. */
function ghost(key: string, bytes: number): Dropped {
  return { key, fileName: path.posix.basename(key), bytes, sha256Hex: sha256Hex(''), expectFailure: true };
}

const tag = () => randomUUID().slice(0, 8);

describe('bad input on the standard pipeline', () => {
  const e2e = useLocalPipeline();
  const inputs: Input[] = [];
  // Registered after the pipeline's own afterAll, so it runs first (hooks unwind as a stack).
  afterAll(() => classify(e2e, inputs), 60_000);
  const handMade: string[] = [];
  const knownKeys = () => new Set([...e2e.dropped.map((d) => d.key), ...handMade]);

  const drop = async (prefix: string, name: string, body: Buffer | string, options = {}) => {
    const dropped = await e2e.drop(prefix, name, body, options);
    inputs.push({ key: dropped.key });
    return dropped;
  };
  const good = (prefix = 'cleartax/sales/') => drop(prefix, 'good.csv', csvBody(tag()));

  it('parks malformed SQS bodies as MALFORMED_MESSAGE and keeps delivering', async () => {
    const t = tag();
    const bodies = {
      notJson: `not json ${t}-n {`,
      noRecords: `{"tag":"${t}-a","detail":"an EventBridge event, not an S3 notification"}`,
      badRecord: `{"tag":"${t}-b","Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put"}]}`,
      badEscape: JSON.stringify({
        Records: [
          {
            s3: { object: { key: `cleartax/sales/${t}%E0%A4%A.csv`, size: 3 }, bucket: { name: 'b' } },
            eventSource: 'aws:s3',
            eventName: 'ObjectCreated:Put',
            eventTime: new Date().toISOString(),
          },
        ],
      }),
    };
    const file = await good();
    for (const body of Object.values(bodies)) await e2e.sendRaw('cleartax-sales', body);

    const expected: Array<[string, RegExp]> = [
      [`not json ${t}-n`, /body is not JSON/],
      [`${t}-a`, /not an S3 event notification \(no Records\)/],
      [`${t}-b`, /not an S3 event record/],
      [`cleartax/sales/${t}%E0%A4%A`, /object key is not valid URL encoding/],
    ];
    for (const [marker] of expected) inputs.push({ marker });
    await refused(
      ...expected.map(async ([marker, message]) => {
        const m = await dlqMessageFor(e2e, (d) => d.subject.includes(marker));
        expect(m).toMatchObject({
          queue: 'cleartax-sales intake',
          errorCode: 'MALFORMED_MESSAGE',
          retryable: 'false',
        });
        expect(m.errorMessage).toMatch(message);
      }),
    );
    await delivered(e2e, file);
    // None of them names an object, so none may leave a ledger entry behind.
    expect(await unknownLedgerKeys(e2e, knownKeys())).toEqual([]);
    await assertInvariant(e2e, [file]);
  });

  it('ignores the s3:TestEvent S3 sends when a notification is configured: no DLQ message, no ledger entry', async () => {
    const ignoredBefore = functionLog(e2e).filter((l) => String(l.message).includes('s3:TestEvent')).length;
    const testEvent = (requestId: string) =>
      JSON.stringify({
        Service: 'Amazon S3',
        Event: 's3:TestEvent',
        Time: new Date().toISOString(),
        Bucket: e2e.pipeline.resources.bucket,
        RequestId: requestId,
        HostId: 'q2Lq5Y1tJk8jv7R0x8Ww2ZsGfQ3yR9bq',
      });
    await e2e.sendRaw('cleartax-sales', testEvent(tag()));
    await e2e.sendRaw('inspect-photos', testEvent(tag()));
    const file = await good('cleartax/purchase/');

    await waitFor(
      'the dispatch function to log both test events as ignored',
      () =>
        functionLog(e2e).filter((l) => String(l.message).includes('s3:TestEvent')).length >= ignoredBefore + 2
          ? true
          : undefined,
      20_000,
    );
    await delivered(e2e, file);
    for (const routeId of ['cleartax-sales', 'inspect-photos']) {
      const queue = e2e.pipeline.resources.intake.find((q) => q.routeId === routeId);
      await waitFor(
        `${routeId} intake queue to be empty`,
        async () => ((await queueDepth(e2e, queue?.url ?? '')) === 0 ? true : undefined),
        20_000,
      );
    }
    const dlq = await dlqList(e2e.target);
    expect(dlq.filter((m) => m.subject.includes('s3:TestEvent') || m.subject.includes('Amazon S3'))).toEqual(
      [],
    );
    expect(await unknownLedgerKeys(e2e, knownKeys())).toEqual([]);
    await assertInvariant(e2e, [file]);
  });

  it('refuses a key no route matches (hand-sent notification) with NO_ROUTE', async () => {
    const unrouted = await drop('unknown-vendor/', 'stray.csv', csvBody(tag()), { expectFailure: true });
    const photo = await drop(`inspect/${INSPECT_ASSETS[0]}/`, 'good.jpg', jpegBody(tag()));
    await e2e.sendRaw(
      'inspect-photos',
      s3NotificationBody(e2e.pipeline.resources.bucket, [{ key: unrouted.key, size: unrouted.bytes }]),
    );

    await refused(expectRefused(e2e, unrouted.key, 'NO_ROUTE', /no route for key "unknown-vendor\//));
    await delivered(e2e, photo);
    await assertInvariant(e2e, [unrouted, photo]);
  });

  it('refuses zero-byte files with EMPTY_FILE and skips console folder placeholders', async () => {
    const empty = await drop('cleartax/sales/', 'empty.csv', '', { expectFailure: true });
    const emptyPhoto = await drop(`inspect/${INSPECT_ASSETS[1]}/`, 'empty.jpg', '', {
      expectFailure: true,
      contentType: 'image/jpeg',
    });
    // The console's "Create folder": a zero-byte object whose key ends in "/". Not a file, not a failure.
    const folder = `cleartax/sales/folder-${tag()}/`;
    await e2e.pipeline.clients.s3.send(
      new PutObjectCommand({ Bucket: e2e.pipeline.resources.bucket, Key: folder, Body: '' }),
    );
    const file = await good();

    await refused(
      expectRefused(e2e, empty.key, 'EMPTY_FILE', /empty \(0 bytes\)/),
      expectRefused(e2e, emptyPhoto.key, 'EMPTY_FILE', /empty \(0 bytes\)/),
    );
    await delivered(e2e, file);
    expect(await e2e.pipeline.ledger.listByKey(e2e.pipeline.resources.bucket, folder)).toEqual([]);
    expect((await dlqList(e2e.target)).filter((m) => m.subject === folder)).toEqual([]);
    for (const f of [empty, emptyPhoto]) {
      expect(
        e2e.pipeline.sandbox.log.calls({ fileName: f.fileName }),
        'no vendor call for an empty file',
      ).toEqual([]);
    }
    await assertInvariant(e2e, [empty, emptyPhoto, file]);
  });

  it('refuses extensions and MIME types the vendor does not take with FILE_REJECTED, before any vendor call', async () => {
    const pdf = await drop('cleartax/sales/', 'ledger.pdf', '%PDF-1.4 not a spreadsheet', {
      expectFailure: true,
      contentType: 'application/pdf',
    });
    const txt = await drop('cleartax-one/sales/', 'notes.txt', 'plain text, not a spreadsheet', {
      expectFailure: true,
      contentType: 'text/plain',
    });
    const json = await drop('cleartax/purchase/', 'rows.json', '[{"invoice":"INV-1"}]', {
      expectFailure: true,
      contentType: 'application/json',
    });
    // The catalog route uploads text/csv: an XML feed is not what it sends.
    const xml = await drop('clevertap/1001/', 'feed.xml', '<?xml version="1.0"?><feed/>', {
      expectFailure: true,
      contentType: 'application/xml',
    });
    const file = await good('cleartax-one/sales/');

    await refused(
      expectRefused(
        e2e,
        pdf.key,
        'FILE_REJECTED',
        /cleartax-gst accepts \.csv, \.xls and \.xlsx files.*ledger-/,
      ),
      expectRefused(
        e2e,
        txt.key,
        'FILE_REJECTED',
        /cleartax-one accepts \.csv, \.xlsx, \.xls and \.zip files/,
      ),
      expectRefused(e2e, json.key, 'FILE_REJECTED', /cleartax-gst accepts \.csv, \.xls and \.xlsx files/),
      expectRefused(e2e, xml.key, 'FILE_REJECTED', /uploads text\/csv: only \.csv files/),
    );
    await delivered(e2e, file);
    for (const f of [pdf, txt, json, xml]) {
      expect(e2e.pipeline.sandbox.log.calls({ fileName: f.fileName }), `vendor calls for ${f.key}`).toEqual(
        [],
      );
    }
    await assertInvariant(e2e, [pdf, txt, json, xml, file]);
  });

  it('delivers keys with spaces, +, %, unicode and punctuation byte-exact under their own file name', async () => {
    const files = [
      await drop('cleartax/sales/', 'march sales+q1 100%.csv', csvBody(tag())),
      await drop('cleartax/purchase/', "q&a=1;x,y@z$!'()*~ [v2] #3?.csv", csvBody(tag())),
      await drop('cleartax-one/sales/', 'ünïcødé 数据 (v2).csv', csvBody(tag())),
      // A literal "%2B" in a name: decoding the notification twice would turn it into "+".
      await drop('clevertap/1001/', 'a+b c%2Bd %41 é.csv', 'id,title\n1,shoe\n2,sock\n'),
      // Decomposed é (e + U+0301): the key's bytes must survive without Unicode normalisation.
      await drop('clevertap/1002/', 'cafe\u0301 re\u0301sume\u0301.csv', 'id,title\n3,hat\n'),
      await drop(`inspect/${INSPECT_ASSETS[0]}/`, 'фото 100% + café 📷.jpg', jpegBody(tag())),
    ];
    for (const file of files) await delivered(e2e, file);
    const names = files.map((f) => f.fileName);
    expect(
      names.some((n) => n.normalize('NFC') !== n),
      'one name is not NFC',
    ).toBe(true);
    await assertInvariant(e2e, files);
  });

  it('refuses a file name over the vendor limit with a reason naming the rule, and delivers a long key within limits', async () => {
    // CleverTap's signed-URL API takes file names of at most 500 characters.
    const tooLong = await drop('clevertap/1001/', `${'c'.repeat(510)}.csv`, 'id,title\n1,shoe\n', {
      expectFailure: true,
    });
    expect(tooLong.fileName.length).toBeGreaterThan(500);
    // ClearTax GST takes 1500: a key close to S3's 1024-byte limit is fine.
    const long = await drop('cleartax/sales/', `${'l'.repeat(987)}.csv`, csvBody(tag()));
    expect(Buffer.byteLength(long.key)).toBeGreaterThan(1000);
    expect(Buffer.byteLength(long.key)).toBeLessThanOrEqual(1024);
    // Multi-byte: under 1024 bytes, though far more than 500 bytes.
    const wide = await drop(`inspect/${INSPECT_ASSETS[1]}/`, `${'ж'.repeat(480)}.jpg`, jpegBody(tag()));
    expect(Buffer.byteLength(wide.key)).toBeLessThanOrEqual(1024);

    await refused(
      expectRefused(
        e2e,
        tooLong.key,
        'FILE_REJECTED',
        new RegExp(
          `clevertap-catalog file names are at most 500 characters; this one has ${tooLong.fileName.length}`,
        ),
      ),
    );
    await delivered(e2e, long, wide);
    expect(e2e.pipeline.sandbox.log.calls({ fileName: tooLong.fileName })).toEqual([]);
    await assertInvariant(e2e, [tooLong, long, wide]);
  });

  it('refuses keys whose segments fail the route options schema with ROUTE_CONFIG_INVALID', async () => {
    const notANumber = await drop('clevertap/not-a-number/', 'x.csv', 'id,title\n1,shoe\n', {
      expectFailure: true,
    });
    const notAUuid = await drop('inspect/not-a-uuid/', 'p.jpg', jpegBody(tag()), { expectFailure: true });
    // Valid by schema, unknown to the vendor: the vendor's own refusal, permanent.
    const unknownCatalog = await drop('clevertap/9999/', 'x.csv', 'id,title\n1,shoe\n', {
      expectFailure: true,
    });
    const file = await drop('clevertap/1002/', 'good.csv', `id,title\n1,${tag()}\n`);

    await refused(
      expectRefused(
        e2e,
        notANumber.key,
        'ROUTE_CONFIG_INVALID',
        /route "clevertap-catalogs" options.*catalogId/,
      ),
      expectRefused(e2e, notAUuid.key, 'ROUTE_CONFIG_INVALID', /route "inspect-photos" options.*assetId/),
      expectRefused(e2e, unknownCatalog.key, 'VENDOR_REJECTED', /CATALOG_NOT_FOUND/),
    );
    await delivered(e2e, file);
    await assertInvariant(e2e, [notANumber, notAUuid, unknownCatalog, file]);
  });

  it('refuses a notification for an object that is gone with OBJECT_NOT_FOUND', async () => {
    const bucket = e2e.pipeline.resources.bucket;
    const withETag = (key: string, size: number) =>
      s3NotificationBody(bucket, [{ key, size, eTag: 'd41d8cd98f00' }]);
    // S3 always sends the ETag; a hand-written or foreign notification may not.
    const withoutETag = (key: string, size: number) => {
      const body = JSON.parse(s3NotificationBody(bucket, [{ key, size }])) as {
        Records: Array<{ s3: { object: Record<string, unknown> } }>;
      };
      for (const r of body.Records) delete r.s3.object.eTag;
      return JSON.stringify(body);
    };
    const gone: Array<[string, Dropped, (key: string, size: number) => string]> = [
      ['cleartax-sales', ghost(`cleartax/sales/ghost-${tag()}.csv`, 120), withETag],
      ['inspect-photos', ghost(`inspect/${INSPECT_ASSETS[0]}/ghost-${tag()}.jpg`, 64), withETag],
      ['cleartax-sales', ghost(`cleartax/sales/ghost-no-etag-${tag()}.csv`, 80), withoutETag],
    ];
    const file = await good();
    for (const [routeId, g, body] of gone) {
      inputs.push({ key: g.key });
      handMade.push(g.key);
      await e2e.sendRaw(routeId, body(g.key, g.bytes));
    }

    await refused(...gone.map(([, g]) => expectRefused(e2e, g.key, 'OBJECT_NOT_FOUND', /no longer exists/)));
    await delivered(e2e, file);
    await assertInvariant(e2e, [...gone.map(([, g]) => g), file]);
  });
});

describe('bad configuration: secrets and route options', () => {
  const localSecrets = JSON.parse(
    readFileSync(path.join(PROJECT_ROOT, 'config/local-secrets.json'), 'utf8'),
  ) as Record<string, unknown>;
  const { 'vendor-ingest/cleartax-one': _missing, ...withoutCleartaxOne } = localSecrets;
  const e2e = useLocalPipeline({
    secrets: {
      ...withoutCleartaxOne,
      // No token: not the clevertap shape.
      'vendor-ingest/clevertap': { accountId: 'SANDBOX-ACCOUNT-1' },
      // Both credentials: ClearTax wants exactly one.
      'vendor-ingest/both': { authToken: 'tok-4f1e9a-not-for-logs', clientSecret: 'cs-77ab02-not-for-logs' },
    },
    overrides: {
      ...FAST,
      routeFields: {
        'cleartax-purchase': { secretId: 'vendor-ingest/both' },
      },
      routeOptions: { 'inspect-photos': { maxSizeBytes: 64 } },
    },
  });
  const inputs: Input[] = [];
  afterAll(() => classify(e2e, inputs), 60_000);
  const drop = async (prefix: string, name: string, body: Buffer | string, options = {}) => {
    const dropped = await e2e.drop(prefix, name, body, options);
    inputs.push({ key: dropped.key });
    return dropped;
  };

  it('refuses files whose route secret does not exist with SECRET_NOT_FOUND', async () => {
    const missing = await drop('cleartax-one/sales/', 'one.csv', csvBody(tag()), { expectFailure: true });
    const file = await drop('cleartax/sales/', 'good.csv', csvBody(tag()));

    await refused(
      expectRefused(
        e2e,
        missing.key,
        'SECRET_NOT_FOUND',
        /secret "vendor-ingest\/cleartax-one" does not exist/,
      ),
    );
    await delivered(e2e, file);
    expect(e2e.pipeline.sandbox.log.calls({ fileName: missing.fileName })).toEqual([]);
    await assertInvariant(e2e, [missing, file]);
  });

  it('refuses a secret that is not JSON with SECRET_INVALID; once the secret is fixed, redrive delivers the file', async () => {
    const secretId = 'vendor-ingest/cleartax-one';
    const rawText = 'clientSecret=sandbox-cleartax-client-secret-as-text';
    await e2e.pipeline.clients.secrets.send(
      new CreateSecretCommand({ Name: secretId, SecretString: rawText }),
    );
    // Refused first, delivered after the fix: the invariant sees it COMPLETED in the end.
    const file = await drop('cleartax-one/sales/', 'text-secret.csv', csvBody(tag()));

    const { record, dlq } = await expectRefused(
      e2e,
      file.key,
      'SECRET_INVALID',
      /secret "vendor-ingest\/cleartax-one" is not JSON/,
    );
    for (const text of [record.lastError ?? '', dlq.errorMessage]) expect(text).not.toContain(rawText);

    await e2e.pipeline.clients.secrets.send(
      new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify(localSecrets[secretId]) }),
    );
    // The functions cache secret values this long; a redrive before it runs out would meet the old value.
    await sleep((e2e.pipeline.config.secretCacheSeconds + 1) * 1000);
    // Also moves the file of the previous test (missing secret) back; it is delivered too.
    await redrive(e2e.target, 'cleartax-one-sales');
    const done = await waitFor(
      `${file.key} to be delivered after the redrive`,
      async () => {
        const r = await latestRecord(e2e, file.key);
        return r?.state === 'COMPLETED' ? r : undefined;
      },
      30_000,
    );
    expect(done.history?.some((h) => h.note === 'redriven')).toBe(true);
    await assertInvariant(e2e, [file]);
  });

  it('refuses files whose route secret has the wrong shape with SECRET_INVALID, without echoing secret values', async () => {
    const noToken = await drop('clevertap/1001/', 'catalog.csv', 'id,title\n1,shoe\n', {
      expectFailure: true,
    });
    const both = await drop('cleartax/purchase/', 'p.csv', csvBody(tag()), { expectFailure: true });
    const file = await drop('cleartax/sales/', 'good.csv', csvBody(tag()));

    const checks = [
      expectRefused(
        e2e,
        noToken.key,
        'SECRET_INVALID',
        /secret "vendor-ingest\/clevertap" does not have the clevertap-catalog shape: token/,
      ),
      expectRefused(
        e2e,
        both.key,
        'SECRET_INVALID',
        /secret "vendor-ingest\/both" does not have the cleartax-gst shape: .*set exactly one of authToken or clientSecret/,
      ),
    ];
    await refused(...checks);
    for (const { record, dlq } of await Promise.all(checks)) {
      for (const text of [record.lastError ?? '', dlq.errorMessage]) {
        expect(text).not.toMatch(/not-for-logs|SANDBOX-ACCOUNT-1/);
      }
    }
    await delivered(e2e, file);
    await assertInvariant(e2e, [noToken, both, file]);
  });

  it('refuses a file over the route size limit with FILE_REJECTED and delivers one under it', async () => {
    const big = await drop(`inspect/${INSPECT_ASSETS[0]}/`, 'big.jpg', Buffer.alloc(200, 0xab), {
      expectFailure: true,
    });
    const small = await drop(`inspect/${INSPECT_ASSETS[0]}/`, 'small.jpg', jpegBody(tag()));
    expect(small.bytes).toBeLessThanOrEqual(64);
    const file = await drop('cleartax/sales/', 'good.csv', csvBody(tag()));

    await refused(
      expectRefused(
        e2e,
        big.key,
        'FILE_REJECTED',
        /inspect route accepts files up to 64 bytes; this one has 200/,
      ),
    );
    await delivered(e2e, small, file);
    expect(
      e2e.pipeline.sandbox.log.calls({ fileName: big.fileName }),
      'refused before any vendor call',
    ).toEqual([]);
    await assertInvariant(e2e, [big, small, file]);
  });
});
