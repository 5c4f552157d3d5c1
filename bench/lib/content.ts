import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { MB } from './units';

/**
 * Deterministic CSV-shaped bench content, produced block by block so no object is ever held whole:
 * a 1 MB header block, then one 1 MB block of catalog rows repeated, the last one cut to size.
 */
const BLOCK = MB;

function rowsBlock(prefix: string): Buffer {
  const lines: string[] = [prefix];
  let length = prefix.length;
  for (let i = 1; length < BLOCK; i++) {
    const line = `${i},item-${i.toString(36)},${(i % 997) + 0.99},in-stock\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, BLOCK);
}

const FIRST = rowsBlock('id,title,price,availability\n');
const REST = rowsBlock('');

function* blocks(size: number): Generator<Buffer> {
  let offset = 0;
  while (offset < size) {
    const block = offset === 0 ? FIRST : REST;
    const take = Math.min(block.length, size - offset);
    yield take === block.length ? block : block.subarray(0, take);
    offset += take;
  }
}

/** The content as a stream of `size` bytes. */
export function contentStream(size: number): Readable {
  return Readable.from(blocks(size), { objectMode: false });
}

/** SHA-256 (hex) of the content of `size` bytes, without materialising it. */
export function contentSha256Hex(size: number): string {
  const hash = createHash('sha256');
  for (const block of blocks(size)) hash.update(block);
  return hash.digest('hex');
}
