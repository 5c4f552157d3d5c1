import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';

/**
 * Linux /proc readings for processes the bench does not run itself (moto, the emulated Lambda
 * sandboxes). Every reader answers `undefined` where /proc is missing, so the bench still runs
 * elsewhere, with fewer columns.
 */

/** Kernel clock ticks per second for /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may contain spaces: split after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Direct children of `parent` whose command line contains `needle`. */
export function childPids(parent: number, needle: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const fields = statFields(pid);
    if (fields?.[1] !== String(parent)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle)) found.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

export interface MemoryReading {
  /** Resident set size now, MB. */
  readonly rssMb: number;
  /** Peak resident set size since the process started (VmHWM), MB. */
  readonly peakRssMb: number;
}

export function memoryOf(pid: number): MemoryReading | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
    const hwm = /VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1];
    if (rss === undefined || hwm === undefined) return undefined;
    return { rssMb: Number(rss) / 1024, peakRssMb: Number(hwm) / 1024 };
  } catch {
    return undefined;
  }
}

/** User + system CPU time the process has used so far, ms. */
export function cpuMsOf(pid: number): number | undefined {
  const fields = statFields(pid);
  // Fields after the name: state(0) ppid(1) … utime(11) stime(12).
  const utime = Number(fields?.[11]);
  const stime = Number(fields?.[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return ((utime + stime) * 1000) / TICKS_PER_SECOND;
}

/** Resets the process's peak RSS (VmHWM) to its current RSS, so a later reading covers one phase. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * The pid (among `candidates`) holding the client end of a loopback TCP connection from `port` to
 * `serverPort`: the socket's inode from /proc/net/tcp, then a look through the candidates' descriptors.
 */
export function pidOfClientSocket(
  port: number,
  serverPort: number,
  candidates: readonly number[],
): number | undefined {
  let table: string;
  try {
    table = readFileSync('/proc/net/tcp', 'utf8');
  } catch {
    return undefined;
  }
  const hex = (n: number) => `:${n.toString(16).toUpperCase().padStart(4, '0')}`;
  let inode: string | undefined;
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    // Same port pair in TIME_WAIT from an earlier connection has inode 0: skip it.
    if (fields[1]?.endsWith(hex(port)) && fields[2]?.endsWith(hex(serverPort)) && fields[9] !== '0') {
      inode = fields[9];
      break;
    }
  }
  if (inode === undefined || inode === '0') return undefined;
  const link = `socket:[${inode}]`;
  for (const pid of candidates) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === link) return pid;
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}

/** The command line of a process, arguments joined by spaces ('' when gone). */
export function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}
