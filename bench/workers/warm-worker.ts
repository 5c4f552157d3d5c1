/**
 * Bench child: many deliveries in one warm process, as a warm Lambda sandbox makes them — the real
 * uploader (`uploadPlan`, one S3 client for the process, as the dispatch handler keeps) and the
 * baseline copy, alternating. Each delivery is timed on its own; the first few of each kind warm up.
 */
import { uploadPlan } from '../../functions/shared/upload/upload-plan';
import { baselineCopy, dispatchS3Client, readInput, report, runMain } from './measure';
import type { WarmWorkerInput, WarmWorkerOutput } from './protocol';

runMain(async () => {
  const input = readInput<WarmWorkerInput>();
  const s3 = dispatchS3Client(input.s3);
  const pipelineMs: number[] = [];
  const baselineMs: number[] = [];
  for (const delivery of input.deliveries) {
    const started = performance.now();
    if (delivery.kind === 'pipeline') {
      await uploadPlan(
        {
          kind: 'single',
          target: { url: delivery.put.url, method: 'PUT', headers: delivery.put.headers },
          refs: {},
        },
        {
          s3,
          object: input.object,
          size: input.size,
          policy: { uploadHostAllowList: input.uploadHostAllowList, allowLoopbackHttp: true },
          partConcurrency: 1,
        },
      );
      pipelineMs.push(performance.now() - started);
    } else {
      await baselineCopy(
        delivery.getUrl ?? '',
        { url: delivery.put.url, headers: { ...delivery.put.headers } },
        input.size,
      );
      baselineMs.push(performance.now() - started);
    }
  }
  const output: WarmWorkerOutput = { pipelineMs, baselineMs };
  report(output);
  s3.destroy();
});
