/**
 * The one list of sandbox vendors. Everything that names vendors derives from it: the `SandboxVendor`
 * type, the buckets, which fault specs are valid and the default credentials.
 *
 * Adding a vendor: write its module (a `defineVendor({...})` with its name, bucket, operations and, if it
 * owns one, its credentials block and defaults) and add it here.
 */
import { cleartaxGst } from './cleartax-gst';
import { cleartaxOne } from './cleartax-one';
import { clevertapCatalog } from './clevertap-catalog';
import { inspect } from './inspect';
import { slack } from './slack';
import type { VendorDefinition } from './types';

export const VENDOR_DEFINITIONS = [cleartaxGst, cleartaxOne, clevertapCatalog, inspect, slack] as const;

type Registered = (typeof VENDOR_DEFINITIONS)[number];

/** The registered vendor names. */
export type RegisteredVendor = Registered['name'];

type OwnedBlock = NonNullable<Registered['credentials']>;

/** One credentials block per block a registered vendor owns, keyed by the block's name. */
export type RegisteredCredentials = { [Block in OwnedBlock as Block['block']]: Block['defaults'] };

/** The registered vendor names, in registry order. */
export const VENDOR_NAMES = VENDOR_DEFINITIONS.map((definition) => definition.name) as [
  RegisteredVendor,
  ...RegisteredVendor[],
];

/** The definition of `vendor`. */
export function definitionOf(vendor: RegisteredVendor): VendorDefinition {
  const definition = VENDOR_DEFINITIONS.find((candidate) => candidate.name === vendor);
  if (definition === undefined) throw new Error(`no sandbox vendor ${vendor}`);
  return definition;
}
