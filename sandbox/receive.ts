import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Reply } from './http-util';
import type { StoredBytes } from './object-store';
import type { RegisterJudge } from './register-judge';
import { SNIFF_BYTES } from './sniff';
import type { CallRecord } from './types';

/**
 * Sockets whose upload body is still arriving, with the answer to give when the client half-closes
 * early: Node reports that as a client error on the socket (not on the request), and the server's
 * handler answers from here.
 */
export type PendingBodies = WeakMap<Socket, { record: CallRecord; incomplete: Reply }>;

/** Hashes (SHA-256 and MD5) what is written to it, keeping its first {@link SNIFF_BYTES}. */
export interface Digest {
  write(chunk: Buffer): void;
  finish(): StoredBytes;
}

/** A digest of at most `expected` bytes, tagged with `contentType`; `judge` reads along when given. */
export function createDigest(expected: number, contentType: string, judge?: RegisterJudge): Digest {
  const head = Buffer.allocUnsafe(Math.min(SNIFF_BYTES, expected));
  const sha256 = createHash('sha256');
  const md5 = createHash('md5');
  let size = 0;
  return {
    write(chunk) {
      if (size < head.length) chunk.copy(head, size, 0, Math.min(chunk.length, head.length - size));
      size += chunk.length;
      sha256.update(chunk);
      md5.update(chunk);
      judge?.write(chunk);
    },
    finish() {
      const sha = sha256.digest();
      return {
        head: head.subarray(0, Math.min(size, head.length)),
        size,
        sha256Hex: sha.toString('hex'),
        sha256Base64: sha.toString('base64'),
        md5Hex: md5.digest('hex'),
        contentType,
        at: new Date().toISOString(),
        ...(judge === undefined ? {} : { register: judge.end() }),
      };
    },
  };
}

/** How {@link streamBody} reads a request body. */
export interface StreamBodyOptions {
  /** The Content-Length: anything short of it is an incomplete body. */
  length: number;
  record: CallRecord;
  pending: PendingBodies;
  /** The vendor's answer to a client that half-closes before `length` bytes. */
  incomplete: Reply;
  /** Destroy the socket once this many bytes have arrived (the `reset` fault); the body is then incomplete. */
  dropAt?: number;
}

/**
 * Streams the request body through `write` without keeping it. True when exactly `length` bytes arrived;
 * otherwise (client gone, or `dropAt` reached) false, with the call log's `error` saying so.
 */
export async function streamBody(
  req: IncomingMessage,
  write: (chunk: Buffer) => void,
  { length, record, pending, incomplete, dropAt }: StreamBodyOptions,
): Promise<boolean> {
  const socket = req.socket;
  if (dropAt === 0) {
    socket.destroy();
    return false;
  }
  let received = 0;
  pending.set(socket, { record, incomplete });
  const whole = await new Promise<boolean>((resolve) => {
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      write(chunk);
      if (dropAt !== undefined && received >= dropAt) socket.destroy();
    });
    req.once('end', () => resolve(true));
    req.once('close', () => resolve(req.complete));
    // An aborted request also emits 'error' (ECONNRESET); 'close' settles the promise.
    req.on('error', () => resolve(false));
  });
  pending.delete(socket);
  if (!whole || received !== length || dropAt !== undefined) {
    if (record.fault === undefined && record.status === 0) {
      record.error = `IncompleteBody: ${received} of ${length} bytes received before the client closed`;
    }
    return false;
  }
  return true;
}

/** Waits for the rest of a body that will not be used. */
export function drain(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    if (req.readableEnded) return resolve();
    req.once('end', resolve);
    req.once('close', resolve);
    req.on('error', () => resolve());
    req.resume();
  });
}
