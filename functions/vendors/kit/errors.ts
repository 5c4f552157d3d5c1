import {
  ErrorCode,
  FileRejectedError,
  PermanentError,
  type PipelineError,
  type PipelineErrorOptions,
  RetryableError,
  ThrottledError,
} from '../../shared/errors';
import type { ErrorKind } from '../spec/schema';

/** The pipeline error a vendor failure of `kind` is (the spec's error kinds; code adapters use them too). */
export function errorOfKind(kind: ErrorKind, text: string, options: PipelineErrorOptions): PipelineError {
  switch (kind) {
    case 'auth':
      return new PermanentError(ErrorCode.AUTH_FAILED, text, options);
    case 'throttled':
      return new ThrottledError(text, options);
    case 'unavailable':
      return new RetryableError(ErrorCode.VENDOR_UNAVAILABLE, text, options);
    case 'rejected':
      return new PermanentError(ErrorCode.VENDOR_REJECTED, text, options);
    case 'file-rejected':
      return new FileRejectedError(text, options);
    case 'failed-unknown':
      return new RetryableError(ErrorCode.VENDOR_FAILED_UNKNOWN, text, options);
    case 'bad-response':
      return new RetryableError(ErrorCode.VENDOR_BAD_RESPONSE, `${text} (not a success answer)`, options);
  }
}
