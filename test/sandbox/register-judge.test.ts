import { describe, expect, it } from 'vitest';
import { gstinCheckCharacter, gstinProblem } from '../../sandbox/gstin';
import { createRegisterJudge, MAX_KEPT_BAD_ROWS, renderErrorFile } from '../../sandbox/register-judge';

/** Valid GSTINs: the published worked example, then six of the project's example customers. */
const VALID = [
  '27AAPFU0939F1ZV',
  '07AAGFF2194N1Z1',
  '27AAACR5055K1Z7',
  '33AADCS0472N1Z9',
  '24AAACG1209E1ZD',
  '29AABCT1332L1ZA',
];

/** Judges `text` fed `chunkSize` bytes at a time. */
function judge(text: string | Buffer, chunkSize = 1 << 16) {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  const judgeOne = createRegisterJudge();
  for (let at = 0; at < bytes.length; at += chunkSize) judgeOne.write(bytes.subarray(at, at + chunkSize));
  return judgeOne.end();
}

describe('GSTIN validation', () => {
  it.each(VALID)('accepts %s', (gstin) => {
    // Assess
    expect(gstinProblem(gstin)).toBeUndefined();
  });

  it('computes the check character of the published worked example', () => {
    // Assess
    expect(gstinCheckCharacter('27AAPFU0939F1Z')).toBe('V');
  });

  it.each([
    ['27AAPFU0939F1ZW', "check character is 'W', expected 'V'"],
    ['27AAPFU0939F1Z', 'GSTIN must be 15 characters, found 14'],
    ['39AAPFU0939F1ZV', "invalid state code '39' (01-38)"],
    ['00AAPFU0939F1ZV', "invalid state code '00' (01-38)"],
    ['27AAPF10939F1ZV', "characters 3-12 'AAPF10939F' are not a PAN"],
    ['27AAPFU0939F0ZV', "invalid entity code '0'"],
    ['27AAPFU0939F1YV', "14th character must be 'Z', found 'Y'"],
  ])('refuses %s: %s', (gstin, reason) => {
    // Assess
    expect(gstinProblem(gstin)).toBe(reason);
  });

  it('ignores surrounding blanks and letter case', () => {
    // Assess
    expect(gstinProblem(' 27aapfu0939f1zv ')).toBeUndefined();
  });
});

describe('register judge', () => {
  const HEADER = 'Invoice Number,Customer GSTIN,Customer Name\n';

  it('counts rows and refuses the invalid GSTINs, whatever the chunking', () => {
    // Prepare
    const text = `${HEADER}INV-1,${VALID[0]},"Acme, Ltd"\nINV-2,27AAPFU0939F1ZW,"Beta ""B"" Co"\nINV-3,${VALID[1]},Gamma\n`;

    // Act
    const verdicts = [1, 2, 7, 1 << 16].map((size) => judge(text, size));

    // Assess
    for (const verdict of verdicts) {
      expect(verdict).toEqual({
        gstinColumn: 'Customer GSTIN',
        dataRows: 3,
        validRows: 2,
        invalidRows: 1,
        badRows: [{ row: 3, gstin: '27AAPFU0939F1ZW', reason: "check character is 'W', expected 'V'" }],
        truncated: false,
      });
    }
  });

  it('reads quoted commas, quotes and line breaks, CRLF and CR endings, a BOM, and skips blank records', () => {
    // Prepare
    const text =
      '\ufeffInvoice Number,Customer GSTIN,Notes\r\n' +
      `INV-1,"${VALID[2]}","line one\r\nline two, ""quoted"""\r\n` +
      '\r\n' +
      ',,\r' +
      `INV-2,${VALID[3]},plain`;

    // Act
    const verdict = judge(text, 3);

    // Assess
    expect(verdict).toMatchObject({
      gstinColumn: 'Customer GSTIN',
      dataRows: 2,
      validRows: 2,
      invalidRows: 0,
    });
  });

  it('numbers rows as a spreadsheet does: the header is row 1, blank records count', () => {
    // Act
    const verdict = judge(`${HEADER}\nINV-1,BAD,x\n`);

    // Assess
    expect(verdict.badRows).toEqual([
      { row: 3, gstin: 'BAD', reason: 'GSTIN must be 15 characters, found 3' },
    ]);
  });

  it('refuses a row with the wrong number of columns and an unterminated quoted field', () => {
    // Act
    const verdict = judge(`${HEADER}INV-1,${VALID[0]}\nINV-2,${VALID[0]},"open`);

    // Assess
    expect(verdict.badRows).toEqual([
      { row: 2, gstin: VALID[0], reason: 'expected 3 columns, found 2' },
      { row: 3, gstin: VALID[0], reason: 'unterminated quoted field' },
    ]);
  });

  it('accepts an empty GSTIN (a sale to an unregistered buyer) and judges a purchase register', () => {
    // Act
    const sales = judge(`${HEADER}INV-1,,Walk-in\n`);
    const purchase = judge(`Bill,Supplier GSTIN\nB-1,${VALID[4]}\nB-2,24AAACG1209E1ZX\n`);

    // Assess
    expect(sales).toMatchObject({ dataRows: 1, validRows: 1, invalidRows: 0 });
    expect(purchase).toMatchObject({
      gstinColumn: 'Supplier GSTIN',
      dataRows: 2,
      validRows: 1,
      invalidRows: 1,
    });
  });

  it('only counts rows when the header names no GSTIN column', () => {
    // Act
    const verdict = judge('invoice,amount\nINV-1,100\nINV-2,250\n');

    // Assess
    expect(verdict).toEqual({
      gstinColumn: null,
      dataRows: 2,
      validRows: 2,
      invalidRows: 0,
      badRows: [],
      truncated: false,
    });
  });

  it(`keeps the first ${MAX_KEPT_BAD_ROWS} refused rows and counts the rest`, () => {
    // Prepare
    const rows = Array.from({ length: MAX_KEPT_BAD_ROWS + 5 }, (_, i) => `INV-${i},BAD,x`).join('\n');

    // Act
    const verdict = judge(`${HEADER}${rows}\n`);

    // Assess
    expect(verdict.invalidRows).toBe(MAX_KEPT_BAD_ROWS + 5);
    expect(verdict.badRows).toHaveLength(MAX_KEPT_BAD_ROWS);
    expect(verdict.truncated).toBe(true);
  });

  it('renders the error file, quoting cells that need it', () => {
    // Act
    const csv = renderErrorFile(
      [
        { row: 2, gstin: 'BAD', reason: 'GSTIN must be 15 characters, found 3' },
        { row: 5, gstin: 'A"B', reason: 'x' },
      ],
      false,
    );

    // Assess
    expect(csv).toBe(
      'Row Number,GSTIN,Error Message\n2,BAD,"GSTIN must be 15 characters, found 3"\n5,"A""B",x\n',
    );
  });
});
