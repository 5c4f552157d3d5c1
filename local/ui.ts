import type { FunctionLogLine } from './pipeline';

/** What the terminal knows about one file, from the functions' structured log lines. */
export interface FileView {
  readonly key: string;
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
 * Turns function log lines into one line per state change per file (and a progress bar for uploads
 * over a few MB). `print` receives finished lines; tests and the demo can collect them instead.
 */
export class Watcher {
  readonly files = new Map<string, FileView>();
  private lastProgressLine = new Map<string, number>();

  constructor(
    private readonly print: (line: string) => void,
    private readonly options: { progressMinBytes?: number; quiet?: boolean } = {},
  ) {}

  private view(key: string, entry: Record<string, unknown>): FileView {
    let view = this.files.get(key);
    if (!view) {
      view = { key, state: 'RECEIVED', firstSeen: Date.now(), lastChange: Date.now() };
      this.files.set(key, view);
    }
    if (typeof entry.route === 'string') view.route = entry.route;
    if (typeof entry.vendor === 'string') view.vendor = entry.vendor;
    return view;
  }

  private change(view: FileView, state: string, detail = ''): void {
    view.state = state;
    view.lastChange = Date.now();
    if (this.options.quiet) return;
    const color = /FAILED|UNCERTAIN|REJECT/.test(state)
      ? red
      : /COMPLETED|SUCCEEDED|DUPLICATE/.test(state)
        ? green
        : state === 'RETRY'
          ? yellow
          : (s: string) => s;
    this.print(
      `${dim(time())}  ${bold(view.key)}  ${dim(`${view.route ?? '?'}→${view.vendor ?? '?'}`)}  ${color(state)}${detail ? `  ${detail}` : ''}`,
    );
  }

  handle({ fn, entry }: FunctionLogLine): void {
    const message = String(entry.message ?? '');
    const key = typeof entry.key === 'string' ? entry.key : undefined;
    if (!key) {
      if (/parked in DLQ/.test(message) && !this.options.quiet) {
        this.print(
          `${dim(time())}  ${red(`${fn}: message parked in DLQ`)}  ${entry.errorCode ?? ''} ${entry.error ?? ''}`,
        );
      }
      return;
    }
    const view = this.view(key, entry);
    switch (message) {
      case 'dispatching':
        view.size = typeof entry.size === 'number' ? entry.size : view.size;
        this.change(view, 'UPLOADING', formatBytes(view.size));
        break;
      case 'upload progress': {
        const sent = Number(entry.bytesSent);
        const size = Number(entry.size);
        view.bytesSent = sent;
        view.size = size;
        if (size < (this.options.progressMinBytes ?? 4 * 1024 * 1024) || this.options.quiet) break;
        const step = Math.floor((sent / size) * 10);
        if (this.lastProgressLine.get(key) === step) break;
        this.lastProgressLine.set(key, step);
        this.print(
          `${dim(time())}  ${view.key}  ${bar(sent / size)} ${Math.round((sent / size) * 100)}%  ${formatBytes(sent)} / ${formatBytes(size)}`,
        );
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
      case 'duplicate notification: this version is already handled':
        if (!this.options.quiet)
          this.print(`${dim(`${time()}  ${key}  duplicate notification ignored (${entry.state})`)}`);
        break;
      default:
        break;
    }
  }
}
