import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RotatingLog } from '../../../local/log-file';
import { scratchDir } from '../../support/scratch';

describe('functions.log rotation', () => {
  it('moves the previous run aside at start, keeping the last few', () => {
    const file = path.join(scratchDir('logs-'), 'functions.log');
    for (let run = 1; run <= 4; run++) {
      const log = new RotatingLog(file, { keep: 2 });
      log.write(`run ${run}\n`);
      log.close();
    }
    expect(readFileSync(file, 'utf8')).toBe('run 4\n');
    expect(readFileSync(`${file}.1`, 'utf8')).toBe('run 3\n');
    expect(readFileSync(`${file}.2`, 'utf8')).toBe('run 2\n');
    expect(existsSync(`${file}.3`)).toBe(false);
  });

  it('rotates during a run when the file passes its size', () => {
    const file = path.join(scratchDir('logs-'), 'functions.log');
    writeFileSync(file, '');
    const log = new RotatingLog(file, { keep: 3, maxBytes: 100 });
    for (let i = 0; i < 25; i++) log.write(`${String(i).padStart(9, '0')}\n`);
    log.close();
    expect(readFileSync(file, 'utf8').length).toBeLessThanOrEqual(100);
    expect(readFileSync(`${file}.1`, 'utf8').length).toBe(100);
  });
});
