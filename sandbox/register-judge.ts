import { gstinProblem } from './gstin';

/**
 * The sandbox's judgement of a ClearTax sales or purchase register (CSV), made while the upload streams
 * past: rows are counted and each row's GSTIN validated, keeping nothing but counters and the first
 * {@link MAX_KEPT_BAD_ROWS} refusals, whatever the file's size.
 *
 * The CSV is RFC 4180 as spreadsheets write it: comma-separated, fields optionally quoted with `"` (a
 * doubled quote inside is one quote, quoted fields may hold commas and line breaks), records ending in
 * LF, CRLF or CR, an optional UTF-8 byte-order mark. The first non-blank record is the header.
 */

/** Refused rows kept for the error file; rows beyond are counted but not listed. */
export const MAX_KEPT_BAD_ROWS = 10_000;

/** Header cells (trimmed, case-insensitive) naming the GSTIN column: sales, then purchase registers. */
const GSTIN_HEADERS = ['customer gstin', 'supplier gstin'];

/** Bytes of a header or GSTIN cell kept to judge it; a GSTIN longer than this is wrong anyway. */
const MAX_CELL_BYTES = 256;

/** GSTIN verdicts remembered per upload. */
const RECENT_GSTINS = 4096;

const COMMA = 0x2c;
const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** A refused data row. */
export interface BadRow {
  /** Record number in the file, the header being row 1 (as a spreadsheet numbers it). */
  row: number;
  /** The row's GSTIN cell, trimmed (`''` when the row has none). */
  gstin: string;
  reason: string;
}

/** What the judge found. */
export interface RegisterVerdict {
  /** The header of the judged GSTIN column; `null` when the header names none (rows are only counted). */
  gstinColumn: string | null;
  /** Non-blank records after the header. */
  dataRows: number;
  validRows: number;
  invalidRows: number;
  /** The first {@link MAX_KEPT_BAD_ROWS} refused rows, in file order. */
  badRows: BadRow[];
  /** More rows were refused than `badRows` lists. */
  truncated: boolean;
}

/** Takes the body chunk by chunk, then answers the verdict. */
export interface RegisterJudge {
  write(chunk: Buffer): void;
  end(): RegisterVerdict;
}

enum State {
  FieldStart,
  Unquoted,
  Quoted,
  /** A quote inside a quoted field: the field's end, or the first half of an escaped quote. */
  QuotedQuote,
}

/** A judge for one upload. */
export function createRegisterJudge(): RegisterJudge {
  let prefix: Buffer | undefined = Buffer.alloc(0);
  let state = State.FieldStart;
  let afterCr = false;

  // The record being read.
  let fieldIndex = 0;
  let hasContent = false;
  const cell = Buffer.alloc(MAX_CELL_BYTES);
  let cellLength = 0;
  let cellOverflow = false;
  let capturing = true;
  let gstinCell: string | undefined;
  let gstinOverflow = false;

  // The file so far.
  let recordNumber = 0;
  let headerSeen = false;
  let headerCount = 0;
  let gstinIndex = -1;
  const verdict: RegisterVerdict = {
    gstinColumn: null,
    dataRows: 0,
    validRows: 0,
    invalidRows: 0,
    badRows: [],
    truncated: false,
  };

  /** Adds a byte of the current cell, when it is one the judge reads. */
  function keep(byte: number): void {
    if (cellLength < MAX_CELL_BYTES) cell[cellLength++] = byte;
    else cellOverflow = true;
  }

  function endField(): void {
    if (capturing) {
      const text = cell.toString('utf8', 0, cellLength).trim();
      if (!headerSeen) {
        if (gstinIndex === -1 && GSTIN_HEADERS.includes(text.toLowerCase())) {
          gstinIndex = fieldIndex;
          verdict.gstinColumn = text;
        }
      } else if (fieldIndex === gstinIndex) {
        gstinCell = text;
        gstinOverflow = cellOverflow;
      }
    }
    fieldIndex += 1;
    cellLength = 0;
    cellOverflow = false;
    capturing = !headerSeen || fieldIndex === gstinIndex;
  }

  function endRecord(forcedReason?: string): void {
    const fieldCount = fieldIndex;
    const blank = !hasContent && forcedReason === undefined;
    recordNumber += 1;
    if (!blank) {
      if (!headerSeen) {
        headerSeen = true;
        headerCount = fieldCount;
      } else {
        judgeRow(fieldCount, forcedReason);
      }
    }
    fieldIndex = 0;
    hasContent = false;
    gstinCell = undefined;
    gstinOverflow = false;
    capturing = !headerSeen || gstinIndex === 0;
  }

  // Registers repeat their customers: remember recent answers (bounded: cleared when full).
  const recent = new Map<string, string | undefined>();
  function judgeGstin(gstin: string): string | undefined {
    if (recent.has(gstin)) return recent.get(gstin);
    if (recent.size >= RECENT_GSTINS) recent.clear();
    const problem = gstinProblem(gstin);
    recent.set(gstin, problem);
    return problem;
  }

  function judgeRow(fieldCount: number, forcedReason: string | undefined): void {
    verdict.dataRows += 1;
    const gstin = gstinCell ?? '';
    let reason = forcedReason;
    if (reason === undefined && fieldCount !== headerCount) {
      reason = `expected ${headerCount} columns, found ${fieldCount}`;
    }
    if (reason === undefined && gstinIndex !== -1 && gstin !== '') {
      // An empty GSTIN is a sale to an unregistered buyer (B2C) [assumed].
      reason = gstinOverflow
        ? `GSTIN must be 15 characters, found over ${MAX_CELL_BYTES}`
        : judgeGstin(gstin);
    }
    if (reason === undefined) {
      verdict.validRows += 1;
      return;
    }
    verdict.invalidRows += 1;
    if (verdict.badRows.length < MAX_KEPT_BAD_ROWS)
      verdict.badRows.push({ row: recordNumber, gstin, reason });
    else verdict.truncated = true;
  }

  function feed(bytes: Buffer): void {
    // The hot loop: most bytes are neither delimiters nor kept, so that case is tested first, on locals.
    let st = state;
    let content = hasContent;
    const length = bytes.length;
    for (let i = 0; i < length; i++) {
      const byte = bytes[i] as number;
      if (byte > COMMA && st <= State.Unquoted) {
        content = true;
        st = State.Unquoted;
        afterCr = false;
        if (capturing) keep(byte);
        continue;
      }
      if (afterCr) {
        afterCr = false;
        if (byte === LF) continue;
      }
      if (st === State.Quoted) {
        if (byte === QUOTE) st = State.QuotedQuote;
        else {
          if (byte !== SPACE && byte !== TAB) content = true;
          if (capturing) keep(byte);
        }
        continue;
      }
      if (st === State.QuotedQuote) {
        if (byte === QUOTE) {
          if (capturing) keep(QUOTE);
          st = State.Quoted;
          continue;
        }
        // The closing quote: anything up to the next delimiter is kept as written [assumed: lenient].
        st = State.Unquoted;
      }
      if (byte === COMMA) {
        endField();
        st = State.FieldStart;
      } else if (byte === LF || byte === CR) {
        hasContent = content;
        endField();
        endRecord();
        content = false;
        st = State.FieldStart;
        afterCr = byte === CR;
      } else if (byte === QUOTE && st === State.FieldStart) {
        content = true;
        st = State.Quoted;
      } else {
        if (byte !== SPACE && byte !== TAB) content = true;
        if (capturing) keep(byte);
        st = State.Unquoted;
      }
    }
    state = st;
    hasContent = content;
  }

  return {
    write(chunk) {
      if (prefix === undefined) return feed(chunk);
      // Hold back the first bytes until they show whether the file starts with a byte-order mark.
      const head = Buffer.concat([prefix, chunk]);
      if (head.length < BOM.length && BOM.subarray(0, head.length).equals(head)) {
        prefix = head;
        return;
      }
      prefix = undefined;
      feed(head.subarray(0, BOM.length).equals(BOM) ? head.subarray(BOM.length) : head);
    },
    end() {
      if (prefix !== undefined && prefix.length > 0) feed(prefix);
      prefix = undefined;
      if (state === State.Quoted) {
        endField();
        endRecord('unterminated quoted field');
      } else if (fieldIndex > 0 || hasContent || state !== State.FieldStart) {
        endField();
        endRecord();
      }
      return verdict;
    },
  };
}

/** The error file: one line per kept refused row, with the file name first when `withFileName`. */
export function renderErrorFile(
  rows: ReadonlyArray<BadRow & { fileName?: string }>,
  withFileName: boolean,
): string {
  const header = withFileName
    ? ['File Name', 'Row Number', 'GSTIN', 'Error Message']
    : ['Row Number', 'GSTIN', 'Error Message'];
  const lines = rows.map((row) => {
    const cells = [String(row.row), row.gstin, row.reason];
    return (withFileName ? [row.fileName ?? '', ...cells] : cells).map(csvCell).join(',');
  });
  return `${[header.join(','), ...lines].join('\n')}\n`;
}

function csvCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
