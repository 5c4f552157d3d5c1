/** Sizes are binary throughout: 1 MB = 1 MiB = 1,048,576 bytes, and rates are MB/s in the same unit. */
export const MB = 1024 * 1024;
export const GB = 1024 * MB;

const SIZE = /^(\d+(?:\.\d+)?)\s*(KB|MB|GB|B)?$/i;
const FACTOR: Readonly<Record<string, number>> = { B: 1, KB: 1024, MB, GB };

/** `1MB`, `100MB`, `1GB`, `512KB` → bytes. */
export function parseSize(text: string): number {
  const m = SIZE.exec(text.trim());
  if (!m?.[1]) throw new Error(`not a size: "${text}" (use e.g. 1MB, 100MB, 1GB)`);
  const bytes = Math.round(Number(m[1]) * (FACTOR[(m[2] ?? 'B').toUpperCase()] ?? 1));
  if (bytes <= 0) throw new Error(`size must be positive: "${text}"`);
  return bytes;
}

/** 1048576 → `1MB`, 1073741824 → `1GB`. */
export function sizeLabel(bytes: number): string {
  if (bytes >= GB && bytes % GB === 0) return `${bytes / GB}GB`;
  if (bytes >= MB && bytes % MB === 0) return `${bytes / MB}MB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024}KB`;
  return `${bytes}B`;
}

/** MB/s for `bytes` moved in `ms`. */
export function mbPerSecond(bytes: number, ms: number): number {
  return bytes / MB / Math.max(ms / 1000, 1e-6);
}
