import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { createAwsRuntime } from '../../../functions/shared/aws-runtime';
import { ErrorCode } from '../../../functions/shared/errors';

const secretsMock = mockClient(SecretsManagerClient);
afterAll(() => secretsMock.restore());
beforeEach(() => secretsMock.reset());

function runtime() {
  return createAwsRuntime({
    stateTable: 'state',
    secretCacheSeconds: 0,
    vendorTimeoutMs: 1000,
    ledgerRetentionDays: 90,
    breakerFailureThreshold: 5,
    breakerProbeSeconds: 60,
    eventBusName: 'default',
    stackName: 'VendorIngest-test',
    resultsPrefix: '_results/',
    tagObjects: true,
    routesDocument: { stage: 'test', allowLoopbackHttp: false, routes: [] },
    env: { AWS_REGION: 'ap-south-1' },
  });
}

function awsError(name: string): Error {
  return Object.assign(new Error(`${name}: refused`), { name, $metadata: { httpStatusCode: 400 } });
}

describe('the runtime’s secret source', () => {
  it.each([['AccessDeniedException'], ['DecryptionFailure'], ['KMSAccessDeniedException']])(
    'makes %s a permanent SECRET_ACCESS_DENIED naming the secret, not a network error',
    async (name) => {
      secretsMock.on(GetSecretValueCommand).rejects(awsError(name));

      const error = await runtime()
        .vendors.secrets('vendor-ingest/cleartax')
        .catch((e: unknown) => e);

      expect(error).toMatchObject({ code: ErrorCode.SECRET_ACCESS_DENIED, retryable: false });
      expect(String((error as Error).message)).toContain('vendor-ingest/cleartax');
    },
  );

  it('makes a missing secret SECRET_NOT_FOUND', async () => {
    secretsMock.on(GetSecretValueCommand).rejects(awsError('ResourceNotFoundException'));

    const error = await runtime()
      .vendors.secrets('vendor-ingest/gone')
      .catch((e: unknown) => e);

    expect(error).toMatchObject({ code: ErrorCode.SECRET_NOT_FOUND, retryable: false });
  });

  it('leaves a throttled read retryable', async () => {
    secretsMock.on(GetSecretValueCommand).rejects(awsError('ThrottlingException'));

    const error = await runtime()
      .vendors.secrets('vendor-ingest/busy')
      .catch((e: unknown) => e);

    expect(error).not.toMatchObject({ retryable: false });
  });
});
