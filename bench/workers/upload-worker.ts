/**
 * Bench child: one delivery through the real uploader, `uploadPlan`, with an S3 client configured as
 * the dispatch handler configures its own. Only the transfer is timed.
 */
import { uploadPlan } from '../../functions/shared/upload/upload-plan';
import type { UploadPlan } from '../../functions/vendors/types';
import { dispatchS3Client, measure, readInput, report, runMain } from './measure';
import type { UploadWorkerInput, UploadWorkerOutput } from './protocol';

runMain(async () => {
  const input = readInput<UploadWorkerInput>();
  const s3 = dispatchS3Client(input.s3);
  const plan: Extract<UploadPlan, { kind: 'single' | 'multipart' }> =
    input.plan.kind === 'single'
      ? {
          kind: 'single',
          target: { url: input.plan.target.url, method: 'PUT', headers: input.plan.target.headers },
          refs: {},
        }
      : {
          kind: 'multipart',
          parts: input.plan.parts.map((part) => ({
            partNumber: part.partNumber,
            start: part.start,
            end: part.end,
            target: { url: part.url, method: 'PUT', headers: part.headers },
          })),
          refs: {},
        };
  const { value, metrics } = await measure(() =>
    uploadPlan(plan, {
      s3,
      object: input.object,
      size: input.size,
      policy: { uploadHostAllowList: input.uploadHostAllowList, allowLoopbackHttp: true },
      partConcurrency: input.partConcurrency,
    }),
  );
  const output: UploadWorkerOutput = {
    ...metrics,
    bytes: input.size,
    eTag: value.eTag,
    parts: value.parts,
  };
  report(output);
  s3.destroy();
});
