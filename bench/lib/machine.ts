import os from 'node:os';

/** Where a run happened, recorded with every result so numbers from different boxes are not mixed up. */
export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGb: number;
  readonly platform: string;
  readonly kernel: string;
  readonly node: string;
  /** 1, 5 and 15 minute load averages. */
  readonly loadavg: readonly [number, number, number];
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  const [one = 0, five = 0, fifteen = 0] = os.loadavg();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    platform: `${os.platform()} ${os.arch()}`,
    kernel: os.release(),
    node: process.version,
    loadavg: [round2(one), round2(five), round2(fifteen)],
  };
}

/** The 1-minute load average now (recorded next to each section's results). */
export function loadNow(): number {
  return round2(os.loadavg()[0] ?? 0);
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
