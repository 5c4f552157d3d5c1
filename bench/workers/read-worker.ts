/**
 * Bench child: one pass over an object through `openObject` — hashed with `sha256OfObject` (the
 * inspect route's pass) or read and discarded (the raw S3 read rate it is compared with).
 */
import { openObject, sha256OfObject } from '../../functions/shared/upload/s3-source';
import { dispatchS3Client, measure, readInput, report, runMain } from './measure';
import type { ReadWorkerInput, ReadWorkerOutput } from './protocol';

runMain(async () => {
  const input = readInput<ReadWorkerInput>();
  const s3 = dispatchS3Client(input.s3);
  if (input.mode === 'sha256') {
    const { value, metrics } = await measure(() => sha256OfObject(s3, input.object, { size: input.size }));
    const output: ReadWorkerOutput = { ...metrics, bytes: -1, sha256Base64: value.sha256Base64 };
    report(output);
  } else {
    const { value, metrics } = await measure(async () => {
      const { body } = await openObject(s3, input.object);
      let bytes = 0;
      for await (const chunk of body) bytes += (chunk as Buffer).length;
      return bytes;
    });
    const output: ReadWorkerOutput = { ...metrics, bytes: value };
    report(output);
  }
  s3.destroy();
});
