/**
 * The one place where results and errors become transport outcomes: Pub/Sub ack/nack and HTTP
 * statuses. Everything else in the product only raises WorkerErrors or returns a JobResult.
 */
import { ErrorCodes, isWorkerError, type ErrorCode } from './errors.ts';

/** What processing one delivery of a job came to. */
export type JobResult =
  /** The answer was sent (or had been already, for a duplicate delivery). */
  | { status: 'replied'; duplicate?: boolean }
  /** The job could not be done; the sender got a failure email. */
  | { status: 'failed-replied'; code: ErrorCode }
  /** The job could not be done and there is nobody to tell (invalid job, no usable sender). */
  | { status: 'failed-silent'; code: ErrorCode }
  /** The job had finished before (ledger says sent/failed). */
  | { status: 'duplicate' }
  /** Another live worker holds the job's lease. */
  | { status: 'busy' }
  /** A retryable failure this delivery cannot overcome in time: let another delivery try. */
  | { status: 'retry-later'; code: ErrorCode };

export interface DeliveryOutcome {
  /** Pull delivery. */
  pubsub: 'ack' | 'nack';
  /** Push delivery (2xx acks). */
  http: number;
}

export function deliveryOutcome(result: JobResult): DeliveryOutcome {
  switch (result.status) {
    case 'replied':
    case 'failed-replied':
    case 'failed-silent':
    case 'duplicate':
      return { pubsub: 'ack', http: 204 };
    case 'busy':
      // Refused without side effects; Pub/Sub redelivers after backoff (or the holder acks).
      return { pubsub: 'nack', http: 409 };
    case 'retry-later':
      return { pubsub: 'nack', http: 503 };
  }
}

/** HTTP status for an error surfaced to an HTTP client (API routes, webhooks). */
const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCodes.JOB_INVALID]: 400,
  [ErrorCodes.INVALID_ARGUMENT]: 400,
  [ErrorCodes.JOB_BUSY]: 409,
  [ErrorCodes.TIMEOUT]: 504,
  [ErrorCodes.DEADLINE_EXCEEDED]: 504,
  [ErrorCodes.SHUTTING_DOWN]: 503,
  [ErrorCodes.UPSTREAM_HTTP]: 502,
  [ErrorCodes.NETWORK]: 502,
  [ErrorCodes.STREAM_BROKEN]: 502,
  [ErrorCodes.GEMINI_BLOCKED]: 422,
  // Mailgun stops retrying only on 200 and 406: a post that can never become a job is a 406.
  [ErrorCodes.INBOUND_UNAUTHORIZED]: 401,
  [ErrorCodes.INBOUND_REJECTED]: 406,
  [ErrorCodes.BODY_TOO_LARGE]: 413,
  [ErrorCodes.UNSUPPORTED_MEDIA_TYPE]: 415,
  [ErrorCodes.PUBLISH_FAILED]: 503,
  [ErrorCodes.API_UNAUTHORIZED]: 401,
  [ErrorCodes.NOT_FOUND]: 404,
  [ErrorCodes.PUSH_UNAUTHENTICATED]: 401,
  // Mailgun and API clients retry a 503; the next request loads the feature again.
  [ErrorCodes.FEATURE_UNAVAILABLE]: 503,
};

export function httpStatusForError(error: unknown): number {
  if (!isWorkerError(error)) return 500;
  return HTTP_STATUS[error.code] ?? (error.retryable ? 503 : 500);
}
