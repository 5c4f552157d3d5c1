import { describe, expect, it } from 'vitest';
import type { FunctionLogLine } from '../../../local/pipeline';
import { displayWidth, fitColumns, LiveTerminal, table, Watcher } from '../../../local/ui';

const line = (message: string, fields: Record<string, unknown> = {}): FunctionLogLine => ({
  fn: 'dispatch',
  entry: {
    message,
    key: 'cleartax/sales/march.csv',
    route: 'cleartax-sales',
    vendor: 'cleartax-gst',
    ...fields,
  },
});

describe('terminal widths', () => {
  it('counts East Asian wide characters and emoji as two columns, colours and combining marks as none', () => {
    expect(displayWidth('abc')).toBe(3);
    expect(displayWidth('売上.csv')).toBe(8);
    expect(displayWidth('報告書📊.xlsx')).toBe(13);
    expect(displayWidth('\u001b[32mOK\u001b[0m')).toBe(2);
    expect(displayWidth('cafe\u0301')).toBe(4);
    expect(displayWidth('👩‍💻')).toBe(2);
  });

  it('cuts to a width, in the middle for keys, never splitting a wide character', () => {
    expect(fitColumns('cleartax/sales/a-long-name.csv', 16, 'middle')).toBe('clearta…name.csv');
    expect(displayWidth(fitColumns('売上売上売上売上.csv', 9))).toBeLessThanOrEqual(9);
    expect(fitColumns('short', 10)).toBe('short');
  });

  it('lines up columns of wide keys and keeps a demo-sized table within 120 columns', () => {
    const rows = [
      [
        'inspect/0b4cf1d2-6a8e-4f3a-9c1b-7d2e5f8a9b10/bridge-pier-3-crack.jpg',
        'inspect-photos',
        '12.0 KiB',
        '3.1',
        'fileId=7c1e3c55-0a39-4f71-9f5c-2d8c1b8f3a21',
        'COMPLETED',
        '2.1 s',
      ],
      [
        'cleartax/sales/売上-2026-03📊.csv',
        'cleartax-sales',
        '36.7 KiB',
        '1.2',
        'activityId=768d4f18b82432d901df46f2b9d160f8',
        'COMPLETED → ACTIVITY_COMPLETED',
        '4.0 s',
      ],
    ];
    const out = table(['file', 'route', 'bytes', 'MB/s', 'vendor id', 'final state', 'time'], rows, {
      maxWidth: 120,
      middle: [0],
    }).split('\n');
    for (const l of out) expect(displayWidth(l)).toBeLessThanOrEqual(120);
    // Each column starts at the same terminal column in every row.
    const starts = (l: string) => {
      const cols: number[] = [];
      let col = 0;
      let prevSpace = true;
      for (const ch of l) {
        const space = ch === ' ';
        if (!space && prevSpace) cols.push(col);
        col += displayWidth(ch);
        prevSpace = space;
      }
      return cols;
    };
    const header = starts(out[0] ?? '');
    expect(starts(out[3] ?? '').slice(0, 3)).toEqual(header.slice(0, 3));
    expect(out[3]).toContain('…');
  });
});

describe('live view', () => {
  it('keeps deliveries apart by version: a new version does not show the old one vendor id', () => {
    const lines: string[] = [];
    const w = new Watcher((l) => lines.push(l), { columns: 200 });
    w.handle(line('dispatching', { versionId: 'v1', size: 10, dispatchAttempt: 1 }));
    w.handle(line('uploaded', { versionId: 'v1', bytes: 10, refs: { activityId: 'old-activity' } }));
    w.handle(line('completed', { versionId: 'v1', refs: { activityId: 'old-activity' } }));
    w.handle(line('dispatching', { versionId: 'v2', size: 12, dispatchAttempt: 1 }));
    w.handle(line('uploaded', { versionId: 'v2', bytes: 12, refs: {} }));
    expect(w.latest('cleartax/sales/march.csv')).toMatchObject({ versionId: 'v2', state: 'UPLOADED' });
    expect(w.latest('cleartax/sales/march.csv')?.refs).toEqual({});
    expect(lines.at(-1)).not.toContain('old-activity');
    expect(w.files.size).toBe(2);
  });

  it('shows the announced outcome of a delivery: its event, the vendor’s row counts and the error file', () => {
    const lines: string[] = [];
    const w = new Watcher((l) => lines.push(l), { columns: 240 });
    w.handle(line('dispatching', { versionId: 'v1', size: 10, dispatchAttempt: 1 }));
    w.handle(
      line('outcome announced', {
        versionId: 'v1',
        outcome: 'succeeded',
        detailType: 'Delivery Succeeded',
        rows: { total: 3, accepted: 2, rejected: 1 },
        errorFile: 's3://bucket/_results/cleartax/sales/march.csv/v1.errors.csv',
      }),
    );
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the line is coloured
    const plain = (lines.at(-1) ?? '').replace(/\u001b\[[0-9;]*m/g, '');
    expect(plain).toContain('cleartax/sales/march.csv');
    expect(plain).toContain(
      'event → Delivery Succeeded · rows: 2 accepted, 1 rejected · error file s3://bucket/_results/',
    );
    // It is a note on the delivery, not a state of it.
    expect(w.latest('cleartax/sales/march.csv')?.state).toBe('UPLOADING');
  });

  it('without version ids (the embedded AWS), a settled key dispatched again is a new delivery', () => {
    const w = new Watcher(() => undefined);
    w.handle(line('dispatching', { size: 10, dispatchAttempt: 1 }));
    w.handle(line('completed', { refs: { activityId: 'old-activity' } }));
    w.handle(line('dispatching', { size: 12, dispatchAttempt: 1 }));
    expect(w.latest('cleartax/sales/march.csv')?.refs).toBeUndefined();
    expect(w.files.size).toBe(2);
    // A retry of the same delivery stays the same delivery.
    w.handle(line('delivery attempt failed; will retry', { errorCode: 'NETWORK', error: 'reset' }));
    w.handle(line('dispatching', { size: 12, dispatchAttempt: 2 }));
    expect(w.files.size).toBe(2);
  });

  it('on a terminal, one progress line per upload is rewritten in place and removed when it ends', () => {
    let written = '';
    const stream = {
      isTTY: true,
      columns: 80,
      write: (s: string) => (written += s),
    } as unknown as NodeJS.WriteStream;
    const terminal = new LiveTerminal(stream);
    const w = new Watcher(terminal.line, { progress: terminal.progress, columns: 80, progressMinBytes: 1 });
    const big = { size: 100 * 1024 * 1024 };
    w.handle(line('dispatching', { ...big, dispatchAttempt: 1 }));
    for (const sent of [10, 20, 30])
      w.handle(line('upload progress', { bytesSent: sent * 1024 * 1024, ...big }));
    // Each update after the first moves up over the progress line and clears it before drawing it again.
    expect(written.split('\u001b[1A\u001b[J').length - 1).toBe(2);
    expect(written).toContain(' 30%');
    w.handle(line('uploaded', { bytes: big.size, refs: {} }));
    const tail = written.slice(written.lastIndexOf('UPLOADED'));
    expect(tail).not.toContain('%');
    const cursorMoves = new RegExp(`${String.fromCharCode(27)}\\[\\d*[AJ]`, 'g');
    for (const l of written.split('\n'))
      expect(displayWidth(l.replace(cursorMoves, ''))).toBeLessThanOrEqual(80);
  });
});
