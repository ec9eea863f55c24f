import { ErrorCodes, isWorkerError, retryable, permanent, type WorkerError } from '../errors.ts';

/** HTTP statuses that are worth another attempt (SPEC §2.5). Everything else 4xx is permanent. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** Socket-level failures that say nothing about the request itself: retry. */
export const RETRYABLE_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUSES.has(status);
}

/** Finds a network error code anywhere in the cause chain (undici hides it under `cause`). */
export function networkErrorCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 6; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && RETRYABLE_NETWORK_CODES.has(code)) return code;
    // undici's fetch reports a dropped body as TypeError('terminated') with the socket error as cause.
    if (e instanceof Error && e.message === 'terminated') return 'UND_ERR_SOCKET';
    if (e instanceof TypeError && e.message === 'fetch failed' && !(e as { cause?: unknown }).cause) return 'ECONNRESET';
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Turns any thrown value into a WorkerError with the right retryable flag (SPEC §2.5):
 * our own errors keep their flag; HTTP statuses and socket failures are classified; programmer
 * errors (TypeError, RangeError…) and anything unknown are permanent.
 */
export function classifyError(error: unknown, operation: string): WorkerError {
  if (isWorkerError(error)) return error;
  const code = networkErrorCode(error);
  if (code) {
    return retryable(ErrorCodes.NETWORK, `${operation}: network error ${code}`, { cause: error, details: { operation, networkCode: code } });
  }
  const status = statusOf(error);
  if (status !== undefined) {
    const message = `${operation}: HTTP ${status}`;
    return isRetryableStatus(status)
      ? retryable(ErrorCodes.UPSTREAM_HTTP, message, { cause: error, status, details: { operation } })
      : permanent(ErrorCodes.UPSTREAM_HTTP, message, { cause: error, status, details: { operation } });
  }
  const message = error instanceof Error ? error.message : String(error);
  return permanent(ErrorCodes.INVALID_ARGUMENT, `${operation}: ${message}`, { cause: error, details: { operation } });
}

/** Reads an HTTP status from the error shapes of the SDKs we use (genai ApiError, mailgun.js). */
export function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { status?: unknown; statusCode?: unknown };
  const value = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  return value !== undefined && value >= 100 && value <= 599 ? value : undefined;
}
