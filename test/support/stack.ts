import { afterAll, beforeAll } from 'vitest';
import { stackTarget, type Target } from '../../cli/target';
import { type AwsClients, awsClients } from '../../local/aws';
import { type DeployedStack, deployStack } from '../../local/deploy';
import { type MotoServer, startMoto } from '../../local/moto';
import { SYNTH_CACHE_ENV, type SynthContext, synthesize } from '../../local/synth';

export interface EmbeddedStack {
  readonly moto: MotoServer;
  readonly aws: AwsClients;
  /** What CloudFormation reported. */
  readonly deployed: DeployedStack;
  /** The stack as the operator CLI sees it: bucket, table, queues by route. */
  readonly target: Target;
}

/**
 * One moto per test file with the real stack deployed on it (the `local` stage unless a context is
 * given): tests that need a table, a queue or the bucket use the ones the CDK app defines, never
 * hand-made ones. Synthesized once per run (the global setup's cache), deployed in about a second.
 */
export function useEmbeddedStack(context: SynthContext = { stage: 'local' }): EmbeddedStack {
  const fixture = {} as { -readonly [K in keyof EmbeddedStack]: EmbeddedStack[K] };
  beforeAll(async () => {
    fixture.moto = await startMoto();
    const cacheDir = process.env[SYNTH_CACHE_ENV];
    const synth = synthesize(context, cacheDir ? { cacheDir } : {});
    fixture.aws = awsClients(fixture.moto.endpoint, synth.region);
    fixture.deployed = await deployStack(fixture.aws, synth);
    fixture.target = await stackTarget(fixture.aws, synth.stackName);
  }, 120_000);
  afterAll(async () => {
    await fixture.moto?.stop();
  });
  return fixture;
}
