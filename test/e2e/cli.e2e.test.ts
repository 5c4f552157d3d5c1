import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { dlqList } from '../../cli/operations';
import { PROJECT_ROOT } from '../../lib/config/stage-config';
import { LOCAL_CREDENTIALS } from '../../local/aws';
import { scratchDir } from '../support/scratch';
import { assertInvariant, type Dropped, useLocalPipeline } from './support/harness';
import { csvBody, INSPECT_ASSETS, jpegBody, waitFor } from './support/inputs';

/**
 * The operator CLI as a user runs it (its bin script, another directory, `--stack --endpoint`)
 * against a running local pipeline: multipart drops, refused keys, whole DLQ messages, delete and
 * purge, and a redrive that sends a file that keeps failing round exactly once.
 */

const e2e = useLocalPipeline();
const run = promisify(execFile);
const scratch = scratchDir('cli-e2e-');
const OPERATOR = 'cli-e2e-operator';
const MiB = 1024 * 1024;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const out = await run(
      process.execPath,
      [
        path.join(PROJECT_ROOT, 'scripts/vendor-ingest.mjs'),
        ...args,
        '--stack',
        e2e.pipeline.stack.stackName,
        '--endpoint',
        e2e.pipeline.endpoint,
      ],
      {
        cwd: scratch,
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
          AWS_REGION: e2e.pipeline.clients.region,
          VENDOR_INGEST_OPERATOR: OPERATOR,
          NO_COLOR: '1',
        },
        maxBuffer: 16 * MiB,
        timeout: 120_000,
      },
    );
    return { code: 0, ...out };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

let seq = 0;
const unique = (name: string) => name.replace(/(\.[a-z]+)$/, `-${++seq}-${randomBytes(3).toString('hex')}$1`);

/** Writes a file into the scratch directory and records it for the invariant check. */
function file(name: string, body: Buffer | string, key: string): { path: string; dropped: Dropped } {
  const p = path.join(scratch, name);
  writeFileSync(p, body);
  const dropped: Dropped = {
    key,
    fileName: key.slice(key.lastIndexOf('/') + 1),
    bytes: Buffer.byteLength(body),
    sha256Hex: createHash('sha256').update(body).digest('hex'),
    expectFailure: false,
  };
  return { path: p, dropped };
}

const presignCalls = (fileName: string) =>
  e2e.pipeline.sandbox.log.calls({ vendor: 'cleartax-gst', operation: 'presign', fileName }).length;

describe('vendor-ingest drop', () => {
  it('uploads a file just over the part size as a multipart upload, and it is delivered byte-exact', async () => {
    const name = unique('large.jpg');
    const key = `inspect/${INSPECT_ASSETS[0]}/${name}`;
    const body = Buffer.concat([jpegBody('multipart'), randomBytes(5 * MiB + 1)]);
    const f = file(name, body, key);
    const out = await cli('drop', f.path, '--key', key, '--part-size', '5');
    expect(out, out.stderr).toMatchObject({ code: 0 });
    expect(out.stdout).toMatch(/in 2 parts/);

    const head = await e2e.pipeline.clients.s3.send(
      new HeadObjectCommand({ Bucket: e2e.pipeline.resources.bucket, Key: key, ChecksumMode: 'ENABLED' }),
    );
    expect(head.ContentLength).toBe(body.length);
    // Against the embedded AWS the parts carry no checksum (it would present their composite as the
    // object's SHA-256): Inspect's hash is the dispatch's own pass over the bytes.
    expect(head.ChecksumSHA256).toBeUndefined();
    const stored = await e2e.pipeline.clients.s3.send(
      new GetObjectCommand({ Bucket: e2e.pipeline.resources.bucket, Key: key }),
    );
    const bytes = Buffer.from((await stored.Body?.transformToByteArray()) ?? []);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(f.dropped.sha256Hex);

    // The embedded AWS notifies a completed multipart upload twice, with different event times and no
    // version id, so locally it is two deliveries of the same bytes (README, Limits); each completes
    // with the bytes dropped. (AWS sends one notification with the version id.)
    expect((await e2e.settle([key], 90_000)).get(key)?.state).toBe('COMPLETED');
    await waitFor(`every delivery of ${key} to settle`, async () => {
      const records = await e2e.pipeline.ledger.listByKey(e2e.pipeline.resources.bucket, key);
      return records.every((r) => r.state === 'COMPLETED') ? records : undefined;
    });
    const uploads = e2e.pipeline.sandbox.log.uploads({ vendor: 'inspect', fileName: f.dropped.fileName });
    expect(uploads.length).toBeGreaterThan(0);
    for (const u of uploads)
      expect({ sha256Hex: u.sha256Hex, size: u.size }).toEqual({
        sha256Hex: f.dropped.sha256Hex,
        size: body.length,
      });
  });

  it('uploads a small file in one PUT with its full-object SHA-256', async () => {
    const name = unique('small.csv');
    const key = `cleartax/sales/${name}`;
    const f = file(name, csvBody(name), key);
    const out = await cli('drop', name, '--key', key);
    expect(out, out.stderr).toMatchObject({ code: 0 });
    const head = await e2e.pipeline.clients.s3.send(
      new HeadObjectCommand({ Bucket: e2e.pipeline.resources.bucket, Key: key, ChecksumMode: 'ENABLED' }),
    );
    expect(head.ChecksumSHA256).toBe(createHash('sha256').update(csvBody(name)).digest('base64'));
    e2e.dropped.push(f.dropped);
    await e2e.settle([key]);
    await assertInvariant(e2e, [f.dropped]);
  });

  it('refuses, before uploading, a key under no route and a segment the vendor refuses', async () => {
    const f = file('stray.csv', csvBody('stray'), 'nowhere/stray.csv');
    const stray = await cli('drop', f.path, '--key', 'nowhere/stray.csv');
    expect(stray.code).toBe(1);
    expect(stray.stderr).toContain('no route for "nowhere/stray.csv"');
    const segment = await cli('drop', f.path, '--key', 'clevertap/not-a-number/stray.csv');
    expect(segment.code).toBe(1);
    expect(segment.stderr).toMatch(/\{catalogId\} = "not-a-number"/);
    for (const key of ['nowhere/stray.csv', 'clevertap/not-a-number/stray.csv']) {
      await expect(
        e2e.pipeline.clients.s3.send(
          new HeadObjectCommand({ Bucket: e2e.pipeline.resources.bucket, Key: key }),
        ),
      ).rejects.toMatchObject({ name: 'NotFound' });
    }
  });
});

describe('vendor-ingest dlq and redrive', () => {
  /** Drops a CSV whose presign the vendor refuses with a 400, `times` times: parked at once each time. */
  async function parked(what: string, times: number): Promise<{ key: string; fileName: string }> {
    const fileName = unique(`${what}.csv`);
    e2e.pipeline.sandbox.faults.inject({
      vendor: 'cleartax-gst',
      operation: 'presign',
      times,
      match: { fileName },
      action: { kind: 'status', status: 400 },
    });
    const key = `cleartax/sales/${fileName}`;
    const body = csvBody(fileName);
    await e2e.pipeline.clients.s3.send(
      new PutObjectCommand({
        Bucket: e2e.pipeline.resources.bucket,
        Key: key,
        Body: body,
        ContentType: 'text/csv',
      }),
    );
    e2e.dropped.push({
      key,
      fileName,
      bytes: Buffer.byteLength(body),
      sha256Hex: createHash('sha256').update(body).digest('hex'),
      expectFailure: true,
    });
    return { key, fileName };
  }

  const inDlq = async (keys: readonly string[]) =>
    waitFor(`${keys.length} files in the DLQ`, async () => {
      const messages = (await dlqList(e2e.target)).filter((m) => keys.includes(m.subject));
      return messages.length === keys.length ? messages : undefined;
    });

  it('lists whole messages (--full, --json), deletes one and purges a queue, asking first', async () => {
    const [a, b] = [await parked('dlq-a', 1000), await parked('dlq-b', 1000)];
    const messages = await inDlq([a.key, b.key]);

    const json = await cli('dlq', 'list', '--json');
    const listed = JSON.parse(json.stdout) as Array<{ subject: string; body: string; messageId: string }>;
    const mine = listed.filter((m) => m.subject === a.key || m.subject === b.key);
    expect(mine).toHaveLength(2);
    expect(mine[0]?.body.length, 'whole bodies').toBeGreaterThan(100);
    const full = await cli('dlq', 'list', '--full', '--queue', 'cleartax-sales');
    expect(full.stdout).toContain(`"key": "${encodeURIComponent(a.key)}"`);
    expect(full.stdout).toContain('errorMessage presign: HTTP 400');
    const short = await cli('dlq', 'list');
    expect(short.stdout).toContain(a.key);
    expect(short.stdout).toContain('VENDOR_REJECTED');

    const idA = messages.find((m) => m.subject === a.key)?.messageId ?? '';
    const unconfirmed = await cli('dlq', 'delete', idA);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain('--yes');
    const deleted = await cli('dlq', 'delete', idA, '--yes');
    expect(deleted, deleted.stderr).toMatchObject({ code: 0 });
    expect((await dlqList(e2e.target)).map((m) => m.subject)).not.toContain(a.key);
    expect((await dlqList(e2e.target)).map((m) => m.subject)).toContain(b.key);

    const purged = await cli('dlq', 'purge', '--queue', 'cleartax-sales', '--yes');
    expect(purged, purged.stderr).toMatchObject({ code: 0 });
    expect(purged.stdout).toMatch(/cleartax-sales: purged/);
    expect((await dlqList(e2e.target, 'cleartax-sales')).length).toBe(0);
  });

  it('a redrive sends each parked file round once: files that fail again stay parked, none goes round twice', async () => {
    await cli('dlq', 'purge', '--queue', 'cleartax-sales', '--yes');
    const files = await Promise.all(Array.from({ length: 8 }, (_, i) => parked(`always-fails-${i}`, 1000)));
    const keys = files.map((f) => f.key);
    await inDlq(keys);
    for (const f of files) expect(presignCalls(f.fileName)).toBe(1);

    const out = await cli('redrive', '--queue', 'cleartax-sales');
    expect(out, out.stderr).toMatchObject({ code: 0 });
    expect(out.stdout).toMatch(/cleartax-sales: 8 moved back/);

    // Each file is tried once more and parked again; give stragglers time to (not) go round again.
    await waitFor(
      'every file tried once more',
      () => (files.every((f) => presignCalls(f.fileName) >= 2) ? true : undefined),
      60_000,
    );
    await inDlq(keys);
    await new Promise((r) => setTimeout(r, 3000));
    expect(files.map((f) => presignCalls(f.fileName))).toEqual(files.map(() => 2));
    expect((await dlqList(e2e.target)).filter((m) => keys.includes(m.subject))).toHaveLength(8);

    const status = await cli('status', files[0]?.key ?? '', '--json');
    expect((JSON.parse(status.stdout) as Array<{ state: string; reason: string }>)[0]).toMatchObject({
      state: 'FAILED',
      reason: 'VENDOR_REJECTED',
    });
    await cli('dlq', 'purge', '--queue', 'cleartax-sales', '--yes');
  });
});
