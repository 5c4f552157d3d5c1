/**
 * GSTIN (Indian GST identification number) validation: 15 characters, the 2-digit state code, the
 * holder's 10-character PAN, the entity code, `Z`, and a check character.
 *
 * The check character is GSTN's mod-36 scheme: each of the first 14 characters is worth its index in
 * `0-9A-Z`; from the left, odd positions are weighted 1 and even positions 2; each product adds its
 * quotient and remainder by 36; the check character is worth `(36 - sum mod 36) mod 36`. (The published
 * worked example, `27AAPFU0939F1Z`, sums to 221 and gets `V`.)
 */

const CODE_POINTS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const PAN = /^[A-Z]{5}[0-9]{4}[A-Z]$/;
/** State and union-territory codes the sandbox accepts [assumed: 01–38, the census codes in use]. */
const MIN_STATE = 1;
const MAX_STATE = 38;

/** The check character of a GSTIN's first 14 characters, or `undefined` when one is not in `0-9A-Z`. */
export function gstinCheckCharacter(first14: string): string | undefined {
  let sum = 0;
  for (let i = 0; i < 14; i++) {
    const value = CODE_POINTS.indexOf(first14.charAt(i));
    if (value === -1) return undefined;
    const product = value * (i % 2 === 0 ? 1 : 2);
    sum += Math.floor(product / 36) + (product % 36);
  }
  return CODE_POINTS.charAt((36 - (sum % 36)) % 36);
}

/**
 * Why `raw` is not a valid GSTIN, or `undefined` when it is. Surrounding blanks are ignored and letters
 * compare case-insensitively [assumed].
 */
export function gstinProblem(raw: string): string | undefined {
  const gstin = raw.trim().toUpperCase();
  if (gstin.length !== 15) return `GSTIN must be 15 characters, found ${gstin.length}`;
  const state = gstin.slice(0, 2);
  if (!/^\d\d$/.test(state) || Number(state) < MIN_STATE || Number(state) > MAX_STATE) {
    return `invalid state code '${state}' (01-38)`;
  }
  if (!PAN.test(gstin.slice(2, 12))) return `characters 3-12 '${gstin.slice(2, 12)}' are not a PAN`;
  if (!/^[1-9A-Z]$/.test(gstin.charAt(12))) return `invalid entity code '${gstin.charAt(12)}'`;
  if (gstin.charAt(13) !== 'Z') return `14th character must be 'Z', found '${gstin.charAt(13)}'`;
  const expected = gstinCheckCharacter(gstin.slice(0, 14));
  if (expected !== gstin.charAt(14)) {
    return `check character is '${gstin.charAt(14)}', expected '${expected ?? '?'}'`;
  }
  return undefined;
}
