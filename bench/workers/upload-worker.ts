/**
 * Bench child: one delivery through the real uploader, `uploadPlan`, with an S3 client configured as
 * the dispatch handler configures its own. Only the transfer is timed.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { uploadPlan } from '../../functions/shared/upload/upload-plan';
import type { UploadPlan } from '../../functions/vendors/types';
import { measure, readInput, report, runMain } from './measure';
import type { UploadWorkerInput, UploadWorkerOutput } from './protocol';

runMain(async () => {
  const input = readInput<UploadWorkerInput>();
  const s3 = new S3Client({
    endpoint: input.s3.endpoint,
    region: input.s3.region,
    credentials: { accessKeyId: input.s3.accessKeyId, secretAccessKey: input.s3.secretAccessKey },
    forcePathStyle: true,
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
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
