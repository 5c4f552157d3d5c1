import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CREDENTIALS, type Sandbox, type SandboxOperation, startSandbox } from '../../sandbox/index';
import { VENDOR_DEFINITIONS } from '../../sandbox/vendors/index';

const OPERATIONS: SandboxOperation[] = [
  'token',
  'presign',
  'upload',
  'complete-multipart',
  'complete',
  'status',
];

describe('sandbox vendor registry', () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    // Starting checks every module against its declaration (it throws on a mismatch).
    sandbox = await startSandbox();
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('gives every vendor its own name, buckets and credentials block', () => {
    // Prepare
    const names = VENDOR_DEFINITIONS.map((definition) => definition.name);
    const buckets = VENDOR_DEFINITIONS.flatMap((definition) => [
      ...(definition.bucket === undefined ? [] : [definition.bucket]),
      ...('downloadBucket' in definition && definition.downloadBucket !== undefined
        ? [definition.downloadBucket]
        : []),
    ]);
    const blocks = VENDOR_DEFINITIONS.flatMap((definition) =>
      'credentials' in definition && definition.credentials !== undefined
        ? [definition.credentials.block]
        : [],
    );

    // Assess
    expect(new Set(names).size).toBe(names.length);
    expect(new Set(buckets).size).toBe(buckets.length);
    expect(new Set(blocks).size).toBe(blocks.length);
    expect(Object.keys(DEFAULT_CREDENTIALS).sort()).toEqual([...blocks].sort());
  });

  it.each(
    VENDOR_DEFINITIONS.flatMap((definition) =>
      OPERATIONS.map(
        (operation) => [definition.name, operation, definition.operations.includes(operation)] as const,
      ),
    ),
  )('takes a fault on %s %s only when the vendor declares it (%s)', (vendor, operation, declared) => {
    // Act
    const inject = () => sandbox.faults.inject({ vendor, operation, action: { kind: 'hang' } });

    // Assess
    if (declared) expect(inject).not.toThrow();
    else expect(inject).toThrow(`${vendor} has no ${operation} endpoint`);
    sandbox.faults.clear();
  });
});
