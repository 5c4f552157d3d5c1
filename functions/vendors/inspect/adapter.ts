import { adapterFromSpec } from '../spec/engine';
import type { FileDescriptor } from '../types';
import type { InspectOptions } from './schemas';
import { inspectSpec } from './spec';

/** Screening Eagle Inspect, built from its spec. */
export const inspectAdapter = adapterFromSpec(inspectSpec);

/** The MIME type announced at presign and sent on the PUT: the route's, the object's when specific, else by extension. */
export const inspectContentType = (file: FileDescriptor, options: InspectOptions): string =>
  inspectAdapter.contentTypeOf(file, options);
