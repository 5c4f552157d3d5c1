import { closeSync, openSync, readFileSync } from 'node:fs';

/**
 * Named crash points for the end-to-end fault tests ("the dispatch process killed between upload and
 * completion message"). Armed only through the VENDOR_INGEST_FAILPOINTS variable — the path of a JSON
 * file the local pipeline's tests write at run time — which the stack never sets. An armed point
 * kills the process with SIGKILL (no cleanup, no finally blocks), like a Lambda sandbox dying
 * mid-invocation.
 */
export type Failpoint =
  | 'dispatch:after-upload'
  | 'dispatch:before-enqueue'
  | 'completion:before-call'
  | 'completion:after-call';

/** One armed point in the failpoints file. */
export interface FailpointRule {
  readonly point: Failpoint;
  /** Only for object keys containing this text. */
  readonly keyContains?: string;
  /** Fire at most once across all processes (a marker file is created atomically next to the rules file). */
  readonly once?: boolean;
}

export type FailpointHook = (name: Failpoint, key: string) => void;

/** No-op unless `rulesFile` is set; otherwise reads the rules at each point (local runs only). */
export function failpointsFrom(
  rulesFile: string | undefined,
  kill: () => void = () => process.kill(process.pid, 'SIGKILL'),
): FailpointHook {
  if (!rulesFile) return () => undefined;
  return (name, key) => {
    let rules: FailpointRule[];
    try {
      rules = JSON.parse(readFileSync(rulesFile, 'utf8')) as FailpointRule[];
    } catch {
      return;
    }
    rules.forEach((rule, index) => {
      if (rule.point !== name || (rule.keyContains !== undefined && !key.includes(rule.keyContains))) return;
      if (rule.once) {
        try {
          closeSync(openSync(`${rulesFile}.${index}.fired`, 'wx'));
        } catch {
          return; // already fired
        }
      }
      kill();
    });
  };
}
