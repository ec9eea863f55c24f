/**
 * The one error taxonomy of the worker.
 *
 * Every failure the product raises on purpose is a {@link WorkerError} with a stable `code`
 * (never reworded once shipped), a `retryable` flag and the original `cause`. What a code means
 * for the transport (ack / nack / HTTP status) is decided in one place: `src/errors-outcome.ts`.
 *
 * Identity is checked with a `Symbol.for` brand (like undici's errors), so `isWorkerError` works
 * even when two copies of this module are loaded.
 */

const BRAND = Symbol.for('email-worker.WorkerError');

/** Stable error codes, grouped by area. */
export const ErrorCodes = {
  // configuration and programming
  CONFIG_INVALID: 'EW_ERR_CONFIG_INVALID',
  INVALID_ARGUMENT: 'EW_ERR_INVALID_ARGUMENT',
  // jobs
  JOB_INVALID: 'EW_ERR_JOB_INVALID',
  JOB_BUSY: 'EW_ERR_JOB_BUSY',
  /** Pub/Sub gave up on the job (dead-lettered): its sender is told, nothing more is tried. */
  JOB_DEAD_LETTERED: 'EW_ERR_JOB_DEAD_LETTERED',
  // time
  TIMEOUT: 'EW_ERR_TIMEOUT',
  DEADLINE_EXCEEDED: 'EW_ERR_DEADLINE_EXCEEDED',
  ABORTED: 'EW_ERR_ABORTED',
  // remote calls
  UPSTREAM_HTTP: 'EW_ERR_UPSTREAM_HTTP',
  NETWORK: 'EW_ERR_NETWORK',
  STREAM_BROKEN: 'EW_ERR_STREAM_BROKEN',
  // Gemini
  GEMINI_BLOCKED: 'EW_ERR_GEMINI_BLOCKED',
  GEMINI_EMPTY: 'EW_ERR_GEMINI_EMPTY',
  // attachments
  ATTACHMENT_REFUSED: 'EW_ERR_ATTACHMENT_REFUSED',
  ATTACHMENT_TOO_LARGE: 'EW_ERR_ATTACHMENT_TOO_LARGE',
  ATTACHMENT_FAILED: 'EW_ERR_ATTACHMENT_FAILED',
  // export
  EXPORT_FAILED: 'EW_ERR_EXPORT_FAILED',
  EXPORT_UNSUPPORTED: 'EW_ERR_EXPORT_UNSUPPORTED',
  // mail
  SEND_REJECTED: 'EW_ERR_SEND_REJECTED',
  SEND_OUTCOME_UNKNOWN: 'EW_ERR_SEND_OUTCOME_UNKNOWN',
  // shutdown
  SHUTTING_DOWN: 'EW_ERR_SHUTTING_DOWN',
  // ingress and API (issue 7)
  INBOUND_UNAUTHORIZED: 'EW_ERR_INBOUND_UNAUTHORIZED',
  INBOUND_REJECTED: 'EW_ERR_INBOUND_REJECTED',
  INBOUND_IGNORED: 'EW_ERR_INBOUND_IGNORED',
  BODY_TOO_LARGE: 'EW_ERR_BODY_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'EW_ERR_UNSUPPORTED_MEDIA_TYPE',
  PUBLISH_FAILED: 'EW_ERR_PUBLISH_FAILED',
  API_UNAUTHORIZED: 'EW_ERR_API_UNAUTHORIZED',
  NOT_FOUND: 'EW_ERR_NOT_FOUND',
  // push delivery: missing or invalid OIDC token, or not the push service account
  PUSH_UNAUTHENTICATED: 'EW_ERR_PUSH_UNAUTHENTICATED',
  // issue 9: a feature loaded on its first request (webhook, API) could not be loaded
  FEATURE_UNAVAILABLE: 'EW_ERR_FEATURE_UNAVAILABLE',
  // issue 9: at start-up the readiness checks did not all pass within the budget (the port never opened)
  NOT_READY: 'EW_ERR_NOT_READY',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface WorkerErrorOptions {
  /** Whether trying the same operation again may succeed. */
  retryable: boolean;
  /** The error this one wraps; kept for logs, never shown to mail recipients. */
  cause?: unknown;
  /** A delay the remote side asked for (Retry-After, RetryInfo), in milliseconds. Not scaled. */
  retryAfterMs?: number;
  /** HTTP status of the remote answer, when there was one. */
  status?: number;
  /** Small structured facts for logs (operation, phase, limit…). Never secrets. */
  details?: Record<string, unknown>;
}

export class WorkerError extends Error {
  override readonly name: string = 'WorkerError';
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: WorkerErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
    this.status = options.status;
    this.details = options.details ?? {};
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** JSON shape used in logs: code, flag, message and details; the cause as a message only. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      retryable: this.retryable,
      message: this.message,
      ...(this.status === undefined ? {} : { status: this.status }),
      ...(Object.keys(this.details).length ? { details: this.details } : {}),
      ...(this.cause instanceof Error ? { cause: `${this.cause.name}: ${this.cause.message}` } : {}),
    };
  }
}

/** True for a WorkerError from any copy of this module. */
export function isWorkerError(value: unknown): value is WorkerError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** A failure that no retry can fix (bullmq's UnrecoverableError): acknowledged, never redelivered. */
export function permanent(code: ErrorCode, message: string, extra: Omit<WorkerErrorOptions, 'retryable'> = {}): WorkerError {
  return new WorkerError(code, message, { ...extra, retryable: false });
}

/** A failure that may pass on another attempt. */
export function retryable(code: ErrorCode, message: string, extra: Omit<WorkerErrorOptions, 'retryable'> = {}): WorkerError {
  return new WorkerError(code, message, { ...extra, retryable: true });
}

/** Short description of any thrown value, for logs and notes. */
export function describeError(error: unknown): string {
  if (isWorkerError(error)) return `${error.code}: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
