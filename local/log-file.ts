import { closeSync, existsSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';

/**
 * An append-only log file that never grows without bound: at start the previous run's file moves to
 * `<file>.1` (older ones to `.2` … `.<keep>`, the oldest dropped), and during a run the file rotates
 * the same way whenever it passes `maxBytes`.
 */
export class RotatingLog {
  private fd: number | undefined;
  private bytes = 0;

  constructor(
    readonly file: string,
    private readonly options: { keep?: number; maxBytes?: number } = {},
  ) {
    if (existsSync(file) && statSync(file).size > 0) this.rotate();
    this.fd = openSync(file, 'a');
  }

  private get keep(): number {
    return this.options.keep ?? 5;
  }

  private rotate(): void {
    rmSync(`${this.file}.${this.keep}`, { force: true });
    for (let i = this.keep - 1; i >= 1; i--) {
      if (existsSync(`${this.file}.${i}`)) renameSync(`${this.file}.${i}`, `${this.file}.${i + 1}`);
    }
    if (existsSync(this.file)) renameSync(this.file, `${this.file}.1`);
  }

  write(text: string): void {
    if (this.fd === undefined) return;
    this.bytes += writeSync(this.fd, text);
    if (this.bytes >= (this.options.maxBytes ?? 64 * 1024 * 1024)) {
      closeSync(this.fd);
      this.rotate();
      this.fd = openSync(this.file, 'a');
      this.bytes = 0;
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
