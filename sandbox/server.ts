import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type AdminDeps, handleAdmin } from './admin';
import { createCallRecorder } from './call-log';
import { resolveCredentials } from './credentials';
import { createDownloads } from './downloads';
import { createFaultRegistry, injectedReply, TRUNCATED_JSON } from './faults';
import { recordForeignRequest } from './foreign';
import { jsonReply, MAX_API_BODY, type Reply, readText, s3ErrorReply, sendReply } from './http-util';
import { createObjectStore } from './object-store';
import type { PendingBodies } from './receive';
import { createUrlSigner, S3_PATH_PREFIX } from './s3-presign';
import { handleUpload, type UploadDeps } from './s3-upload';
import { handleStream } from './stream-upload';
import type { CallRecord, Sandbox, SandboxOptions, SandboxVendor } from './types';
import { VENDOR_DEFINITIONS } from './vendors/index';
import type {
  ApiRequest,
  ApiRoute,
  PresignOverrides,
  ResolvedOptions,
  VendorDefinition,
  VendorEnv,
  VendorModule,
} from './vendors/types';

const ADMIN_PREFIX = '/_sandbox/';

/**
 * Starts the vendor sandbox: one loopback HTTP server speaking the registered vendor contracts and the S3
 * presigned-URL rules, plus a second listener on `foreignHost` that only records what reaches it.
 */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const settings: ResolvedOptions = {
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    foreignHost: options.foreignHost ?? '127.0.0.2',
    jobDurationMs: options.jobDurationMs ?? 3000,
    errorFileTtlSeconds: options.errorFileTtlSeconds ?? 3600,
    tokenTtlMs: options.tokenTtlMs ?? 3_600_000,
    mintDailyLimit: options.mintDailyLimit ?? 288,
    clevertapMaxConcurrent: options.clevertapMaxConcurrent ?? 3,
    clevertapLatencyMs: options.clevertapLatencyMs ?? 25,
    clevertapSingleUploadLimit: options.clevertapSingleUploadLimit ?? 100 * 1024 * 1024,
    minPartSize: options.minPartSize ?? 5 * 1024 * 1024,
    slackCallsPerMinute: options.slackCallsPerMinute ?? 100,
  };
  const { errorFileTtlSeconds } = settings;
  if (!Number.isInteger(errorFileTtlSeconds) || errorFileTtlSeconds < 1 || errorFileTtlSeconds > 604_800) {
    // S3's own bounds on X-Amz-Expires: a link outside them could never be fetched.
    throw new RangeError(
      `errorFileTtlSeconds must be an integer from 1 to 604800, got ${errorFileTtlSeconds}`,
    );
  }
  const credentials = resolveCredentials(options.credentials);
  const recorder = createCallRecorder();
  const faults = createFaultRegistry();
  const bucketByVendor = new Map<SandboxVendor, string>();
  const downloadBucketByVendor = new Map<SandboxVendor, string>();
  for (const definition of VENDOR_DEFINITIONS) {
    if (definition.bucket !== undefined) bucketByVendor.set(definition.name, definition.bucket);
    if (definition.downloadBucket !== undefined) {
      downloadBucketByVendor.set(definition.name, definition.downloadBucket);
    }
  }
  const store = createObjectStore((vendor) => {
    const bucket = bucketByVendor.get(vendor);
    if (bucket === undefined) throw new Error(`${vendor} declares no bucket for presigned URLs`);
    return bucket;
  });
  const signer = createUrlSigner();
  const writeLog = options.log;

  const timers = new Set<NodeJS.Timeout>();
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      // Cleared by close(); unref'd as well so a sandbox nobody closes cannot hold the process open.
      timer.unref();
      timers.add(timer);
    });
  const downloads = createDownloads({ signer, faults, recorder, sleep });
  const sockets = new Set<Socket>();
  const pendingBodies: PendingBodies = new WeakMap();

  // No whole-request deadline (Node's default is 300 s): a multi-GB upload over a slow link is legitimate.
  const main = createServer({ keepAliveTimeout: 5000, requestTimeout: 0 });
  const foreign = createServer();
  for (const server of [main, foreign]) {
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
  }
  await listen(main, settings.port, settings.host);
  const port = (main.address() as AddressInfo).port;
  // The same port on the second address when it is free, so the two URLs differ only by host.
  await listen(foreign, port, settings.foreignHost).catch(() => listen(foreign, 0, settings.foreignHost));
  const foreignPort = (foreign.address() as AddressInfo).port;
  const url = `http://${urlHost(settings.host)}:${port}`;
  const foreignUrl = `http://${urlHost(settings.foreignHost)}:${foreignPort}`;

  const env: VendorEnv = {
    options: settings,
    credentials,
    store,
    url,
    foreignUrl,
    recordUpload({ vendor, objectId, fileName, bytes }) {
      recorder.addUpload({
        vendor,
        objectId,
        fileName,
        size: bytes.size,
        sha256Hex: bytes.sha256Hex,
        sha256Base64: bytes.sha256Base64,
        md5Hex: bytes.md5Hex,
        contentType: bytes.contentType,
        at: bytes.at,
      });
    },
    presignUrl(object, expiresInSeconds, overrides, now, partNumber) {
      return signer.sign({
        origin: overrides.foreign ? foreignUrl : url,
        bucket: object.bucket,
        objectId: object.objectId,
        fileName: object.fileName,
        contentType: object.contentType,
        expiresInSeconds,
        // Signed long enough ago that the expiry has passed.
        signedAt: overrides.expired ? now - (expiresInSeconds + 60) * 1000 : now,
        ...(partNumber === undefined ? {} : { partNumber, uploadId: object.multipart?.uploadId ?? '' }),
      });
    },
    signDownload(vendor, download, expiresInSeconds, now) {
      const bucket = downloadBucketByVendor.get(vendor);
      if (bucket === undefined) throw new Error(`${vendor} declares no downloadBucket`);
      downloads.publish(vendor, bucket, download);
      return signer.sign({
        origin: url,
        method: 'GET',
        bucket,
        objectId: download.id,
        fileName: download.fileName,
        contentType: '',
        expiresInSeconds,
        signedAt: now,
      });
    },
  };
  const modules = new Map<SandboxVendor, VendorModule>();
  for (const definition of VENDOR_DEFINITIONS) {
    const module = definition.create(env);
    checkDeclaration(definition, module);
    modules.set(definition.name, module);
  }
  const moduleOf = (vendor: SandboxVendor): VendorModule => {
    const module = modules.get(vendor);
    if (module === undefined) throw new Error(`no sandbox vendor ${vendor}`);
    return module;
  };
  const routes = [...modules.values()].flatMap((module) => module.routes);
  const streamRoutes = [...modules.values()].flatMap((module) => module.streamRoutes ?? []);
  const vendorByBucket = new Map([...bucketByVendor].map(([vendor, bucket]) => [bucket, vendor]));
  const vendorByDownloadBucket = new Map(
    [...downloadBucketByVendor].map(([vendor, bucket]) => [bucket, vendor]),
  );

  function reset(): void {
    recorder.reset();
    faults.clear();
    store.reset();
    downloads.reset();
    for (const module of modules.values()) module.reset();
  }

  const admin: AdminDeps = { recorder, faults, reset, url, foreignUrl };
  const uploadDeps: UploadDeps = {
    store,
    signer,
    faults,
    recorder,
    sleep,
    singleUploadLimit: (vendor) => moduleOf(vendor).singleUploadLimit,
    pendingBodies,
  };

  /** Opens the call record and logs the call once it is over, answered or not. */
  function track(res: ServerResponse, record: CallRecord): void {
    res.once('close', () => {
      writeLog?.(
        `${record.method} ${record.path} ${record.status === 0 ? 'no answer' : record.status} ` +
          `[${record.vendor} ${record.operation}${record.fault === undefined ? '' : ` fault=${record.fault}`}]`,
      );
    });
  }

  async function handleApi(
    req: IncomingMessage,
    res: ServerResponse,
    route: ApiRoute,
    params: Record<string, string>,
    path: string,
    query: URLSearchParams,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    const record = recorder.begin(route.vendor, route.operation, method, path);
    track(res, record);
    const module = moduleOf(route.vendor);
    const answer = (reply: Reply): void => {
      record.status = reply.status;
      if (reply.error !== undefined) record.error = reply.error;
      sendReply(res, reply);
    };
    if (!allows(route, method)) {
      return answer({
        ...module.errorReply(405, `Method ${method} not allowed`),
        error: 'method not allowed',
      });
    }
    const admission = module.admit?.(req.headers);
    if (admission !== undefined && 'reply' in admission) return answer(admission.reply);
    if (admission !== undefined) res.once('close', admission.release);
    if (module.latencyMs !== undefined && module.latencyMs > 0) await sleep(module.latencyMs);

    const body = method === 'POST' ? await readText(req) : '';
    if (body === undefined) {
      return answer(module.errorReply(413, `Request body larger than ${MAX_API_BODY} bytes`));
    }
    const request: ApiRequest = { method, path, params, query, headers: req.headers, body };
    const identified = route.identify?.(request) ?? {};
    if (identified.fileName !== undefined) record.fileName = identified.fileName;
    if (identified.ref !== undefined) record.ref = identified.ref;

    const action = faults.take(route.vendor, route.operation, record.fileName);
    if (action !== undefined) record.fault = action.kind;
    const presign: PresignOverrides = { expired: false, foreign: false };
    switch (action?.kind) {
      case 'delay':
        await sleep(action.ms);
        break;
      case 'status':
        return answer(injectedReply(action, module.errorReply(action.status, 'Injected fault')));
      case 'reset':
        req.socket.destroy();
        return;
      case 'hang':
        return;
      case 'malformed-json':
        return answer({ ...jsonReply(200, null), body: TRUNCATED_JSON });
      case 'expired-url':
        presign.expired = true;
        break;
      case 'foreign-host':
        presign.foreign = true;
        break;
      default:
        break;
    }

    let reply: Reply;
    try {
      reply = route.handle(request, presign, Date.now());
    } catch (error) {
      reply = { ...module.errorReply(500, 'Internal error'), error: `sandbox error: ${String(error)}` };
    }
    if (reply.fileName !== undefined) record.fileName = reply.fileName;
    if (reply.ref !== undefined) record.ref = reply.ref;
    if (action?.kind === 'reset-after-commit') {
      if (reply.error !== undefined) record.error = reply.error;
      req.socket.destroy();
      return;
    }
    answer(reply);
  }

  main.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const rawUrl = req.url ?? '/';
    const queryAt = rawUrl.indexOf('?');
    const path = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
    const query = new URLSearchParams(queryAt === -1 ? '' : rawUrl.slice(queryAt + 1));
    const done = (work: Promise<void> | undefined): void => {
      work?.catch((error: unknown) => {
        writeLog?.(`sandbox error on ${req.method} ${path}: ${String(error)}`);
        sendReply(res, jsonReply(500, { error: 'sandbox internal error' }));
      });
    };
    if (path.startsWith(ADMIN_PREFIX)) {
      return done(handleAdmin(req, res, path.slice(ADMIN_PREFIX.length), query, admin));
    }
    if (path.startsWith(S3_PATH_PREFIX)) {
      const [bucket, objectId] = path.slice(S3_PATH_PREFIX.length).split('/');
      const downloadVendor = vendorByDownloadBucket.get(bucket ?? '');
      if (downloadVendor !== undefined) {
        return done(downloads.handle(req, res, downloadVendor, bucket ?? '', path));
      }
      const vendor = vendorByBucket.get(bucket ?? '');
      if (vendor === undefined) {
        return sendReply(res, s3ErrorReply(404, 'NoSuchBucket', 'The specified bucket does not exist'));
      }
      const record = recorder.begin(vendor, 'upload', req.method ?? 'PUT', path);
      track(res, record);
      return done(handleUpload(req, res, record, objectId, uploadDeps));
    }
    for (const route of streamRoutes) {
      if (!route.pattern.test(path)) continue;
      const record = recorder.begin(route.vendor, 'upload', req.method ?? 'POST', path);
      track(res, record);
      return done(handleStream(req, res, route, record, path, { faults, sleep, pendingBodies }));
    }
    // The first route of the path that takes the method; else the path's first route answers 405.
    let matched: { route: ApiRoute; match: RegExpExecArray } | undefined;
    for (const route of routes) {
      const match = route.pattern.exec(path);
      if (match === null) continue;
      matched ??= { route, match };
      if (allows(route, req.method ?? 'GET')) {
        matched = { route, match };
        break;
      }
    }
    if (matched !== undefined) {
      return done(handleApi(req, res, matched.route, { ...matched.match.groups }, path, query));
    }
    sendReply(res, jsonReply(404, { error: 'NotFound', message: `No vendor endpoint at ${path}` }));
  });

  main.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const pending = pendingBodies.get(socket);
    if (pending !== undefined && error.code === 'HPE_INVALID_EOF_STATE' && socket.writable) {
      // The client half-closed before sending Content-Length bytes (S3 answers IncompleteBody).
      pending.record.status = pending.incomplete.status;
      if (pending.incomplete.error !== undefined) pending.record.error = pending.incomplete.error;
      socket.end(rawResponse(pending.incomplete));
      return;
    }
    if (socket.writable && error.code !== 'ECONNRESET') {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    } else {
      socket.destroy();
    }
  });

  foreign.on('request', recordForeignRequest(recorder));

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    foreignUrl,
    credentials,
    faults: { inject: (spec) => faults.inject(spec), clear: () => faults.clear(), list: () => faults.list() },
    log: recorder.view,
    downloads: (filter = {}) => downloads.list(filter),
    reset,
    close() {
      closing ??= (async () => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        const closed = Promise.all([closeServer(main), closeServer(foreign)]);
        for (const socket of sockets) socket.destroy();
        await closed;
      })();
      return closing;
    },
  };
}

function allows(route: ApiRoute, method: string): boolean {
  return typeof route.method === 'string' ? route.method === method : route.method.includes(method as 'GET');
}

/**
 * A module must serve exactly the operations its definition declares: fault validation trusts the
 * declaration, so a mismatch would let a fault wait on an endpoint that does not exist.
 */
function checkDeclaration(definition: VendorDefinition, module: VendorModule): void {
  const served = new Set<string>(module.routes.map((route) => route.operation));
  if (definition.bucket !== undefined) served.add('upload');
  if (definition.downloadBucket !== undefined) served.add('download');
  if ((module.streamRoutes ?? []).length > 0) served.add('upload');
  for (const route of [...module.routes, ...(module.streamRoutes ?? [])]) {
    if (route.vendor !== definition.name) {
      throw new Error(`${definition.name} serves a route recorded as ${route.vendor}`);
    }
  }
  const declared = new Set<string>(definition.operations);
  const missing = [...declared].filter((operation) => !served.has(operation));
  const undeclared = [...served].filter((operation) => !declared.has(operation));
  if (missing.length > 0 || undeclared.length > 0) {
    throw new Error(
      `${definition.name} declares operations it does not serve (${missing.join(', ') || 'none'}) ` +
        `or serves undeclared ones (${undeclared.join(', ') || 'none'})`,
    );
  }
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      server.off('listening', onListening);
      reject(error);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

function rawResponse(reply: Reply): string {
  const headers = Object.entries({
    ...reply.headers,
    'content-length': String(Buffer.byteLength(reply.body)),
  })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? ''}\r\n${headers}connection: close\r\n\r\n${reply.body}`;
}
