import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CallRecorder } from './call-log';
import { type FaultRegistry, FaultSpecSchema } from './faults';
import { jsonReply, readText, sendReply } from './http-util';
import type { CallFilter, FaultSpec, UploadFilter } from './types';

/** What the admin endpoints reach into. */
export interface AdminDeps {
  recorder: CallRecorder;
  faults: FaultRegistry;
  reset(): void;
  url: string;
  foreignUrl: string;
}

const NO_CONTENT = { status: 204, headers: {}, body: '' };

/**
 * `/_sandbox/<endpoint>`: the call log, fault injection and reset over HTTP, for tests and tools that
 * run the sandbox in another process (`npm run sandbox`).
 */
export async function handleAdmin(
  req: IncomingMessage,
  res: ServerResponse,
  endpoint: string,
  query: URLSearchParams,
  deps: AdminDeps,
): Promise<void> {
  const { recorder, faults } = deps;
  const route = `${req.method} ${endpoint}`;
  switch (route) {
    case 'GET health':
      return sendReply(res, jsonReply(200, { status: 'ok', url: deps.url, foreignUrl: deps.foreignUrl }));
    case 'GET calls':
      return sendReply(
        res,
        jsonReply(200, recorder.view.calls(pick(query, ['vendor', 'operation', 'fileName']) as CallFilter)),
      );
    case 'GET uploads':
      return sendReply(
        res,
        jsonReply(
          200,
          recorder.view.uploads(pick(query, ['vendor', 'fileName', 'objectId']) as UploadFilter),
        ),
      );
    case 'GET foreign':
      return sendReply(res, jsonReply(200, recorder.view.foreignRequests()));
    case 'GET faults':
      return sendReply(res, jsonReply(200, faults.list()));
    case 'DELETE faults':
      faults.clear();
      return sendReply(res, NO_CONTENT);
    case 'POST reset':
      deps.reset();
      return sendReply(res, NO_CONTENT);
    case 'POST faults': {
      let parsed: unknown;
      try {
        parsed = JSON.parse((await readText(req)) ?? '');
      } catch {
        return sendReply(res, jsonReply(400, { error: 'body must be a JSON fault spec' }));
      }
      const spec = FaultSpecSchema.safeParse(parsed);
      if (!spec.success) {
        return sendReply(res, jsonReply(400, { error: 'invalid fault spec', issues: spec.error.issues }));
      }
      return sendReply(res, jsonReply(201, { id: faults.inject(spec.data as FaultSpec) }));
    }
    default:
      return sendReply(res, jsonReply(404, { error: `no admin endpoint ${route}` }));
  }
}

/** The query parameters named in `keys` that are present. */
function pick(query: URLSearchParams, keys: readonly string[]): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const key of keys) {
    const value = query.get(key);
    if (value !== null) picked[key] = value;
  }
  return picked;
}
