import { GetObjectCommand, type GetObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/util-stream';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../../functions/shared/errors';
import {
  bufferedRead,
  OPENED_FRESH_MS,
  openVersion,
  sha256OfObject,
} from '../../../../functions/shared/upload/s3-source';
import { bytesOf, readableOf, sha256Hex } from './stream-fixtures';

const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: 'ap-south-1' });
const OBJECT = { bucket: 'ingest', key: 'inspect/photos/site.jpg' };

afterAll(() => s3Mock.restore());

const base64Of = (hex: string) => Buffer.from(hex, 'hex').toString('base64');

function serve(data: Buffer, extra: Record<string, unknown> = {}) {
  const bodies: ReturnType<typeof readableOf>[] = [];
  s3Mock.on(GetObjectCommand).callsFake((input: GetObjectCommandInput) => {
    const body = readableOf(data, 16 * 1024);
    bodies.push(body);
    return {
      Body: sdkStreamMixin(body),
      ContentLength: data.length,
      ETag: '"etag-1"',
      ContentType: 'image/jpeg',
      VersionId: 'v7',
      ...(input.ChecksumMode === 'ENABLED' ? extra : {}),
    };
  });
  return bodies;
}

async function drain(body: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('openVersion', () => {
  beforeEach(() => s3Mock.reset());

  it('answers what a head would from one GetObject, and hands its body over once', async () => {
    const data = bytesOf(50_000);
    const bodies = serve(data);

    const opened = await openVersion(s3, OBJECT);

    expect(opened.head).toEqual({
      size: data.length,
      eTag: '"etag-1"',
      contentType: 'image/jpeg',
      sha256Base64: undefined,
      versionId: 'v7',
    });
    const taken = opened.take();
    expect(taken?.length).toBe(data.length);
    expect(await drain(taken?.body as NodeJS.ReadableStream)).toEqual(data);
    expect(opened.take()).toBeUndefined();
    opened.dispose();
    expect(bodies[0]?.readableEnded).toBe(true);
    expect(s3Mock.commandCalls(GetObjectCommand)[0]?.args[0].input.ChecksumMode).toBeUndefined();
  });

  it('reads the full-object SHA-256 with checksum mode on, never a composite one', async () => {
    const data = bytesOf(1000);
    const full = base64Of(sha256Hex(data));
    serve(data, { ChecksumSHA256: full, ChecksumType: 'FULL_OBJECT' });
    const withSum = await openVersion(s3, OBJECT, { checksum: true });
    expect(withSum.head.sha256Base64).toBe(full);
    expect(s3Mock.commandCalls(GetObjectCommand)[0]?.args[0].input.ChecksumMode).toBe('ENABLED');
    withSum.dispose();

    s3Mock.reset();
    serve(data, { ChecksumSHA256: `${full}-3`, ChecksumType: 'COMPOSITE' });
    const composite = await openVersion(s3, OBJECT, { checksum: true });
    expect(composite.head.sha256Base64).toBeUndefined();
    composite.dispose();
  });

  it('destroys a body never taken, and one gone stale before it was taken', async () => {
    const data = bytesOf(10_000);
    const bodies = serve(data);
    let now = 1_000_000;

    const unused = await openVersion(s3, OBJECT);
    unused.dispose();
    expect(bodies[0]?.destroyed).toBe(true);

    const late = await openVersion(s3, OBJECT, { now: () => now });
    now += OPENED_FRESH_MS + 1;
    expect(late.take()).toBeUndefined();
    expect(bodies[1]?.destroyed).toBe(true);
  });

  it('pins an unversioned read to the ETag and maps a replaced object to OBJECT_CHANGED', async () => {
    s3Mock.on(GetObjectCommand).rejects(
      Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), {
        name: 'PreconditionFailed',
        $metadata: { httpStatusCode: 412 },
      }),
    );

    const error = await openVersion(s3, { ...OBJECT, eTag: 'abc' }).catch((e: unknown) => e);

    expect(error).toMatchObject({ code: ErrorCode.OBJECT_CHANGED, retryable: false });
    expect(s3Mock.commandCalls(GetObjectCommand)[0]?.args[0].input.IfMatch).toBe('"abc"');
  });
});

describe('sha256OfObject', () => {
  beforeEach(() => s3Mock.reset());

  it('hashes the bytes handed over instead of a new GetObject, keeping them when asked', async () => {
    const data = bytesOf(70_000, 5);
    serve(data);

    const hashed = await sha256OfObject(s3, OBJECT, {
      first: bufferedRead(data),
      keep: true,
      size: data.length,
    });

    expect(hashed.sha256Base64).toBe(base64Of(sha256Hex(data)));
    expect(hashed.bytes).toEqual(data);
    expect(s3Mock.commandCalls(GetObjectCommand)).toHaveLength(0);
  });

  it('opens the object when nothing is handed over, and keeps nothing unless asked', async () => {
    const data = bytesOf(70_000, 6);
    serve(data);

    const hashed = await sha256OfObject(s3, OBJECT, { size: data.length });

    expect(hashed).toEqual({ sha256Base64: base64Of(sha256Hex(data)) });
    expect(s3Mock.commandCalls(GetObjectCommand)).toHaveLength(1);
  });

  it('refuses kept bytes that fall short of the size S3 announced', async () => {
    const data = bytesOf(1000, 7);

    const error = await sha256OfObject(s3, OBJECT, {
      first: bufferedRead(data),
      keep: true,
      size: 2000,
    }).catch((e: unknown) => e);

    expect(error).toMatchObject({ code: ErrorCode.NETWORK, retryable: true });
  });
});

describe('openVersion while its body waits', () => {
  beforeEach(() => s3Mock.reset());

  it('survives the body failing while nobody reads it, and does not hand the dead body over', async () => {
    const bodies = serve(bytesOf(200_000, 8));
    const opened = await openVersion(s3, OBJECT);

    // A reset, or the deadline's abort: with no listener of its own this would be an uncaught error.
    bodies[0]?.destroy(new Error('socket hang up'));
    await new Promise((resolve) => setImmediate(resolve));

    expect(opened.take()).toBeUndefined();
    opened.dispose();
  });
});
