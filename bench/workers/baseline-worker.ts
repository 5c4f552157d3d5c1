/**
 * Bench child: the simplest correct streaming copy — a `node:http` GET of the object (presigned URL)
 * piped into a `node:http` PUT with Content-Length. No SDK, no retries, no guards: the yardstick the
 * real uploader is compared with.
 */
import http, { type IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { measure, readInput, report, runMain } from './measure';
import type { BaselineWorkerInput, BaselineWorkerOutput } from './protocol';

function get(url: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    http.get(url, resolve).once('error', reject);
  });
}

async function copy(input: BaselineWorkerInput): Promise<number> {
  const source = await get(input.getUrl);
  if (source.statusCode !== 200) {
    source.resume();
    throw new Error(`GET answered ${source.statusCode}`);
  }
  const request = http.request(input.put.url, {
    method: 'PUT',
    headers: { ...input.put.headers, 'content-length': String(input.size) },
  });
  const answered = new Promise<IncomingMessage>((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', reject);
  });
  await pipeline(source, request);
  const response = await answered;
  response.resume();
  const status = response.statusCode ?? 0;
  if (status !== 200) throw new Error(`PUT answered ${status}`);
  return status;
}

runMain(async () => {
  const input = readInput<BaselineWorkerInput>();
  const { value, metrics } = await measure(() => copy(input));
  const output: BaselineWorkerOutput = { ...metrics, bytes: input.size, status: value };
  report(output);
});
