/**
 * A streaming reader of `multipart/form-data` bodies that passes on the bytes of the first file part (a
 * part whose Content-Disposition has a `filename`) and nothing else, whatever the body's size: only a
 * delimiter's length of bytes and one part's headers are ever held.
 */

/** Largest header block of one part. */
const MAX_PART_HEADERS = 16 * 1024;
const CRLF = Buffer.from('\r\n');
const HEADERS_END = Buffer.from('\r\n\r\n');
const CLOSE = Buffer.from('--');

/** Takes the body chunk by chunk, writing the first file part's bytes to `file`. */
export interface MultipartReader {
  write(chunk: Buffer): void;
  /** How many file parts the body held, or why it is not valid multipart. */
  end(): { fileParts: number; malformed?: string };
}

enum State {
  /** Before the first delimiter (the preamble), or inside a part's body. */
  Body,
  /** Right after a delimiter: `--` ends the body, CRLF starts a part. */
  AfterDelimiter,
  Headers,
  /** After the closing delimiter. */
  Epilogue,
}

/** The boundary parameter of a multipart Content-Type, if it is one. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const [type, ...parameters] = contentType.split(';');
  if (type?.trim().toLowerCase() !== 'multipart/form-data') return undefined;
  for (const parameter of parameters) {
    const at = parameter.indexOf('=');
    if (at === -1 || parameter.slice(0, at).trim().toLowerCase() !== 'boundary') continue;
    const value = parameter
      .slice(at + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    return value === '' ? undefined : value;
  }
  return undefined;
}

/** A reader for a body delimited by `boundary`. */
export function createMultipartReader(boundary: string, file: (chunk: Buffer) => void): MultipartReader {
  // Every delimiter is CRLF "--" boundary; the first one may open the body without the CRLF, so the
  // reader pretends the body starts with one.
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  let carry: Buffer = Buffer.from(CRLF);
  let state = State.Body;
  let inPart = false;
  let partIsFile = false;
  let fileParts = 0;
  let malformed: string | undefined;

  /** The bytes of the part being read (before the first delimiter: the preamble, dropped). */
  function emit(bytes: Buffer): void {
    if (inPart && partIsFile && fileParts === 1 && bytes.length > 0) file(bytes);
  }

  function startPart(headers: string): void {
    inPart = true;
    const disposition = headers
      .split('\r\n')
      .find((line) => line.toLowerCase().startsWith('content-disposition:'));
    partIsFile = disposition !== undefined && /;\s*filename\*?=/i.test(disposition);
    if (partIsFile) fileParts += 1;
  }

  function consume(): void {
    while (malformed === undefined) {
      if (state === State.Epilogue) {
        carry = Buffer.alloc(0);
        return;
      }
      if (state === State.Body) {
        const at = carry.indexOf(delimiter);
        if (at === -1) {
          // Keep what could be the start of a delimiter; the rest belongs to the part.
          const safe = Math.max(0, carry.length - (delimiter.length - 1));
          emit(carry.subarray(0, safe));
          carry = carry.subarray(safe);
          return;
        }
        emit(carry.subarray(0, at));
        carry = carry.subarray(at + delimiter.length);
        inPart = false;
        state = State.AfterDelimiter;
        continue;
      }
      if (state === State.AfterDelimiter) {
        if (carry.length < 2) return;
        if (carry.subarray(0, 2).equals(CLOSE)) {
          state = State.Epilogue;
          continue;
        }
        // Transport padding (blanks) may follow the boundary before its CRLF.
        const lineEnd = carry.indexOf(CRLF);
        if (lineEnd === -1) {
          if (carry.length > 256) malformed = 'a boundary is followed by neither CRLF nor --';
          return;
        }
        if (carry.subarray(0, lineEnd).toString('latin1').trim() !== '') {
          malformed = 'a boundary is followed by neither CRLF nor --';
          return;
        }
        carry = carry.subarray(lineEnd + 2);
        state = State.Headers;
        continue;
      }
      // Headers: up to the blank line.
      const end = carry.indexOf(HEADERS_END);
      const bare = carry.subarray(0, 2).equals(CRLF);
      if (bare) {
        // A part without headers.
        startPart('');
        carry = carry.subarray(2);
        state = State.Body;
        continue;
      }
      if (end === -1) {
        if (carry.length > MAX_PART_HEADERS) malformed = 'a part has more than 16 KiB of headers';
        return;
      }
      startPart(carry.subarray(0, end).toString('utf8'));
      carry = carry.subarray(end + HEADERS_END.length);
      state = State.Body;
    }
  }

  return {
    write(chunk) {
      if (malformed !== undefined || state === State.Epilogue) return;
      carry = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
      consume();
    },
    end() {
      if (malformed === undefined && state !== State.Epilogue) {
        malformed = 'the body ends before its closing boundary';
      }
      return { fileParts, ...(malformed === undefined ? {} : { malformed }) };
    },
  };
}
