import type { SandboxCredentials, SandboxOptions } from './types';
import { VENDOR_DEFINITIONS } from './vendors/index';

/**
 * Credentials the sandbox accepts unless told otherwise: each block as its owning vendor module declares
 * it. Fixed, so local runs can hard-wire them.
 */
export const DEFAULT_CREDENTIALS: SandboxCredentials = deepFreeze(
  Object.fromEntries(
    VENDOR_DEFINITIONS.flatMap((definition) =>
      'credentials' in definition && definition.credentials !== undefined
        ? [[definition.credentials.block, definition.credentials.defaults]]
        : [],
    ),
  ) as SandboxCredentials,
);

/** `overrides` merged over the defaults block by block, as a fresh mutable copy. */
export function resolveCredentials(overrides: SandboxOptions['credentials'] = {}): SandboxCredentials {
  const blocks = Object.keys(DEFAULT_CREDENTIALS) as Array<keyof SandboxCredentials>;
  return Object.fromEntries(
    blocks.map((block) => [block, structuredClone({ ...DEFAULT_CREDENTIALS[block], ...overrides[block] })]),
  ) as SandboxCredentials;
}

// The defaults are shared by every sandbox in the process: a test mutating them would leak into others.
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
