/**
 * Bench child: many deliveries in one warm process, as a warm Lambda sandbox makes them — the real
 * uploader (`uploadPlan`, one S3 client for the process, as the dispatch handler keeps) and the
 * baseline copy, alternating. Each delivery is timed on its own; the first few of each kind warm up.
 */
import http, { type IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { S3Client } from '@aws-sdk/client-s3';
import { uploadPlan } from '../../functions/shared/upload/upload-plan';
import { readInput, report, runMain } from './measure';
import type { WarmWorkerInput, WarmWorkerOutput } from './protocol';

function get(url: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    http.get(url, resolve).once('error', reject);
  });
}

async function baselineCopy(
  getUrl: string,
  put: { url: string; headers: Record<string, string> },
  size: number,
) {
  const source = await get(getUrl);
  if (source.statusCode !== 200) {
    source.resume();
    throw new Error(`GET answered ${source.statusCode}`);
  }
  const request = http.request(put.url, {
    method: 'PUT',
    headers: { ...put.headers, 'content-length': String(size) },
  });
  const answered = new Promise<IncomingMessage>((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', reject);
  });
  await pipeline(source, request);
  const response = await answered;
  response.resume();
  if (response.statusCode !== 200) throw new Error(`PUT answered ${response.statusCode}`);
}

runMain(async () => {
  const input = readInput<WarmWorkerInput>();
  const s3 = new S3Client({
    endpoint: input.s3.endpoint,
    region: input.s3.region,
    credentials: { accessKeyId: input.s3.accessKeyId, secretAccessKey: input.s3.secretAccessKey },
    forcePathStyle: true,
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
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
