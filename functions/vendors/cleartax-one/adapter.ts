import { adapterFromSpec } from '../spec/engine';
import { cleartaxOneSpec } from './spec';

/** ClearTax one-integration, built from its spec. */
export const cleartaxOneAdapter = adapterFromSpec(cleartaxOneSpec);
