import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  type EventSourceMappingConfiguration,
  GetFunctionCommand,
  paginateListEventSourceMappings,
} from '@aws-sdk/client-lambda';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { unzipSync } from 'fflate';
import { type AwsClients, LOCAL_CREDENTIALS } from './aws';

/**
 * What the local Lambda emulation needs of a deployed function and its SQS event sources, read back
 * from the endpoint it was deployed to: the configuration Lambda would run it with, and its code,
 * downloaded from where the deployment put it and checked against the function's CodeSha256.
 */

export interface DeployedFunction {
  readonly name: string;
  /** The function's own environment variables, as deployed. */
  readonly environment: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  /** The unpacked deployment package (Lambda's task root). */
  readonly codeDir: string;
  /** The handler module (`index.mjs` for `index.handler`) and its export. */
  readonly handlerFile: string;
  readonly handlerExport: string;
  readonly codeSha256: string;
}

export interface DeployedEventSource {
  readonly uuid: string;
  readonly functionName: string;
  readonly queueArn: string;
  readonly queueUrl: string;
  readonly enabled: boolean;
  readonly batchSize: number;
  readonly batchWindowSeconds: number;
  /** `ScalingConfig.MaximumConcurrency`; Lambda's default without it is about 1,250 pollers. */
  readonly maxConcurrency: number | undefined;
  readonly reportBatchItemFailures: boolean;
}

/**
 * AWS hands out a presigned URL; the embedded AWS (local/moto_server.py) the package's place in its
 * own S3, which takes a signed request.
 */
async function download(clients: AwsClients, location: string, functionName: string): Promise<Uint8Array> {
  const url = new URL(location);
  const endpoint = clients.endpoint ? new URL(clients.endpoint) : undefined;
  const loopback = (host: string) => host === 'localhost' || host.startsWith('127.');
  // The embedded AWS on loopback, named localhost or 127.0.0.1, reached directly or behind a local
  // proxy (the bench's timing proxy): a signed GET of that very server.
  if (endpoint && loopback(url.hostname) && loopback(endpoint.hostname)) {
    const [, bucket = '', ...key] = url.pathname.split('/');
    const s3 =
      url.port === endpoint.port
        ? clients.s3
        : new S3Client({
            endpoint: url.origin,
            region: clients.region,
            credentials: LOCAL_CREDENTIALS,
            forcePathStyle: true,
          });
    try {
      const out = await s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: decodeURIComponent(key.join('/')) }),
      );
      if (!out.Body) throw new Error(`no code at ${location} for ${functionName}`);
      return await out.Body.transformToByteArray();
    } finally {
      if (s3 !== clients.s3) s3.destroy();
    }
  }
  const response = await fetch(location);
  if (!response.ok) throw new Error(`cannot download the code of ${functionName}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** Downloads and unpacks a function's deployment package into `workDir/<name>/`. */
export async function loadDeployedFunction(
  clients: AwsClients,
  functionName: string,
  workDir: string,
): Promise<DeployedFunction> {
  const out = await clients.lambda.send(new GetFunctionCommand({ FunctionName: functionName }));
  const config = out.Configuration;
  const location = out.Code?.Location;
  if (!config || !location) throw new Error(`function ${functionName} has no code location`);
  const zip = await download(clients, location, functionName);
  const sha = createHash('sha256').update(zip).digest('base64');
  if (config.CodeSha256 && sha !== config.CodeSha256) {
    throw new Error(`the code downloaded for ${functionName} does not match its CodeSha256`);
  }
  const codeDir = path.join(workDir, functionName);
  for (const [name, bytes] of Object.entries(unzipSync(zip))) {
    if (name.endsWith('/')) continue;
    const file = path.join(codeDir, name);
    if (!file.startsWith(`${codeDir}${path.sep}`)) throw new Error(`unsafe path in the package: ${name}`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, bytes);
  }
  const [moduleName = 'index', handlerExport = 'handler'] = (config.Handler ?? 'index.handler').split(
    /\.(?=[^.]+$)/,
  );
  const files = Object.keys(unzipSync(zip));
  const handlerFile = ['.mjs', '.js', '.cjs']
    .map((ext) => `${moduleName}${ext}`)
    .find((candidate) => files.includes(candidate));
  if (!handlerFile) throw new Error(`the package of ${functionName} has no ${moduleName}.mjs/.js`);
  return {
    name: functionName,
    environment: config.Environment?.Variables ?? {},
    timeoutSeconds: config.Timeout ?? 3,
    memoryMb: config.MemorySize ?? 128,
    codeDir,
    handlerFile: path.join(codeDir, handlerFile),
    handlerExport,
    codeSha256: sha,
  };
}

/** The SQS event source mappings of a function, as deployed. */
export async function loadEventSources(
  clients: AwsClients,
  functionName: string,
): Promise<DeployedEventSource[]> {
  const mappings: EventSourceMappingConfiguration[] = [];
  for await (const page of paginateListEventSourceMappings(
    { client: clients.lambda },
    { FunctionName: functionName },
  )) {
    mappings.push(...(page.EventSourceMappings ?? []));
  }
  const sources: DeployedEventSource[] = [];
  for (const m of mappings) {
    const arn = m.EventSourceArn ?? '';
    if (arn.split(':')[2] !== 'sqs') continue;
    const queueName = arn.split(':')[5] ?? '';
    const url = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: queueName }));
    sources.push({
      uuid: m.UUID ?? '',
      functionName,
      queueArn: arn,
      queueUrl: url.QueueUrl ?? '',
      enabled: m.State !== 'Disabled',
      batchSize: m.BatchSize ?? 10,
      batchWindowSeconds: m.MaximumBatchingWindowInSeconds ?? 0,
      maxConcurrency: m.ScalingConfig?.MaximumConcurrency,
      reportBatchItemFailures: (m.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures'),
    });
  }
  return sources;
}
