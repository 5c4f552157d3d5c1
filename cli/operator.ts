import os from 'node:os';

/**
 * Who is acting: recorded in the ledger history by replay and resolve, and in the console's action
 * log. `VENDOR_INGEST_OPERATOR` names someone else (a shared terminal, an automation).
 */
export function operator(): string {
  return process.env.VENDOR_INGEST_OPERATOR ?? `${os.userInfo().username}@${os.hostname()}`;
}
