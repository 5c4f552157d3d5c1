import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { afterEach, describe, expect, it } from 'vitest';
import { loadDeploymentConfig } from '../../lib/config/deployment-config';
import { loadStageConfig, StageConfigError, StageConfigSchema } from '../../lib/config/stage-config';
import { VendorIngestStack } from '../../lib/vendor-ingest-stack';
import { withSettings } from './support';

const VALID_ROUTE = {
  id: 'inspect-photos',
  prefix: 'inspect/{assetId}/',
  vendor: 'inspect',
  secretId: 'vendor-ingest/inspect',
  baseUrl: 'https://api.eu.screeningeagle.com',
  uploadHostAllowList: ['*.s3.amazonaws.com'],
};

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A scratch project root holding `config/stages/<stage>.json` and `config/routes.json`. */
function scratchRoot(stage: string, stageConfig: unknown, routes: unknown): string {
  const root = mkdtempSync(join(tmpdir(), 'vendor-ingest-config-'));
  dirs.push(root);
  mkdirSync(join(root, 'config', 'stages'), { recursive: true });
  writeFileSync(join(root, 'config', 'stages', `${stage}.json`), JSON.stringify(stageConfig));
  writeFileSync(join(root, 'config', 'routes.json'), JSON.stringify(routes));
  return root;
}

/** The problems of the StageConfigError `load` throws (fails the test if it does not throw one). */
function problemsOf(load: () => unknown): readonly string[] {
  try {
    load();
  } catch (error) {
    if (error instanceof StageConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a StageConfigError');
}

describe('loadStageConfig', () => {
  it('loads the checked-in dev, prod and local stages', () => {
    // Act
    const stages = ['dev', 'prod', 'local'].map((stage) => loadDeploymentConfig(stage));

    // Assess
    expect(stages.map((d) => d.stage)).toEqual(['dev', 'prod', 'local']);
    expect(stages[1]?.config).toMatchObject({ retain: true, kms: true });
  });

  it('gives the local pipeline short timeouts, few receives and no batching windows', () => {
    // Act
    const local = loadStageConfig('local');

    // Assess
    expect(local.dispatch).toMatchObject({ timeoutSeconds: 20, maxReceiveCount: 3, batchWindowSeconds: 0 });
    expect(local.completion).toMatchObject({ timeoutSeconds: 10, maxReceiveCount: 3, batchWindowSeconds: 0 });
    expect(local.vendorTimeoutMs).toBeLessThan(local.completion.timeoutSeconds * 1000);
  });

  it('fills every default from an empty file', () => {
    // Act
    const config = StageConfigSchema.parse({});

    // Assess
    expect(config).toMatchObject({
      routesFile: 'config/routes.json',
      dispatch: {
        memoryMb: 1024,
        timeoutSeconds: 300,
        batchSize: 1,
        batchWindowSeconds: 0,
        maxConcurrency: 5,
        maxReceiveCount: 8,
      },
      completion: { memoryMb: 256, timeoutSeconds: 60, batchSize: 5, maxConcurrency: 2, maxReceiveCount: 10 },
      routes: {},
      retryBaseSeconds: 10,
      retryMaxSeconds: 900,
      secretCacheSeconds: 300,
      vendorTimeoutMs: 10_000,
      logRetentionDays: 30,
      noncurrentVersionExpiryDays: 30,
      retain: false,
      kms: false,
    });
    expect(config.dispatch.visibilityTimeoutSeconds).toBeUndefined();
    expect(config.alarmEmail).toBeUndefined();
  });
});

describe('loadDeploymentConfig', () => {
  it('points the local stage at the vendor sandbox, except a route given its own endpoint and upload hosts', () => {
    // Prepare
    const root = scratchRoot(
      'local',
      {},
      {
        routes: [VALID_ROUTE, { ...VALID_ROUTE, id: 'inspect-eu', prefix: 'inspect-eu/{assetId}/' }],
        stages: {
          local: {
            routes: {
              'inspect-eu': {
                baseUrl: 'https://sandbox.api.eu.screeningeagle.com',
                uploadHostAllowList: ['uploads.sandbox.example.com'],
              },
            },
          },
        },
      },
    );

    // Act
    const deployment = loadDeploymentConfig('local', {
      rootDir: root,
      vendorSandboxUrl: 'http://127.0.0.1:4010',
    });

    // Assess
    const byId = new Map(deployment.routes.map((r) => [r.id, r]));
    expect(byId.get('inspect-photos')).toMatchObject({
      baseUrl: 'http://127.0.0.1:4010',
      uploadHostAllowList: ['127.0.0.1:4010'],
    });
    expect(byId.get('inspect-eu')).toMatchObject({
      baseUrl: 'https://sandbox.api.eu.screeningeagle.com',
      uploadHostAllowList: ['uploads.sandbox.example.com'],
    });
  });

  it('lists stage-file and route-file problems together in one error', () => {
    // Prepare
    const root = scratchRoot(
      'broken',
      {
        dispatch: { maxConcurrency: 1, batchSize: 50 },
        logRetentionDays: 10,
        alarmEmail: 'not-an-address',
        surprise: true,
      },
      {
        routes: [
          VALID_ROUTE,
          { ...VALID_ROUTE, id: 'inspect-more', prefix: 'inspect/more/{assetId}/' },
          { ...VALID_ROUTE, id: 'mystery', prefix: 'mystery/', vendor: 'nobody' },
        ],
      },
    );

    // Act
    const problems = problemsOf(() => loadDeploymentConfig('broken', { rootDir: root }));

    // Assess
    const expected = [
      /broken\.json: dispatch\.maxConcurrency: must be at least 2/,
      /dispatch\.batchWindowSeconds: must be at least 1 when batchSize exceeds 10/,
      /logRetentionDays: one of 1, 3, 5/,
      /alarmEmail/,
      /broken\.json: Unrecognized key: "surprise"/,
      /routes "inspect-photos" and "inspect-more": prefixes .* overlap/,
      /route "mystery": unknown vendor "nobody"/,
    ];
    for (const pattern of expected)
      expect(
        problems.some((p) => pattern.test(p)),
        String(pattern),
      ).toBe(true);
    expect(problems).toHaveLength(expected.length);
  });

  it('lists every synth-time cross-check problem in one error', () => {
    // Prepare
    const longId = `r${'x'.repeat(60)}`;
    const root = scratchRoot(
      'crossed',
      {
        dispatch: { timeoutSeconds: 300, visibilityTimeoutSeconds: 600 },
        completion: { timeoutSeconds: 60, visibilityTimeoutSeconds: 60 },
        vendorTimeoutMs: 90_000,
        retryBaseSeconds: 1000,
        retryMaxSeconds: 900,
        routes: { ghost: { maxConcurrency: 3 } },
      },
      {
        routes: [
          // A long allow-list is fine: routes travel in the deployment package, not the environment.
          {
            ...VALID_ROUTE,
            uploadHostAllowList: Array.from({ length: 200 }, (_, i) => `upload-${i}.example.com`),
          },
          { ...VALID_ROUTE, id: longId, prefix: 'other/{assetId}/' },
        ],
      },
    );

    // Act
    const problems = problemsOf(() => loadDeploymentConfig('crossed', { rootDir: root }));

    // Assess
    const expected = [
      /dispatch\.visibilityTimeoutSeconds is 600 but must be at least 6 × dispatch\.timeoutSeconds = 1800/,
      /completion\.visibilityTimeoutSeconds is 60 but must be at least 6 × completion\.timeoutSeconds = 360/,
      /vendorTimeoutMs \(90000\) must be below completion\.timeoutSeconds/,
      /retryBaseSeconds \(1000\) must not exceed retryMaxSeconds \(900\)/,
      /routes\.ghost: no route "ghost"/,
      new RegExp(`queue name "vendor-ingest-crossed-${longId}-intake" is \\d+ characters`),
      new RegExp(`queue name "vendor-ingest-crossed-${longId}-intake-dlq" is \\d+ characters`),
    ];
    for (const pattern of expected)
      expect(
        problems.some((p) => pattern.test(p)),
        String(pattern),
      ).toBe(true);
    expect(problems).toHaveLength(expected.length);
  });

  it('reports a missing stage file and still checks the routes', () => {
    // Prepare
    const root = scratchRoot(
      'present',
      {},
      { routes: [{ ...VALID_ROUTE, baseUrl: 'http://api.example.com' }] },
    );

    // Act
    const problems = problemsOf(() => loadDeploymentConfig('absent', { rootDir: root }));

    // Assess
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/stage "absent": cannot read .*absent\.json \(ENOENT\)/);
    expect(problems[1]).toMatch(/baseUrl must be https/);
  });
});

describe('VendorIngestStack synth-time checks', () => {
  it('refuse a deployment whose queues would hide messages for less than 6 × the function timeout', () => {
    // Prepare
    const deployment = withSettings('dev', ({ config }) => ({
      ...config,
      dispatch: { ...config.dispatch, visibilityTimeoutSeconds: config.dispatch.timeoutSeconds },
      completion: { ...config.completion, visibilityTimeoutSeconds: 5 * config.completion.timeoutSeconds },
    }));

    // Act
    const problems = problemsOf(() => new VendorIngestStack(new App(), 'Rejected', { deployment }));

    // Assess
    expect(problems).toEqual([
      expect.stringMatching(
        /^dispatch\.visibilityTimeoutSeconds is 300 but must be at least 6 × dispatch\.timeoutSeconds = 1800/,
      ),
      expect.stringMatching(
        /^completion\.visibilityTimeoutSeconds is 300 but must be at least 6 × completion\.timeoutSeconds = 360/,
      ),
    ]);
  });
});
