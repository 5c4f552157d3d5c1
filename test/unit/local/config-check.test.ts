import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../lib/config/stage-config';
import { checkLocalConfig } from '../../../local/pipeline';
import { scratchDir } from '../../support/scratch';

/** A copy of the repository's configuration to break. */
function configRoot(): string {
  const root = scratchDir('config-');
  mkdirSync(path.join(root, 'config'), { recursive: true });
  cpSync(path.join(PROJECT_ROOT, 'config'), path.join(root, 'config'), { recursive: true });
  cpSync(path.join(PROJECT_ROOT, 'cdk.json'), path.join(root, 'cdk.json'));
  return root;
}

function problems(root: string): string {
  try {
    checkLocalConfig({}, undefined, root);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('no problem reported');
}

describe('npm start: configuration problems, all at once, each naming its file', () => {
  it('accepts the repository as it is', () => {
    expect(checkLocalConfig({}, undefined, configRoot()).deployment.stage).toBe('local');
  });

  it('reports every file that is not JSON, by name', () => {
    const root = configRoot();
    writeFileSync(path.join(root, 'config/stages/local.json'), '{ "dispatch": { ');
    writeFileSync(path.join(root, 'config/local-secrets.json'), '{ "a": 1,, }');
    writeFileSync(path.join(root, 'cdk.json'), '{ app: }');
    const text = problems(root);
    expect(text).toMatch(/3 problems/);
    expect(text).toMatch(/config\/stages\/local\.json is not valid JSON/);
    expect(text).toMatch(/config\/local-secrets\.json is not valid JSON/);
    expect(text).toMatch(/cdk\.json is not valid JSON/);
  });

  it('reports invalid settings, invalid routes and a missing local secret together', () => {
    const root = configRoot();
    const stage = JSON.parse(readFileSync(path.join(root, 'config/stages/local.json'), 'utf8'));
    stage.dispatch.timeoutSeconds = 0;
    writeFileSync(path.join(root, 'config/stages/local.json'), JSON.stringify(stage));
    const routes = JSON.parse(readFileSync(path.join(root, 'config/routes.json'), 'utf8'));
    routes.routes[0].vendor = 'no-such-vendor';
    writeFileSync(path.join(root, 'config/routes.json'), JSON.stringify(routes));
    const secrets = JSON.parse(readFileSync(path.join(root, 'config/local-secrets.json'), 'utf8'));
    delete secrets['vendor-ingest/inspect'];
    writeFileSync(path.join(root, 'config/local-secrets.json'), JSON.stringify(secrets));
    const text = problems(root);
    expect(text).toMatch(/config\/stages\/local\.json: dispatch\.timeoutSeconds/);
    expect(text).toMatch(/config\/routes\.json: .*no-such-vendor/);
    // The routes are broken, so the secrets check has no routes to look at yet; fix them and it shows.
    writeFileSync(
      path.join(root, 'config/routes.json'),
      readFileSync(path.join(PROJECT_ROOT, 'config/routes.json'), 'utf8'),
    );
    stage.dispatch.timeoutSeconds = 20;
    writeFileSync(path.join(root, 'config/stages/local.json'), JSON.stringify(stage));
    expect(problems(root)).toMatch(
      /config\/local-secrets\.json has no secret "vendor-ingest\/inspect" \(route inspect-photos/,
    );
  });
});
