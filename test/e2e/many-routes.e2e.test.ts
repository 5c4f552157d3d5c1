import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TERMINAL_STATES } from '../../functions/shared/state/ledger';
import { PROJECT_ROOT } from '../../lib/config/stage-config';
import { scratchDir } from '../support/scratch';
import { assertInvariant, useLocalPipeline } from './support/harness';
import { INSPECT_ASSETS, jpegBody, waitFor } from './support/inputs';

/**
 * Routes no longer travel in Lambda's 4 KB environment: a stack with 50 routes synthesizes (cdk-nag
 * included), deploys onto the embedded AWS and delivers a file on its 50th route.
 */

const ROUTES = 50;
const base = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'config/routes.json'), 'utf8')) as {
  routes: Array<Record<string, unknown>>;
};
const extra = Array.from({ length: ROUTES - base.routes.length }, (_, i) => {
  const n = String(base.routes.length + i + 1).padStart(2, '0');
  return {
    id: `photos-${n}`,
    prefix: `sites/site-${n}/{assetId}/`,
    vendor: 'inspect',
    secretId: 'vendor-ingest/inspect',
    baseUrl: 'https://api.eu.screeningeagle.com',
    uploadHostAllowList: ['*.s3.amazonaws.com'],
    options: {},
  };
});
const routesFile = path.join(scratchDir('many-routes-'), 'routes.json');
writeFileSync(routesFile, JSON.stringify({ routes: [...base.routes, ...extra] }, null, 2));

const e2e = useLocalPipeline({ routesFile });

describe(`a stack with ${ROUTES} routes`, () => {
  it('deploys every route and delivers a file on the last one', async () => {
    const last = e2e.pipeline.routes.at(-1);
    expect(e2e.pipeline.routes).toHaveLength(ROUTES);
    expect(e2e.pipeline.resources.intake).toHaveLength(ROUTES);
    expect(last?.id).toBe(`photos-${ROUTES}`);

    const file = await e2e.drop(`sites/site-${ROUTES}/${INSPECT_ASSETS[0]}/`, 'crack.jpg', jpegBody('r50'));
    const record = await waitFor(
      `${file.key} to complete`,
      async () => {
        const [r] = await e2e.pipeline.ledger.listByKey(e2e.pipeline.resources.bucket, file.key);
        return r && TERMINAL_STATES.has(r.state) ? r : undefined;
      },
      60_000,
    );

    expect(record).toMatchObject({ state: 'COMPLETED', routeId: `photos-${ROUTES}`, vendor: 'inspect' });
    await assertInvariant(e2e);
  });
});
