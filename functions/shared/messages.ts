import * as z from 'zod';

/**
 * The message the dispatch function sends to the completion queue after a successful upload. It is
 * versioned (`v`) so the two functions can be deployed independently: the completion function
 * refuses versions it does not know (permanent failure, DLQ) instead of guessing.
 */

const RefValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);
export const VendorRefsSchema = z.record(z.string(), RefValue);

export const ObjectRefSchema = z.object({
  bucket: z.string().min(1),
  key: z.string().min(1),
  versionId: z.string().min(1).optional(),
  eTag: z.string().min(1),
  size: z.int().nonnegative(),
  sequencer: z.string().optional(),
});
export type ObjectRef = z.infer<typeof ObjectRefSchema>;

export const CompletionMessageV1Schema = z.object({
  v: z.literal(1),
  type: z.literal('complete'),
  /** Ledger key of the delivery. */
  deliveryId: z.string().min(1),
  routeId: z.string().min(1),
  vendor: z.string().min(1),
  object: ObjectRefSchema,
  fileName: z.string().min(1),
  contentType: z.string().min(1),
  /** Named prefix segment values (e.g. catalogId). */
  segments: z.record(z.string(), z.string()).default({}),
  sha256Base64: z.string().optional(),
  upload: z.object({
    kind: z.enum(['single', 'multipart']),
    /** URL without its signature. */
    url: z.string().min(1),
    /** The URL as signed; only kept for vendors whose completion call asks for it (ClearTax GST). */
    signedUrl: z.string().optional(),
    eTag: z.string().optional(),
    parts: z.array(z.object({ partNumber: z.int().positive(), eTag: z.string().min(1) })).optional(),
  }),
  /** Vendor refs from the presign step (uploadId, fileId …). */
  refs: VendorRefsSchema,
  /** Dispatch attempt that uploaded the bytes. */
  attempt: z.int().positive(),
  uploadedAt: z.iso.datetime(),
});
export type CompletionMessageV1 = z.infer<typeof CompletionMessageV1Schema>;

/** A later check of the vendor's job status (vendors that publish one), sent with a delay. */
export const StatusCheckMessageV1Schema = z.object({
  v: z.literal(1),
  type: z.literal('status'),
  deliveryId: z.string().min(1),
  routeId: z.string().min(1),
  /** How many checks have run so far; drives the growing delay. */
  check: z.int().nonnegative(),
  /** Give up (state stays as last seen, flagged) after this instant. */
  deadline: z.iso.datetime(),
  /** The completion it follows, so the adapter's status call gets the same input. */
  completion: CompletionMessageV1Schema,
});
export type StatusCheckMessageV1 = z.infer<typeof StatusCheckMessageV1Schema>;

export const CompletionQueueMessageSchema = z.discriminatedUnion('type', [
  CompletionMessageV1Schema,
  StatusCheckMessageV1Schema,
]);

/** Message attributes set on every message the pipeline parks in a DLQ. */
export const DlqAttribute = {
  ERROR_CODE: 'errorCode',
  ERROR_MESSAGE: 'errorMessage',
  RETRYABLE: 'retryable',
  VENDOR_CODE: 'vendorCode',
  DELIVERY_ID: 'deliveryId',
  SOURCE_QUEUE: 'sourceQueue',
  FAILED_AT: 'failedAt',
} as const;
