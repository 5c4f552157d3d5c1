import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { type AwsClients, awsClients, createStateTable } from '../../local/aws';
import { type MotoServer, startMoto } from '../../local/moto';

export interface MotoFixture {
  moto: MotoServer;
  aws: AwsClients;
  /** A fresh state table (unique name) in this file's moto. */
  newStateTable(): Promise<string>;
}

/** One moto server per test file, stopped after the file. */
export function useMoto(): MotoFixture {
  const fixture = {} as MotoFixture;
  beforeAll(async () => {
    fixture.moto = await startMoto();
    fixture.aws = awsClients(fixture.moto.endpoint);
    fixture.newStateTable = async () => {
      const name = `state-${randomUUID().slice(0, 8)}`;
      await createStateTable(fixture.aws.ddb, name);
      return name;
    };
  }, 60_000);
  afterAll(async () => {
    await fixture.moto?.stop();
  });
  return fixture;
}
