import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CallRecorder } from './call-log';
import { type FaultRegistry, injectedReply, TRUNCATED_JSON } from './faults';
import { jsonReply, type Reply, type Sleep, s3ErrorReply, sendReply } from './http-util';
import type { UrlSigner } from './s3-presign';
import type { SandboxVendor } from './types';
import type { Download } from './vendors/types';

/** The files vendors serve over signed GET links, by bucket and id. */
export interface DownloadStore {
  publish(vendor: SandboxVendor, bucket: string, download: Download): void;
  /** The files published so far (rendered as a GET of their link would serve them). */
  list(filter?: DownloadFilter): PublishedFile[];
  reset(): void;
}

/** Narrows {@link DownloadStore.list}: the uploaded file it is about, or the vendor id. */
export interface DownloadFilter {
  readonly about?: string;
  readonly ref?: string;
}

/** A file a vendor serves over a signed link (ClearTax's file of rejected rows). */
export interface PublishedFile {
  readonly vendor: SandboxVendor;
  readonly fileName: string;
  readonly about: string;
  readonly ref: string;
  readonly contentType: string;
  readonly body: string;
}

/** What the download endpoint works with. */
export interface DownloadDeps {
  signer: UrlSigner;
  faults: FaultRegistry;
  recorder: CallRecorder;
  sleep: Sleep;
}

/** Creates an empty store and the handler of `GET /_s3/<download bucket>/<id>/<name>`. */
export function createDownloads(deps: DownloadDeps): DownloadStore & {
  /** Serves one request to a download bucket, recorded as `vendor`'s `download`. */
  handle(
    req: IncomingMessage,
    res: ServerResponse,
    vendor: SandboxVendor,
    bucket: string,
    path: string,
  ): Promise<void>;
} {
  let published = new Map<string, { vendor: SandboxVendor; download: Download }>();
  const key = (bucket: string, id: string) => `${bucket}/${id}`;

  return {
    publish(vendor, bucket, download) {
      published.set(key(bucket, download.id), { vendor, download });
    },
    list(filter = {}) {
      return [...published.values()]
        .filter(
          ({ download }) =>
            (filter.about === undefined || download.about === filter.about) &&
            (filter.ref === undefined || download.ref === filter.ref),
        )
        .map(({ vendor, download }) => ({
          vendor,
          fileName: download.fileName,
          about: download.about,
          ref: download.ref,
          contentType: download.contentType,
          body: download.render(),
        }));
    },
    reset() {
      published = new Map();
    },
    async handle(req, res, vendor, bucket, path) {
      const [, id] = path.split('/').slice(2);
      const entry = published.get(key(bucket, id ?? ''));
      const record = deps.recorder.begin(vendor, 'download', req.method ?? 'GET', path);
      if (entry !== undefined) {
        record.fileName = entry.download.about;
        record.ref = entry.download.ref;
      }
      const answer = (reply: Reply): void => {
        record.status = reply.status;
        if (reply.error !== undefined) record.error = reply.error;
        sendReply(res, reply);
      };
      req.resume();

      const action = deps.faults.take(vendor, 'download', record.fileName);
      if (action !== undefined) record.fault = action.kind;
      switch (action?.kind) {
        case 'delay':
          await deps.sleep(action.ms);
          break;
        case 'status':
          return answer(
            injectedReply(action, s3ErrorReply(action.status, 'InternalError', 'Injected fault')),
          );
        case 'malformed-json':
          return answer({ ...jsonReply(200, null), body: TRUNCATED_JSON });
        case 'reset':
        case 'reset-after-commit':
          // Nothing to commit on a GET: either way the connection drops without an answer.
          req.socket.destroy();
          return;
        case 'hang':
          return;
        default:
          break;
      }

      const verified = deps.signer.verify(req.method ?? '', req.url ?? '', req.headers, Date.now());
      if (!verified.ok) return answer(verified.reply);
      if (entry === undefined || verified.target.bucket !== bucket) {
        // Validly signed but unknown: the sandbox was reset since the link was handed out.
        return answer(s3ErrorReply(404, 'NoSuchKey', 'The specified key does not exist.'));
      }
      const body = entry.download.render();
      answer({
        status: 200,
        headers: {
          'content-type': entry.download.contentType,
          etag: `"${createHash('md5').update(body).digest('hex')}"`,
        },
        body,
      });
    },
  };
}
