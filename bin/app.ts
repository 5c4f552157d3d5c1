#!/usr/bin/env -S npx tsx
import { App } from 'aws-cdk-lib';
import { loadDeploymentConfig } from '../lib/config/deployment-config';
import { StageConfigError } from '../lib/config/stage-config';
import { applyNagPacks } from '../lib/nag';
import { stackNameFor } from '../lib/naming';
import { VendorIngestStack } from '../lib/vendor-ingest-stack';

/** `npx cdk synth|deploy -c stage=<name>` (default `dev`). */
const app = new App();
const stage = String(app.node.tryGetContext('stage') ?? 'dev');

try {
  const deployment = loadDeploymentConfig(stage);
  new VendorIngestStack(app, stackNameFor(stage), {
    deployment,
    env: {
      account: deployment.config.account ?? process.env.CDK_DEFAULT_ACCOUNT,
      region: deployment.config.region ?? process.env.CDK_DEFAULT_REGION,
    },
    description: `vendor-ingest (${stage}): S3 drops delivered to vendor upload APIs`,
    tags: { project: 'vendor-ingest', stage },
  });
} catch (error) {
  if (!(error instanceof StageConfigError)) throw error;
  // One readable list instead of a stack trace: every problem, then stop.
  console.error(error.message);
  process.exit(1);
}

applyNagPacks(app);
