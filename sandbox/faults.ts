import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Reply } from './http-util';
import type { ActiveFault, FaultAction, FaultApi, FaultSpec, SandboxOperation, SandboxVendor } from './types';
import { definitionOf, VENDOR_NAMES } from './vendors/index';

const VendorSchema = z.enum(VENDOR_NAMES);
const OperationSchema = z.enum([
  'token',
  'presign',
  'upload',
  'complete-multipart',
  'complete',
  'status',
  'download',
] satisfies SandboxOperation[]);

const FaultActionSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('status'),
    status: z.int().min(100).max(599),
    body: z.unknown().optional(),
    headers: z.record(z.string(), z.string()).optional(),
  }),
  z.object({ kind: z.literal('delay'), ms: z.int().min(0) }),
  z.object({ kind: z.literal('reset') }),
  z.object({ kind: z.literal('reset-after-commit') }),
  z.object({ kind: z.literal('hang') }),
  z.object({ kind: z.literal('malformed-json') }),
  z.object({ kind: z.literal('expired-url') }),
  z.object({ kind: z.literal('foreign-host') }),
]);

/** A fault spec as accepted by `inject` and `POST /_sandbox/faults`. */
export const FaultSpecSchema = z
  .object({
    vendor: VendorSchema,
    operation: OperationSchema,
    times: z.int().min(1).optional(),
    match: z.object({ fileName: z.string().min(1).optional() }).optional(),
    action: FaultActionSchema,
  })
  .superRefine((spec, ctx) => {
    if (
      (spec.action.kind === 'expired-url' || spec.action.kind === 'foreign-host') &&
      spec.operation !== 'presign'
    ) {
      ctx.addIssue({
        code: 'custom',
        message: 'expired-url and foreign-host only apply to the presign operation',
      });
    }
    // A fault on an endpoint the vendor does not have would wait forever, unnoticed: refuse it instead.
    const { operations } = definitionOf(spec.vendor);
    if (!operations.includes(spec.operation)) {
      ctx.addIssue({
        code: 'custom',
        path: ['operation'],
        message: `${spec.vendor} has no ${spec.operation} endpoint (it has ${operations.join(', ')})`,
      });
    }
  });

/** The fault registry: the public API plus the lookup the request path uses. */
export interface FaultRegistry extends FaultApi {
  /** Consumes one hit of the first fault matching this call, if any. */
  take(
    vendor: SandboxVendor,
    operation: SandboxOperation,
    fileName: string | undefined,
  ): FaultAction | undefined;
}

/** Creates an empty fault registry. */
export function createFaultRegistry(): FaultRegistry {
  let faults: ActiveFault[] = [];
  return {
    inject(spec: FaultSpec): string {
      const parsed = FaultSpecSchema.parse(spec);
      const id = randomUUID();
      faults.push({ ...(parsed as FaultSpec), id, remaining: parsed.times ?? 1 });
      return id;
    },
    clear() {
      faults = [];
    },
    list: () => faults.map((fault) => structuredClone(fault)),
    take(vendor, operation, fileName) {
      const fault = faults.find(
        (f) =>
          f.vendor === vendor &&
          f.operation === operation &&
          (f.match?.fileName === undefined || f.match.fileName === fileName),
      );
      if (fault === undefined) return undefined;
      fault.remaining -= 1;
      if (fault.remaining <= 0) faults = faults.filter((f) => f !== fault);
      return fault.action;
    },
  };
}

/** The body of the `malformed-json` fault: a JSON document cut short. */
export const TRUNCATED_JSON = '{"status":"OK","data":{"id":"3fa85f64-5717-4562-b3fc-';

/** The answer an injected `status` fault gives: its own body and headers, else `fallback`'s body. */
export function injectedReply(action: Extract<FaultAction, { kind: 'status' }>, fallback: Reply): Reply {
  const reply: Reply =
    action.body === undefined
      ? { ...fallback, status: action.status }
      : typeof action.body === 'string'
        ? {
            status: action.status,
            headers: {
              'content-type': action.body.startsWith('<') ? 'application/xml' : 'text/plain;charset=UTF-8',
            },
            body: action.body,
          }
        : {
            status: action.status,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(action.body),
          };
  return {
    ...reply,
    headers: { ...reply.headers, ...action.headers },
    error: `injected ${action.status}`,
  };
}
