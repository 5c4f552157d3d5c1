import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { stackTarget } from '../../cli/target';
import { createVendorHttp } from '../../functions/shared/http/vendor-http';
import { resolveRouteFile, routesFromDocument } from '../../functions/shared/routes/load';
import type { ResolvedRoute } from '../../functions/shared/routes/schema';
import { clevertapCatalogAdapter } from '../../functions/vendors/clevertap-catalog/adapter';
import {
  type ClevertapOptions,
  ClevertapOptionsSchema,
  type ClevertapSecret,
} from '../../functions/vendors/clevertap-catalog/schemas';
import { adapterFor } from '../../functions/vendors/registry';
import type {
  CompletionResult,
  FileDescriptor,
  UploadPlan,
  UploadResult,
  VendorContext,
} from '../../functions/vendors/types';
import { type AwsClients, awsClients } from '../../local/aws';
import { type DeployedStack, deployStack } from '../../local/deploy';
import { type MotoServer, startMoto } from '../../local/moto';
import { PROJECT_ROOT } from '../../local/pipeline';
import { synthesize } from '../../local/synth';
import { type Sandbox, startSandbox } from '../../sandbox';
import { MemoryTokenCache } from '../../test/support/memory-token-cache';
import type { ObjectLocation, PartTarget, PutTarget, S3Access } from '../workers/protocol';
import { contentSha256Hex, contentStream } from './content';
import { childPids, memoryOf } from './proc';
import { GB, sizeLabel } from './units';

/** moto accepts any key pair. */
const LOCAL_KEYS = { accessKeyId: 'local', secretAccessKey: 'local' };
/** Bench objects live outside every route prefix of the stack's ingest bucket: no notifications. */
const BENCH_PREFIX = 'bench/';
const ROUTE_ID = 'clevertap-catalogs';
const CATALOG_ID = 1001;

export interface BenchObject extends ObjectLocation {
  readonly size: number;
  readonly eTag: string;
  readonly sha256Hex: string;
  /** Time moto took to take the object (streamed PutObject), ms. */
  readonly putMs: number;
}

/** A fresh plan from the real CleverTap adapter, as the worker needs it. */
export type BenchPlan = (
  | { readonly kind: 'single'; readonly target: PutTarget }
  | { readonly kind: 'multipart'; readonly parts: readonly PartTarget[] }
) & {
  readonly file: FileDescriptor;
  readonly plan: UploadPlan;
  readonly options: ClevertapOptions;
};

/**
 * What the transfer sections share: one moto holding the bench objects, one vendor sandbox, and the
 * real CleverTap adapter presigning against it (single or multipart plans).
 */
export interface TransferFixture {
  readonly moto: MotoServer;
  readonly motoPid: number | undefined;
  readonly clients: AwsClients;
  /** The `local` stage's stack, deployed on the bench's moto (its ingest bucket holds the objects). */
  readonly stack: DeployedStack;
  readonly s3: S3Access;
  readonly sandbox: Sandbox;
  readonly route: ResolvedRoute;
  object(size: number): Promise<BenchObject>;
  presign(object: BenchObject, fileName: string, multipart?: { partSizeBytes: number }): Promise<BenchPlan>;
  /** Mark-complete (and complete-multipart): the sandbox checks part ETags, order, sizes and fileSize. */
  complete(plan: BenchPlan, upload: UploadResult): Promise<CompletionResult>;
  stop(): Promise<void>;
}

function benchRoute(sandboxUrl: string): ResolvedRoute {
  const raw = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'config/routes.json'), 'utf8')) as {
    stages?: Record<string, unknown>;
  };
  raw.stages = {
    ...raw.stages,
    bench: {
      allowLoopbackHttp: true,
      routes: { [ROUTE_ID]: { baseUrl: sandboxUrl, uploadHostAllowList: [new URL(sandboxUrl).host] } },
    },
  };
  const route = routesFromDocument(resolveRouteFile(raw, 'bench', adapterFor)).find((r) => r.id === ROUTE_ID);
  if (!route) throw new Error(`config/routes.json has no route ${ROUTE_ID}`);
  return route;
}

const silentLog = { debug() {}, info() {}, warn() {} };

export async function startTransferFixture(tmpDir: string): Promise<TransferFixture> {
  const moto = await startMoto();
  const cleanups: Array<() => Promise<void>> = [() => moto.stop()];
  try {
    const motoPid = childPids(process.pid, 'moto')[0];
    const synth = synthesize({ stage: 'local' }, { outDir: path.join(tmpDir, 'cdk.out') });
    const clients = awsClients(moto.endpoint, synth.region);
    const stack = await deployStack(clients, synth);
    const bucket = (await stackTarget(clients, synth.stackName)).resources.bucket;
    // CleverTap's real single-PUT cap (100 MB) is lifted so one vendor flow serves every size; the
    // sandbox still applies S3's own 5 GB cap, signatures, Content-Length and hashing.
    const sandbox = await startSandbox({ clevertapSingleUploadLimit: 5 * GB });
    cleanups.push(() => sandbox.close());
    const route = benchRoute(sandbox.url);
    const secret: ClevertapSecret = {
      accountId: sandbox.credentials.clevertap.accountId,
      token: sandbox.credentials.clevertap.token,
    };
    const objects = new Map<number, Promise<BenchObject>>();

    const contextFor = (options: ClevertapOptions): VendorContext<ClevertapSecret, ClevertapOptions> => ({
      route,
      options,
      secret,
      http: createVendorHttp({ baseUrl: route.baseUrl, timeoutMs: 30_000 }),
      tokens: new MemoryTokenCache(),
      log: silentLog,
      now: Date.now,
    });
    const optionsFor = (size: number, multipart?: { partSizeBytes: number }): ClevertapOptions =>
      ClevertapOptionsSchema.parse({
        ...route.options,
        catalogId: CATALOG_ID,
        // The adapter goes multipart at this size or more.
        singleUploadLimitBytes: multipart ? 1 : size + 1,
        ...(multipart ? { partSizeBytes: multipart.partSizeBytes } : {}),
      });

    async function putObject(size: number): Promise<BenchObject> {
      const key = `${BENCH_PREFIX}object-${sizeLabel(size)}.csv`;
      const started = performance.now();
      const out = await clients.s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: contentStream(size),
          ContentLength: size,
          ContentType: 'text/csv',
        }),
      );
      const putMs = performance.now() - started;
      if (!out.ETag) throw new Error(`moto gave no ETag for ${key}`);
      return { bucket, key, size, eTag: out.ETag, sha256Hex: contentSha256Hex(size), putMs };
    }

    return {
      moto,
      motoPid,
      clients,
      stack,
      s3: { endpoint: moto.endpoint, region: clients.region, ...LOCAL_KEYS },
      sandbox,
      route,
      object(size) {
        let pending = objects.get(size);
        if (!pending) {
          pending = putObject(size);
          objects.set(size, pending);
        }
        return pending;
      },
      async presign(object, fileName, multipart) {
        const options = optionsFor(object.size, multipart);
        const file: FileDescriptor = {
          bucket: object.bucket,
          key: object.key,
          versionId: undefined,
          eTag: object.eTag.replaceAll('"', ''),
          size: object.size,
          fileName,
          extension: 'csv',
          contentType: 'text/csv',
        };
        const plan = await clevertapCatalogAdapter.requestUpload(file, contextFor(options));
        if (plan.kind === 'single') {
          return {
            kind: 'single',
            target: { url: plan.target.url, headers: plan.target.headers },
            file,
            plan,
            options,
          };
        }
        if (plan.kind === 'multipart') {
          const parts = plan.parts.map((part) => ({
            partNumber: part.partNumber,
            start: part.start,
            end: part.end,
            url: part.target.url,
            headers: part.target.headers,
          }));
          return { kind: 'multipart', parts, file, plan, options };
        }
        throw new Error(`unexpected plan ${plan.kind}`);
      },
      complete(plan, upload) {
        return clevertapCatalogAdapter.complete(
          { file: plan.file, upload, refs: plan.plan.refs },
          { ...contextFor(plan.options), checkpoint: async () => undefined },
        );
      },
      async stop() {
        for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
      },
    };
  } catch (error) {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    throw error;
  }
}

/** moto's resident set now and at its peak, MB (Linux only). */
export function motoMemory(fixture: {
  motoPid: number | undefined;
}): { rssMb: number; peakRssMb: number } | undefined {
  return fixture.motoPid === undefined ? undefined : memoryOf(fixture.motoPid);
}
