import { cleartaxGstAdapter } from './cleartax-gst/adapter';
import { cleartaxOneAdapter } from './cleartax-one/adapter';
import { clevertapCatalogAdapter } from './clevertap-catalog/adapter';
import { inspectAdapter } from './inspect/adapter';
import type { AnyVendorAdapter } from './types';

/** Every vendor the pipeline speaks. Adding one: a folder, a line here, a route in config/routes.json. */
export const adapters: ReadonlyMap<string, AnyVendorAdapter> = new Map<string, AnyVendorAdapter>(
  [cleartaxGstAdapter, cleartaxOneAdapter, clevertapCatalogAdapter, inspectAdapter].map((a) => [a.name, a]),
);

/** The adapter registered under `vendor`, or undefined. */
export function adapterFor(vendor: string): AnyVendorAdapter | undefined {
  return adapters.get(vendor);
}
