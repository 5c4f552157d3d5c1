import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { RangeServerInput, S3Access } from '../workers/protocol';
import { contentStream } from './content';
import type { BenchContext } from './context';
import type { BenchObject } from './fixture';
import { sizeLabel } from './units';
import { startServerWorker } from './workers';

/**
 * A stand-in for S3's GetObject that costs this machine little CPU (a file streamed to the socket): S3
 * itself runs on other machines, while moto takes one of this box's cores to serve a read.
 */
export async function startRangeStub(
  ctx: BenchContext,
  object: BenchObject,
): Promise<{ s3: S3Access; stop(): Promise<void> }> {
  const file = path.join(ctx.tmpDir, `range-${sizeLabel(object.size)}.bin`);
  await pipeline(contentStream(object.size), createWriteStream(file));
  const input: RangeServerInput = {
    file,
    bucket: object.bucket,
    key: object.key,
    eTag: object.eTag,
    contentType: 'text/csv',
  };
  const server = await startServerWorker(ctx.workers.file('range-server'), input);
  return {
    s3: {
      endpoint: `http://127.0.0.1:${server.port}`,
      region: 'ap-south-1',
      accessKeyId: 'local',
      secretAccessKey: 'local',
    },
    stop: () => server.stop(),
  };
}
