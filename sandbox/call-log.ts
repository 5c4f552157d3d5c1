import type {
  CallFilter,
  CallLog,
  CallRecord,
  ForeignRequest,
  SandboxOperation,
  SandboxVendor,
  UploadFilter,
  UploadRecord,
} from './types';

/** The sandbox's side of the call log: records are opened on arrival and filled in as the call goes. */
export interface CallRecorder {
  /** Opens the record of a call that just arrived (status 0 until answered). */
  begin(vendor: SandboxVendor, operation: SandboxOperation, method: string, path: string): CallRecord;
  addUpload(upload: UploadRecord): void;
  addForeign(request: ForeignRequest): void;
  reset(): void;
  /** The read-only view handed out as `sandbox.log`. */
  readonly view: CallLog;
}

/** Creates an empty call log. */
export function createCallRecorder(): CallRecorder {
  let calls: CallRecord[] = [];
  let uploads: UploadRecord[] = [];
  let foreign: ForeignRequest[] = [];
  let seq = 0;

  const view: CallLog = {
    calls: (filter = {}) => calls.filter((call) => matches(call, filter)).map((call) => ({ ...call })),
    uploads: (filter: UploadFilter = {}) =>
      uploads.filter((upload) => matches(upload, filter)).map((upload) => ({ ...upload })),
    foreignRequests: () => foreign.map((request) => ({ ...request })),
    completions: (vendor, fileName) =>
      view
        .calls({ vendor, operation: 'complete', fileName })
        // Slack refuses with HTTP 200 and `ok: false`: a refusal is recorded as an error whatever the status.
        .filter((call) => call.status >= 200 && call.status < 300 && call.error === undefined),
  };

  return {
    begin(vendor, operation, method, path) {
      seq += 1;
      const record: CallRecord = {
        seq,
        at: new Date().toISOString(),
        vendor,
        operation,
        method,
        path,
        status: 0,
      };
      calls.push(record);
      return record;
    },
    addUpload: (upload) => {
      uploads.push(upload);
    },
    addForeign: (request) => {
      foreign.push(request);
    },
    reset() {
      // Fresh arrays rather than truncation: a call still in flight keeps writing to its old record
      // object, which must not reappear in the new log.
      calls = [];
      uploads = [];
      foreign = [];
      seq = 0;
    },
    view,
  };
}

function matches<T extends object>(record: T, filter: CallFilter | UploadFilter): boolean {
  return Object.entries(filter).every(
    ([key, value]) => value === undefined || (record as Record<string, unknown>)[key] === value,
  );
}
