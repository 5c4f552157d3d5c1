import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { OVERLAP_MIN_BYTES, streamHasher } from '../../../../functions/shared/upload/overlapped-hash';

/** `bytes` cut into chunks of varied sizes, as a socket hands them over. */
function chunksOf(bytes: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = [16_384, 65_536, 1, 300_001, 8_192][i % 5] as number;
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

async function hashWith(size: number, cpus: number, bytes: Buffer): Promise<string> {
  const hasher = streamHasher(size, cpus);
  for (const chunk of chunksOf(bytes)) {
    const wait = hasher.update(chunk);
    if (wait) await wait;
  }
  return hasher.digest();
}

describe('streamHasher', () => {
  const bytes = randomBytes(OVERLAP_MIN_BYTES + 3_000_000);
  const expected = createHash('sha256').update(bytes).digest('base64');

  it.each([
    ['inline on one CPU', 1],
    ['on the worker thread with two', 2],
  ])('gives the SHA-256 of the bytes %s', async (_name, cpus) => {
    // Act
    const digest = await hashWith(bytes.length, cpus, bytes);

    // Assess
    expect(digest).toBe(expected);
  });

  it('keeps concurrent jobs on the shared worker apart', async () => {
    // Prepare
    const others = [randomBytes(2_000_000), randomBytes(5_000_000), bytes];

    // Act
    const digests = await Promise.all(others.map((b) => hashWith(OVERLAP_MIN_BYTES, 2, b)));

    // Assess
    expect(digests).toEqual(others.map((b) => createHash('sha256').update(b).digest('base64')));
  });

  it('makes the reader wait once 16 MB are handed over and not yet hashed', async () => {
    // Prepare
    const hasher = streamHasher(OVERLAP_MIN_BYTES, 2);
    const chunk = Buffer.alloc(4 * 1024 * 1024, 7);

    // Act
    const waits = [0, 1, 2, 3].map(() => hasher.update(chunk));
    await Promise.all(waits);
    const digest = await hasher.digest();

    // Assess
    expect(waits.slice(0, 3)).toEqual([undefined, undefined, undefined]);
    expect(waits[3]).toBeInstanceOf(Promise);
    expect(digest).toBe(
      createHash('sha256')
        .update(Buffer.alloc(16 * 1024 * 1024, 7))
        .digest('base64'),
    );
  });

  it('hashes a small object inline, whatever the CPUs', () => {
    // Act
    const hasher = streamHasher(OVERLAP_MIN_BYTES - 1, 8);

    // Assess
    expect(hasher.update(Buffer.alloc(OVERLAP_MIN_BYTES))).toBeUndefined();
  });
});
