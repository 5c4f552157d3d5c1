import { cleartaxGstAdapter } from './cleartax-gst/adapter';
import { cleartaxOneAdapter } from './cleartax-one/adapter';
import { clevertapCatalogAdapter } from './clevertap-catalog/adapter';
import { inspectAdapter } from './inspect/adapter';
import { slackAdapter } from './slack/adapter';
import type { AnyVendorAdapter } from './types';

/**
 * Every vendor the pipeline speaks. Inspect, ClearTax one-integration and Slack are specs
 * (`<vendor>/spec.ts`, built by `spec/engine.ts`, validated when this module loads: at synth, at start
 * and in every test); ClearTax GST and CleverTap are code on the shared kit. Adding a vendor: a spec, a
 * line here, a route in config/routes.json, a secret (README, "Adding a vendor").
 */
export const adapters: ReadonlyMap<string, AnyVendorAdapter> = new Map<string, AnyVendorAdapter>(
  [cleartaxGstAdapter, cleartaxOneAdapter, clevertapCatalogAdapter, inspectAdapter, slackAdapter].map((a) => [
    a.name,
    a,
  ]),
);

/** The adapter registered under `vendor`, or undefined. */
export function adapterFor(vendor: string): AnyVendorAdapter | undefined {
  return adapters.get(vendor);
}
