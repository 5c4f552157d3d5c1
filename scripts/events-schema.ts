import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import { DETAIL_SCHEMA_VERSION, DeliveryEventDetailSchema } from '../functions/shared/outcome';

/**
 * `docs/events.schema.json`, the JSON Schema of the outcome events' detail, rendered from the zod
 * definition the functions validate against (functions/shared/outcome.ts), so the two cannot disagree.
 * `npm run docs:events` rewrites it; a unit test fails while the file differs.
 */

export const EVENTS_SCHEMA_FILE = fileURLToPath(new URL('../docs/events.schema.json', import.meta.url));

export function renderEventsSchema(): string {
  const schema = {
    ...z.toJSONSchema(DeliveryEventDetailSchema, { target: 'draft-2020-12' }),
    $id: `https://vendor-ingest.example/schemas/delivery-event-detail/v${DETAIL_SCHEMA_VERSION}.json`,
    title: 'vendor-ingest delivery outcome event detail',
    description:
      'The `detail` of the Delivery Succeeded / Delivery Failed / Delivery Needs Attention events (source vendor-ingest), and the content of each result document. See docs/events.md.',
  };
  return `${JSON.stringify(schema, null, 2)}\n`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const before = (() => {
    try {
      return readFileSync(EVENTS_SCHEMA_FILE, 'utf8');
    } catch {
      return '';
    }
  })();
  const after = renderEventsSchema();
  writeFileSync(EVENTS_SCHEMA_FILE, after);
  console.log(
    `docs/events.schema.json: ${before === after ? 'unchanged' : 'rewritten'} from functions/shared/outcome.ts`,
  );
}
