import type { FunctionLogLine } from './pipeline';

/** What the terminal knows about one delivery (an object version), from the functions' log lines. */
export interface FileView {
  readonly key: string;
  /** The S3 version id, when the notification carried one (the embedded AWS sends none). */
  readonly versionId?: string;
  route?: string;
  vendor?: string;
  state: string;
  size?: number;
  bytesSent?: number;
  mbPerSecond?: number;
  refs?: Record<string, unknown>;
  vendorState?: string;
  reason?: string;
  firstSeen: number;
  lastChange: number;
}

const COLOR = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number) => (text: string) => (COLOR ? `\u001b[${code}m${text}\u001b[0m` : text);
export const green = paint(32);
export const red = paint(31);
export const yellow = paint(33);
export const dim = paint(2);
export const bold = paint(1);

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, 'g');
const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
const EMOJI = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\uFE0F/u;
const ZERO_WIDTH = /^(?:\p{Mn}|\p{Me}|\p{Cf}|\p{Cc})+$/u;

/** East Asian Wide and Fullwidth code points: two terminal columns each. */
function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xa960 && cp <= 0xa97f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe10 && cp <= 0xfe19) ||
    (cp >= 0xfe30 && cp <= 0xfe6f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1b000 && cp <= 0x1b2ff) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

function graphemeWidth(g: string): number {
  if (ZERO_WIDTH.test(g)) return 0;
  if (EMOJI.test(g)) return 2;
  return isWide(g.codePointAt(0) ?? 0) ? 2 : 1;
}

/** Columns a string takes in a terminal: colours ignored, wide characters and emoji count two. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const { segment } of segmenter.segment(text.replace(ANSI, ''))) width += graphemeWidth(segment);
  return width;
}

/** `text` padded with spaces to `width` columns. */
export function padColumns(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - displayWidth(text)));
}

/**
 * `text` cut to at most `width` columns with `…`: at the end, or in the middle (keeping the start and
 * the end, which is where a key's file name is). Colour codes are dropped from a cut string.
 */
export function fitColumns(text: string, width: number, where: 'end' | 'middle' = 'end'): string {
  if (displayWidth(text) <= width) return text;
  if (width <= 1) return width === 1 ? '…' : '';
  const graphemes = [...segmenter.segment(text.replace(ANSI, ''))].map((s) => s.segment);
  const take = (from: string[], columns: number) => {
    const out: string[] = [];
    let used = 0;
    for (const g of from) {
      const w = graphemeWidth(g);
      if (used + w > columns) break;
      out.push(g);
      used += w;
    }
    return out;
  };
  if (where === 'end') return `${take(graphemes, width - 1).join('')}…`;
  const tail = take([...graphemes].reverse(), Math.ceil((width - 1) / 2)).reverse();
  const head = take(graphemes, width - 1 - displayWidth(tail.join('')));
  return `${head.join('')}…${tail.join('')}`;
}

/** Terminal width: the TTY's, else 120 columns (what the output is laid out for when piped). */
export function terminalColumns(stream: { columns?: number; isTTY?: boolean } = process.stdout): number {
  return stream.isTTY && stream.columns ? stream.columns : 120;
}

/**
 * A table whose columns line up in a terminal (wide characters count two columns) and whose width
 * stays within `maxWidth`: the widest column gives way first, cut in the middle for keys.
 */
export function table(
  headers: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
  options: { maxWidth?: number; middle?: readonly number[] } = {},
): string {
  const maxWidth = options.maxWidth ?? terminalColumns();
  const widths = headers.map((h, i) =>
    Math.max(displayWidth(h), ...rows.map((r) => displayWidth(r[i] ?? ''))),
  );
  const gap = 2;
  const total = () => widths.reduce((a, b) => a + b, 0) + gap * (widths.length - 1);
  const minimum = headers.map((h) => Math.min(displayWidth(h), 6));
  // The widest column gives way a column at a time, so long columns end up sharing what is left.
  while (total() > maxWidth) {
    let widest = -1;
    widths.forEach((w, i) => {
      if (w > (minimum[i] ?? 0) && (widest < 0 || w > (widths[widest] ?? 0))) widest = i;
    });
    if (widest < 0) break;
    widths[widest] = (widths[widest] ?? 1) - 1;
  }
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) =>
        padColumns(
          fitColumns(c, widths[i] ?? 0, options.middle?.includes(i) ? 'middle' : 'end'),
          widths[i] ?? 0,
        ),
      )
      .join(' '.repeat(gap))
      .trimEnd();
  return [bold(line(headers)), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function time(): string {
  return new Date().toISOString().slice(11, 19);
}

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return '-';
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function bar(fraction: number, width = 24): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** Vendor id worth showing: activityId, taskId, jobId, fileId … */
export function vendorId(refs: Record<string, unknown> | undefined): string {
  if (!refs) return '-';
  for (const name of ['activityId', 'taskId', 'jobId', 'fileId', 'uploadId']) {
    const v = refs[name];
    if (typeof v === 'string' || typeof v === 'number') return `${name}=${v}`;
  }
  return '-';
}

/**
 * Lines for a terminal with a live region at the bottom: one line per upload in progress, rewritten
 * in place as it advances, while finished lines scroll above it. Every line is cut to the
 * terminal's width, so the region never wraps.
 */
export class LiveTerminal {
  private readonly live = new Map<string, string>();
  private drawn = 0;

  constructor(private readonly stream: NodeJS.WriteStream = process.stdout) {}

  private fit(text: string): string {
    return fitColumns(text, terminalColumns(this.stream) - 1);
  }

  private clear(): string {
    if (this.drawn === 0) return '';
    const out = `\u001b[${this.drawn}A\u001b[J`;
    this.drawn = 0;
    return out;
  }

  private region(): string {
    const lines = [...this.live.values()].map((l) => `${this.fit(l)}\n`);
    this.drawn = lines.length;
    return lines.join('');
  }

  /** A finished line, printed above the live region. */
  readonly line = (text: string): void => {
    this.stream.write(`${this.clear()}${text}\n${this.region()}`);
  };

  /** Sets (or with undefined, removes) the live line `id`. */
  readonly progress = (id: string, text: string | undefined): void => {
    if (text === undefined) this.live.delete(id);
    else this.live.set(id, text);
    this.stream.write(`${this.clear()}${this.region()}`);
  };
}

const SETTLED = /COMPLETED|SUCCEEDED|FAILED|DUPLICATE|UNCERTAIN/;

/**
 * Turns function log lines into one line per state change per delivery, plus upload progress for
 * files over a few MB: with `progress` (a terminal), one line per upload updated in place; without
 * it, a line at each tenth. Views are per object version: by version id when the notification
 * carries one; without one (the embedded AWS), a key dispatched afresh after it settled, or at a
 * first dispatch attempt, starts a new view, so a new version never shows the old one's vendor ids.
 */
export class Watcher {
  /** Every delivery seen, by `<key>\0<version>` (see {@link latest} for a key's newest). */
  readonly files = new Map<string, FileView>();
  private readonly newest = new Map<string, string>();
  private readonly progressStep = new Map<string, number>();
  private generation = 0;

  constructor(
    private readonly print: (line: string) => void,
    private readonly options: {
      progressMinBytes?: number;
      quiet?: boolean;
      /** Live progress lines (a TTY): set with text, removed with undefined. */
      progress?: (id: string, text: string | undefined) => void;
      /** Width lines are cut to. @default the terminal's */
      columns?: number;
    } = {},
  ) {}

  /** The newest delivery seen for a key. */
  latest(key: string): FileView | undefined {
    const id = this.newest.get(key);
    return id === undefined ? undefined : this.files.get(id);
  }

  private view(key: string, entry: Record<string, unknown>, message: string): FileView {
    const versionId = typeof entry.versionId === 'string' ? entry.versionId : undefined;
    const current = this.latest(key);
    const fresh =
      !current ||
      (versionId !== undefined && current.versionId !== versionId) ||
      (versionId === undefined &&
        message === 'dispatching' &&
        (SETTLED.test(current.state) || (entry.dispatchAttempt === 1 && current.state !== 'RECEIVED')));
    let view = current;
    if (fresh || !view) {
      const id = `${key}\u0000${versionId ?? `#${++this.generation}`}`;
      view = {
        key,
        ...(versionId ? { versionId } : {}),
        state: 'RECEIVED',
        firstSeen: Date.now(),
        lastChange: Date.now(),
      };
      if (current) this.endProgress(current);
      this.files.set(id, view);
      this.newest.set(key, id);
    }
    if (typeof entry.route === 'string') view.route = entry.route;
    if (typeof entry.vendor === 'string') view.vendor = entry.vendor;
    return view;
  }

  /** A line of the caller's own (a console action), printed with the deliveries' lines. */
  note(line: string): void {
    if (!this.options.quiet) this.emit(`${dim(time())}  ${line}`);
  }

  private emit(line: string): void {
    this.print(fitColumns(line, this.columns()));
  }

  private change(view: FileView, state: string, detail = ''): void {
    view.state = state;
    view.lastChange = Date.now();
    if (SETTLED.test(state) || state === 'UPLOADED') this.endProgress(view);
    if (this.options.quiet) return;
    const color = /FAILED|UNCERTAIN|REJECT/.test(state)
      ? red
      : /COMPLETED|SUCCEEDED|DUPLICATE/.test(state)
        ? green
        : state === 'RETRY'
          ? yellow
          : (s: string) => s;
    const version = view.versionId ? dim(` @${view.versionId.slice(0, 8)}`) : '';
    const where = dim(`${view.route ?? '?'}→${view.vendor ?? '?'}`);
    // The state is what the line is for: the key gives way first (cut in the middle), then the detail.
    const fixed = displayWidth(`${time()}  ${version}  ${where}  ${state}`) + 2;
    const room = this.columns() - fixed - Math.min(displayWidth(detail), 24);
    const key = fitColumns(view.key, Math.max(16, room), 'middle');
    this.emit(
      `${dim(time())}  ${bold(key)}${version}  ${where}  ${color(state)}${detail ? `  ${detail}` : ''}`,
    );
  }

  private columns(): number {
    return this.options.columns ?? terminalColumns();
  }

  private progressId(view: FileView): string {
    return `${view.key}\u0000${view.firstSeen}`;
  }

  private endProgress(view: FileView): void {
    const id = this.progressId(view);
    if (this.progressStep.has(id)) {
      this.progressStep.delete(id);
      this.options.progress?.(id, undefined);
    }
  }

  private showProgress(view: FileView, sent: number, size: number): void {
    const id = this.progressId(view);
    const head = `${dim(time())}  ${bar(sent / size)} ${String(Math.round((sent / size) * 100)).padStart(3)}%  ${formatBytes(sent)} / ${formatBytes(size)}  `;
    const line = `${head}${fitColumns(view.key, Math.max(16, this.columns() - displayWidth(head) - 1), 'middle')}`;
    if (this.options.progress) {
      this.progressStep.set(id, sent);
      this.options.progress(id, line);
      return;
    }
    const step = Math.floor((sent / size) * 10);
    if (this.progressStep.get(id) === step) return;
    this.progressStep.set(id, step);
    this.emit(line);
  }

  handle({ fn, entry }: FunctionLogLine): void {
    const message = String(entry.message ?? '');
    const key = typeof entry.key === 'string' ? entry.key : undefined;
    if (!key) {
      if (/parked in DLQ/.test(message) && !this.options.quiet) {
        this.emit(
          `${dim(time())}  ${red(`${fn}: message parked in DLQ`)}  ${entry.errorCode ?? ''} ${entry.error ?? ''}`,
        );
      }
      return;
    }
    const view = this.view(key, entry, message);
    switch (message) {
      case 'dispatching':
        view.size = typeof entry.size === 'number' ? entry.size : view.size;
        view.refs = undefined;
        view.vendorState = undefined;
        view.reason = undefined;
        this.change(view, 'UPLOADING', formatBytes(view.size));
        break;
      case 'upload progress': {
        const sent = Number(entry.bytesSent);
        const size = Number(entry.size);
        view.bytesSent = sent;
        view.size = size;
        if (size < (this.options.progressMinBytes ?? 4 * 1024 * 1024) || this.options.quiet) break;
        this.showProgress(view, sent, size);
        break;
      }
      case 'uploaded':
        view.size = typeof entry.bytes === 'number' ? entry.bytes : view.size;
        view.mbPerSecond = typeof entry.mbPerSecond === 'number' ? entry.mbPerSecond : undefined;
        view.refs = { ...view.refs, ...(entry.refs as Record<string, unknown>) };
        this.change(
          view,
          'UPLOADED',
          `${formatBytes(view.size)} at ${view.mbPerSecond ?? '?'} MB/s ${dim(vendorId(view.refs))}`,
        );
        break;
      case 'completed':
        view.refs = { ...view.refs, ...(entry.refs as Record<string, unknown>) };
        view.vendorState = typeof entry.vendorState === 'string' ? entry.vendorState : view.vendorState;
        this.change(view, 'COMPLETED', `${vendorId(view.refs)} ${dim(view.vendorState ?? '')}`);
        break;
      case 'vendor job succeeded':
        view.vendorState = String(entry.vendorState);
        this.change(view, 'VENDOR SUCCEEDED', view.vendorState);
        break;
      case 'vendor job failed':
        view.vendorState = String(entry.vendorState);
        this.change(
          view,
          'VENDOR FAILED',
          `${view.vendorState} ${dim(JSON.stringify(entry.detail ?? {}).slice(0, 160))}`,
        );
        break;
      case 'vendor already holds these bytes; nothing to upload or complete':
        view.refs = entry.refs as Record<string, unknown>;
        this.change(view, 'DUPLICATE', `vendor already had it ${dim(vendorId(view.refs))}`);
        break;
      case 'file refused':
      case 'delivery failed':
      case 'completion failed':
        view.reason = String(entry.errorCode);
        this.change(view, 'FAILED', `${entry.errorCode}: ${entry.error}`);
        break;
      case 'completion outcome unknown; parked':
        view.reason = 'COMPLETION_UNCERTAIN';
        this.change(view, 'COMPLETION_UNCERTAIN', 'check the vendor, then `vendor-ingest resolve`');
        break;
      case 'delivery attempt failed; will retry':
      case 'completion attempt failed; will retry':
        this.change(view, 'RETRY', `${entry.errorCode}: ${entry.error}`);
        break;
      case 'outcome announced': {
        if (this.options.quiet) break;
        const rows = entry.rows as { total?: number; accepted?: number; rejected?: number } | undefined;
        const parts = [
          String(entry.detailType ?? entry.outcome),
          rows?.rejected !== undefined
            ? `rows: ${rows.accepted ?? '?'} accepted, ${rows.rejected} rejected`
            : undefined,
          typeof entry.errorFile === 'string' ? `error file ${entry.errorFile}` : undefined,
        ].filter((p): p is string => p !== undefined);
        const color = entry.outcome === 'succeeded' ? green : entry.outcome === 'failed' ? red : yellow;
        this.emit(`${dim(time())}  ${dim(view.key)}  ${dim('event →')} ${color(parts.join(' · '))}`);
        break;
      }
      case 'delivery waiting past the attention threshold: announced':
        if (!this.options.quiet)
          this.emit(
            `${dim(time())}  ${dim(view.key)}  ${dim('event →')} ${yellow('Delivery Needs Attention (vendor down)')}`,
          );
        break;
      case 'duplicate notification: this version is already handled':
        if (!this.options.quiet)
          this.emit(`${dim(`${time()}  ${key}  duplicate notification ignored (${entry.state})`)}`);
        break;
      default:
        break;
    }
  }
}
