import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/util-stream';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { uploadPlan } from '../../../../functions/shared/upload/upload-plan';
import { startUploadTarget, type UploadTargetServer } from '../../../support/upload-target';
import { bytesOf, SIGNED_QUERY } from './stream-fixtures';

const MiB = 1024 * 1024;
const CHUNK = bytesOf(MiB, 42);
const CHUNKS = 512;
const SIZE = CHUNK.length * CHUNKS;
/** Stream buffers, keep-alive sockets and the hashing on the target fit well inside this. */
const MAX_RSS_GROWTH = 96 * MiB;

/** `count` copies of one reused buffer: the test itself holds 1 MiB whatever the object size. */
function generatedObject(count: number): Readable {
  let pushed = 0;
  return new Readable({
    read() {
      if (pushed < count) {
        pushed++;
        this.push(CHUNK);
      } else {
        this.push(null);
      }
    },
  });
}

function expectedSha256(): string {
  const hash = createHash('sha256');
  for (let i = 0; i < CHUNKS; i++) hash.update(CHUNK);
  return hash.digest('hex');
}

/** Samples RSS every ~20 ms until stopped; returns the highest value seen. */
function sampleRss(): { stop(): number } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage().rss);
    },
  };
}

const s3Mock = mockClient(S3Client);
let target: UploadTargetServer;
beforeAll(async () => {
  target = await startUploadTarget();
});
afterAll(async () => {
  await target.close();
  s3Mock.restore();
});

describe('uploadPlan memory', () => {
  beforeEach(() => {
    s3Mock.reset();
  });

  it('streams a 512 MiB object to the target with RSS growing by less than 96 MiB', {
    timeout: 60_000,
  }, async () => {
    const sha256 = expectedSha256();
    s3Mock
      .on(GetObjectCommand)
      .callsFake(() => ({ Body: sdkStreamMixin(generatedObject(CHUNKS)), ContentLength: SIZE }));
    const path = '/big/object.bin';
    target.setContentType(path, 'application/octet-stream');
    const plan = {
      kind: 'single' as const,
      target: {
        url: target.urlFor(path, SIGNED_QUERY),
        method: 'PUT' as const,
        headers: { 'content-type': 'application/octet-stream' },
      },
      refs: {},
    };
    let reported = 0;
    (globalThis as { gc?: () => void }).gc?.();
    const baseline = process.memoryUsage().rss;
    const sampler = sampleRss();

    const result = await uploadPlan(plan, {
      s3: new S3Client({ region: 'ap-south-1' }),
      object: { bucket: 'ingest', key: 'big/object.bin' },
      size: SIZE,
      policy: { uploadHostAllowList: [target.hostPattern], allowLoopbackHttp: true },
      partConcurrency: 1,
      onProgress: (sent) => {
        reported = sent;
      },
    });
    const peak = sampler.stop();

    expect(result.kind).toBe('single');
    expect(target.requests).toEqual([expect.objectContaining({ outcome: 'stored', bytes: SIZE, sha256 })]);
    expect(reported).toBe(SIZE);
    expect(peak - baseline).toBeLessThan(MAX_RSS_GROWTH);
  });
});
