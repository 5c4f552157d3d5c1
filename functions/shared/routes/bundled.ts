import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLED_ROUTES_FILE } from '../deployment';

/**
 * Reads the resolved-routes document the stack packages next to the handler (`routes.json` in the
 * deployment package). `taskRoot` is Lambda's `LAMBDA_TASK_ROOT`; without it, the directory of this
 * module (in a bundle, the handler's own).
 */
export function readBundledRoutes(taskRoot: string | undefined): unknown {
  const dir = taskRoot ?? path.dirname(fileURLToPath(import.meta.url));
  const file = path.join(dir, BUNDLED_ROUTES_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(
      `no routes document at ${file}: the stack packages ${BUNDLED_ROUTES_FILE} with the function`,
      {
        cause: error,
      },
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`${file} is not JSON`, { cause: error });
  }
}
