import type { SandboxCredentials } from './types';

/** Credentials the sandbox accepts unless told otherwise. Fixed, so local runs can hard-wire them. */
export const DEFAULT_CREDENTIALS: SandboxCredentials = deepFreeze({
  cleartax: {
    authToken: 'sandbox-cleartax-auth-token',
    clientSecret: 'sandbox-cleartax-client-secret',
    integrationId: '6f1c2a4e-8b7d-4c3e-9a1f-2b3c4d5e6f70',
  },
  clevertap: { accountId: 'SANDBOX-ACCOUNT-1', token: 'sandbox-clevertap-token', catalogIds: [1001, 1002] },
  inspect: {
    token: 'sandbox-inspect-token',
    assetIds: ['0b4cf1d2-6a8e-4f3a-9c1b-7d2e5f8a9b10', '9d3e7c1a-2b4f-4e6d-8a0c-1f2e3d4c5b6a'],
  },
});

/** `overrides` merged over the defaults block by block, as a fresh mutable copy. */
export function resolveCredentials(overrides: Partial<SandboxCredentials> = {}): SandboxCredentials {
  const cleartax = { ...DEFAULT_CREDENTIALS.cleartax, ...overrides.cleartax };
  const clevertap = { ...DEFAULT_CREDENTIALS.clevertap, ...overrides.clevertap };
  const inspect = { ...DEFAULT_CREDENTIALS.inspect, ...overrides.inspect };
  return {
    cleartax,
    clevertap: { ...clevertap, catalogIds: [...clevertap.catalogIds] },
    inspect: { ...inspect, assetIds: [...inspect.assetIds] },
  };
}

// The defaults are shared by every sandbox in the process: a test mutating them would leak into others.
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
