import * as z from 'zod';

/** A dotted JSON path such as `result.taskId` (route options name where a vendor puts a field). */
export const JsonPathSchema = z
  .string()
  .regex(/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/, 'a dotted path such as result.taskId');

/** The value at a dotted path, or undefined when any step is missing. */
export function valueAt(body: unknown, path: string): unknown {
  let current = body;
  for (const name of path.split('.')) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[name];
  }
  return current;
}

const count = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) ? value : undefined;

/**
 * Row counts from a vendor's statistics, which come as one object or a list of them (ClearTax GST's
 * `processingStats[]`): `totalDocumentCount` or `totalRows`, `validRows`, `invalidRows`, summed.
 * Undefined when the vendor reports none (e.g. not computed for a spreadsheet).
 */
export function rowStats(
  value: unknown,
): { total?: number; accepted?: number; rejected?: number } | undefined {
  const items = (Array.isArray(value) ? value : [value]).filter(
    (v): v is Record<string, unknown> => v !== null && typeof v === 'object',
  );
  let total: number | undefined;
  let accepted: number | undefined;
  let rejected: number | undefined;
  const add = (sum: number | undefined, v: number | undefined) => (v === undefined ? sum : (sum ?? 0) + v);
  for (const item of items) {
    total = add(total, count(item.totalDocumentCount) ?? count(item.totalRows));
    accepted = add(accepted, count(item.validRows) ?? count(item.acceptedRows));
    rejected = add(rejected, count(item.invalidRows) ?? count(item.rejectedRows));
  }
  if (total === undefined && accepted === undefined && rejected === undefined) return undefined;
  return {
    ...(total !== undefined ? { total } : {}),
    ...(accepted !== undefined ? { accepted } : {}),
    ...(rejected !== undefined ? { rejected } : {}),
  };
}
