import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { drop } from '../../../cli/operations';
import type { Target } from '../../../cli/target';
import { scratchDir } from '../../support/scratch';
import { fakeTarget } from './fake-target';

const MiB = 1024 * 1024;

/** A fake S3 that records what drop sends, bodies read to the end. */
function recordingS3(failPart?: number) {
  const sent: Array<{ name: string; input: Record<string, unknown>; body?: Buffer }> = [];
  const s3 = {
    async send(command: { input: Record<string, unknown> }) {
      const input = command.input;
      let body: Buffer | undefined;
      if (input.Body && typeof (input.Body as AsyncIterable<Buffer>)[Symbol.asyncIterator] === 'function') {
        const chunks: Buffer[] = [];
        for await (const c of input.Body as AsyncIterable<Buffer>) chunks.push(c);
        body = Buffer.concat(chunks);
      }
      sent.push({ name: command.constructor.name, input, body });
      if (command instanceof CreateMultipartUploadCommand) return { UploadId: 'up-1' };
      if (command instanceof UploadPartCommand) {
        if (input.PartNumber === failPart) throw new Error('connection reset');
        return { ETag: `"etag-${input.PartNumber}"` };
      }
      if (command instanceof CompleteMultipartUploadCommand) return { VersionId: 'v-multi' };
      if (command instanceof PutObjectCommand) return { VersionId: 'v-single' };
      return {};
    },
  };
  return { s3, sent };
}

function awsTarget(s3: unknown): Target {
  const base = fakeTarget();
  return { ...base, kind: 'aws', clients: { ...base.clients, s3 } as unknown as Target['clients'] };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('base64');

describe('drop on AWS', () => {
  it('sends a file up to the part size in one PUT with its full-object SHA-256', async () => {
    const file = path.join(scratchDir('drop-'), 'march.csv');
    const body = randomBytes(1000);
    writeFileSync(file, body);
    const { s3, sent } = recordingS3();
    const out = await drop(awsTarget(s3), file, 'cleartax/sales/march.csv', { partSizeBytes: 5 * MiB });
    expect(out).toMatchObject({ upload: 'single', versionId: 'v-single', bytes: 1000 });
    expect(sent.map((s) => s.name)).toEqual(['PutObjectCommand']);
    expect(sent[0]?.input).toMatchObject({
      ChecksumAlgorithm: 'SHA256',
      ChecksumSHA256: sha(body),
      ContentLength: 1000,
    });
  });

  it('sends a file just over the part size in two parts, each with its SHA-256, completed in order', async () => {
    const file = path.join(scratchDir('drop-'), 'big.csv');
    const body = randomBytes(5 * MiB + 1);
    writeFileSync(file, body);
    const { s3, sent } = recordingS3();
    const out = await drop(awsTarget(s3), file, 'cleartax/sales/big.csv', { partSizeBytes: 5 * MiB });
    expect(out).toMatchObject({ upload: 'multipart', parts: 2, versionId: 'v-multi' });
    expect(sent[0]?.input).toMatchObject({ ChecksumAlgorithm: 'SHA256', ContentType: 'text/csv' });
    const parts = sent
      .filter((s) => s.name === 'UploadPartCommand')
      .sort((a, b) => Number(a.input.PartNumber) - Number(b.input.PartNumber));
    expect(parts.map((p) => p.body?.length)).toEqual([5 * MiB, 1]);
    expect(Buffer.concat(parts.map((p) => p.body ?? Buffer.alloc(0))).equals(body)).toBe(true);
    for (const p of parts) expect(p.input.ChecksumSHA256).toBe(sha(p.body ?? Buffer.alloc(0)));
    const complete = sent.find((s) => s.name === 'CompleteMultipartUploadCommand');
    expect((complete?.input.MultipartUpload as { Parts: unknown[] } | undefined)?.Parts).toEqual([
      { PartNumber: 1, ETag: '"etag-1"', ChecksumSHA256: parts[0]?.input.ChecksumSHA256 },
      { PartNumber: 2, ETag: '"etag-2"', ChecksumSHA256: parts[1]?.input.ChecksumSHA256 },
    ]);
  });

  it('aborts the multipart upload when a part fails, and refuses a part size under 5 MiB', async () => {
    const file = path.join(scratchDir('drop-'), 'big.csv');
    writeFileSync(file, randomBytes(5 * MiB + 1));
    const { s3, sent } = recordingS3(2);
    await expect(
      drop(awsTarget(s3), file, 'cleartax/sales/big.csv', { partSizeBytes: 5 * MiB }),
    ).rejects.toThrow(/connection reset/);
    expect(sent.at(-1)?.name).toBe(AbortMultipartUploadCommand.name);
    await expect(drop(awsTarget(s3), file, 'cleartax/sales/big.csv', { partSizeBytes: MiB })).rejects.toThrow(
      /at least/,
    );
  });

  it('refuses a key under no route before sending anything', async () => {
    const { s3, sent } = recordingS3();
    await expect(drop(awsTarget(s3), '/nonexistent', 'nowhere/x.csv')).rejects.toThrow(/no route/);
    expect(sent).toEqual([]);
  });
});
