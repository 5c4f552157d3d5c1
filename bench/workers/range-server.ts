/**
 * Bench child: a stand-in for S3 GetObject serving one object from a file, with Range support, so a
 * ranged read costs O(range) as it does on S3. moto reads the whole object for every ranged GET
 * (see docs/benchmarks.md), which would make multipart look slow for reasons that are moto's alone.
 * Prints `BENCH_READY <port>` once listening; runs until killed.
 */
import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { readInput, runMain } from './measure';
import type { RangeServerInput } from './protocol';

const RANGE = /^bytes=(\d+)-(\d*)$/;

function xmlError(res: http.ServerResponse, status: number, code: string): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${code}</Message></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

runMain(async () => {
  const input = readInput<RangeServerInput>();
  const size = statSync(input.file).size;
  const lastModified = new Date().toUTCString();
  const path = `/${input.bucket}/${input.key.split('/').map(encodeURIComponent).join('/')}`;
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    const pathname = url.split('?')[0];
    if (req.method !== 'GET' || pathname !== path) return xmlError(res, 404, 'NoSuchKey');
    const ifMatch = req.headers['if-match'];
    if (ifMatch !== undefined && ifMatch !== input.eTag) return xmlError(res, 412, 'PreconditionFailed');
    const match = RANGE.exec(req.headers.range ?? '');
    const start = match ? Number(match[1]) : 0;
    const end = match?.[2] ? Math.min(Number(match[2]), size - 1) : size - 1;
    if (start > end) return xmlError(res, 416, 'InvalidRange');
    res.writeHead(match ? 206 : 200, {
      'content-type': input.contentType,
      'content-length': String(end - start + 1),
      etag: input.eTag,
      'last-modified': lastModified,
      'accept-ranges': 'bytes',
      ...(match ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
    });
    pipeline(createReadStream(input.file, { start, end, highWaterMark: 1024 * 1024 }), res).catch(() =>
      res.destroy(),
    );
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`BENCH_READY ${(server.address() as AddressInfo).port}\n`);
  });
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
});
