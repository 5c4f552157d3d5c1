/**
 * Named crash points for the end-to-end fault tests ("the dispatch process killed between upload and
 * completion message"). Armed only by the VENDOR_INGEST_FAILPOINTS variable, which the local
 * pipeline sets for a test and the stack never sets. An armed point kills the process with SIGKILL —
 * no cleanup, no finally blocks — exactly like a Lambda sandbox dying mid-invocation.
 */
export type Failpoint =
  | 'dispatch:after-upload'
  | 'dispatch:before-enqueue'
  | 'completion:before-call'
  | 'completion:after-call';

export type FailpointHook = (name: Failpoint) => void;

/** No-op unless `spec` (comma-separated names) arms the point. */
export function failpointsFrom(spec: string | undefined, kill: () => void = () => process.kill(process.pid, 'SIGKILL')): FailpointHook {
  const armed = new Set((spec ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  if (armed.size === 0) return () => undefined;
  return (name) => {
    if (armed.has(name)) kill();
  };
}
