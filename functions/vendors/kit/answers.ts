import { redactor } from '../../shared/redact';

/** True for a 2xx status. */
export function isSuccess(status: number): boolean {
  return status >= 200 && status <= 299;
}

/** A vendor-supplied message made safe for an error message: secrets and URL signatures removed, cut short. */
export function vendorText(value: string | null | undefined): string | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  return redactor.text(value.trim().slice(0, 300));
}

/**
 * A vendor's job detail made safe to store and log: ClearTax answers carry presigned links (e.g.
 * `fileError.errorFileUrl`) whose signature is a credential, so every string loses URL signing values
 * and known secrets.
 */
export function redactDetail(value: unknown): unknown {
  if (typeof value === 'string') return redactor.text(value);
  if (Array.isArray(value)) return value.map(redactDetail);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([name, item]) => [name, redactDetail(item)]));
  }
  return value;
}
