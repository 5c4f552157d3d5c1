import type { IncomingMessage, ServerResponse } from 'node:http';
import { type FaultRegistry, injectedReply, TRUNCATED_JSON } from './faults';
import { header, jsonReply, type Reply, type Sleep, sendReply } from './http-util';
import { createMultipartReader } from './multipart';
import { createDigest, drain, type PendingBodies, streamBody } from './receive';
import type { CallRecord } from './types';
import type { ReceivedBody, StreamContext, StreamRoute } from './vendors/types';

/** What a stream upload works with. */
export interface StreamDeps {
  faults: FaultRegistry;
  sleep: Sleep;
  pendingBodies: PendingBodies;
}

/**
 * A request to a vendor's own upload endpoint (not an S3 presigned URL): faults of the vendor's `upload`
 * operation first, as for S3 uploads, then the route's handler, which reads the body through
 * `ctx.receive`.
 */
export async function handleStream(
  req: IncomingMessage,
  res: ServerResponse,
  route: StreamRoute,
  record: CallRecord,
  path: string,
  deps: StreamDeps,
): Promise<void> {
  const known = route.identify(path);
  if (known.fileName !== undefined) record.fileName = known.fileName;
  if (known.ref !== undefined) record.ref = known.ref;
  const answer = (reply: Reply): void => {
    record.status = reply.status;
    if (reply.error !== undefined) record.error = reply.error;
    sendReply(res, reply);
  };
  const length = Number(header(req.headers, 'content-length') ?? 0);
  let dropAt: number | undefined;

  const action = deps.faults.take(route.vendor, 'upload', record.fileName);
  if (action !== undefined) record.fault = action.kind;
  switch (action?.kind) {
    case 'delay':
      await deps.sleep(action.ms);
      break;
    case 'status':
      await drain(req);
      return answer(injectedReply(action, route.errorReply(action.status, 'Injected fault')));
    case 'malformed-json':
      await drain(req);
      return answer({ ...jsonReply(200, null), body: TRUNCATED_JSON });
    case 'hang':
      req.resume();
      return;
    case 'reset':
      // The connection drops mid-body: the client has sent about half, nothing is stored.
      dropAt = Math.floor(length / 2);
      break;
    default:
      break;
  }

  const ctx: StreamContext = {
    req,
    path,
    now: Date.now(),
    async receive(expected, { incomplete, multipartBoundary }) {
      const digest = createDigest(expected, header(req.headers, 'content-type') ?? '');
      const multipart =
        multipartBoundary === undefined
          ? undefined
          : createMultipartReader(multipartBoundary, (chunk) => digest.write(chunk));
      const whole = await streamBody(req, (chunk) => (multipart ?? digest).write(chunk), {
        length: expected,
        record,
        pending: deps.pendingBodies,
        incomplete,
        ...(dropAt === undefined ? {} : { dropAt }),
      });
      if (!whole) return undefined;
      const file = digest.finish();
      if (multipart === undefined) return { file };
      const { fileParts, malformed } = multipart.end();
      const body: ReceivedBody = { file, fileParts };
      if (malformed !== undefined) body.malformed = malformed;
      return body;
    },
  };
  if (dropAt !== undefined) {
    // The `reset` fault: read half the body, drop the connection, act on nothing.
    await ctx.receive(length, { incomplete: route.errorReply(400, 'incomplete body') });
    req.socket.destroy();
    return;
  }
  const reply = await route.handle(ctx);
  if (reply === undefined) return;
  if (action?.kind === 'reset-after-commit') {
    // Everything happened; the answer is lost.
    if (reply.error !== undefined) record.error = reply.error;
    req.socket.destroy();
    return;
  }
  answer(reply);
}
