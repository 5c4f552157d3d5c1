import { createHash } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { CallRecorder } from './call-log';
import { sendReply } from './http-util';

/**
 * The foreign listener's handler: "somebody else's server". It accepts whatever it is sent, as a
 * permissive server would, so a client that leaks a file there sees no error; the leak shows only in
 * `log.foreignRequests()`, which is what a test checks.
 */
export function recordForeignRequest(recorder: CallRecorder): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const rawUrl = req.url ?? '/';
    const queryAt = rawUrl.indexOf('?');
    const path = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
    const md5 = createHash('md5');
    let bytes = 0;
    let recorded = false;
    // Recorded once, when the body ends or the connection goes, so `bytes` counts what actually arrived.
    const note = (): void => {
      if (recorded) return;
      recorded = true;
      recorder.addForeign({ method: req.method ?? '', path, bytes });
    };
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      md5.update(chunk);
    });
    req.on('error', note);
    req.once('close', note);
    req.once('end', () => {
      note();
      sendReply(res, { status: 200, headers: { etag: `"${md5.digest('hex')}"` }, body: '' });
    });
  };
}
