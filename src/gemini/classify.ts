/**
 * Maps what the genai SDK throws to our WorkerError taxonomy (SPEC §2.5).
 *
 * How the SDK (v3.1) surfaces failures, read from its dist:
 * - a non-2xx answer (stream or unary) → `ApiError` with `.status` and, as `.message`, the JSON
 *   error body (`{"error":{"code":429,…,"details":[RetryInfo…]}}`); response headers are not kept,
 *   so `Retry-After` is read from the response our fetch saw (see `fetch.ts`);
 * - an error event inside a stream → `ApiError`, message `got status: UNAVAILABLE. {json}`;
 * - a dropped connection → undici's `TypeError('terminated')` (cause `UND_ERR_SOCKET`) or
 *   `TypeError('fetch failed')` (cause `ECONNREFUSED`…);
 * - a stream cut inside an event → `Error('Incomplete JSON segment at the end')`.
 */
import { ApiError } from '@google/genai';
import { ErrorCodes, WorkerError, isWorkerError, permanent, retryable } from '../errors.ts';
import { classifyError, isRetryableStatus, networkErrorCode } from '../resilience/classify.ts';
import { parseRetryAfter, parseRetryInfo } from '../resilience/retry-after.ts';

export interface GeminiFailureContext {
  /** Headers of the HTTP response the failure came with, when there was one. */
  headers?: Headers;
  /** At least one chunk had arrived: a dropped connection is a broken stream. */
  midStream?: boolean;
  /** Values to cut out of messages (the API key). */
  secrets?: readonly string[];
}

const MESSAGE_LIMIT = 300;

/** Google's error body (`{error:{code,message,status,details}}`) from an ApiError message. */
export function googleErrorOf(message: string): { status?: string; message?: string } {
  const start = message.indexOf('{');
  if (start < 0) return {};
  try {
    const body = JSON.parse(message.slice(start)) as { error?: { status?: unknown; message?: unknown } };
    return {
      ...(typeof body.error?.status === 'string' ? { status: body.error.status } : {}),
      ...(typeof body.error?.message === 'string' ? { message: body.error.message } : {}),
    };
  } catch {
    return {};
  }
}

function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('[redacted]');
  return out.length > MESSAGE_LIMIT ? `${out.slice(0, MESSAGE_LIMIT)}…` : out;
}

// The SDK's own failures when a stream ends inside an event or sends an unreadable one.
const BROKEN_STREAM = /^(Incomplete JSON segment at the end|exception parsing stream chunk|Response body is empty)/;

export function classifyGeminiError(error: unknown, operation: string, context: GeminiFailureContext = {}): WorkerError {
  if (isWorkerError(error)) return error;
  const secrets = context.secrets ?? [];

  if (error instanceof ApiError) {
    const status = error.status;
    const google = googleErrorOf(error.message);
    // RetryInfo is Gemini's own signal; a Retry-After header (proxies, compatible servers) is the fallback.
    const retryAfterMs = parseRetryInfo(error.message) ?? parseRetryAfter(context.headers?.get('retry-after'));
    const text = `${operation}: HTTP ${status}${google.status ? ` ${google.status}` : ''}${google.message ? `: ${redact(google.message, secrets)}` : ''}`;
    const extra = {
      cause: error,
      status,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      details: { operation, ...(google.status ? { googleStatus: google.status } : {}), ...(context.midStream ? { midStream: true } : {}) },
    };
    return isRetryableStatus(status) ? retryable(ErrorCodes.UPSTREAM_HTTP, text, extra) : permanent(ErrorCodes.UPSTREAM_HTTP, text, extra);
  }

  const networkCode = networkErrorCode(error);
  if (networkCode && context.midStream) {
    return retryable(ErrorCodes.STREAM_BROKEN, `${operation}: the stream broke mid-way (${networkCode})`, {
      cause: error,
      details: { operation, networkCode },
    });
  }
  if (error instanceof Error && BROKEN_STREAM.test(error.message)) {
    return retryable(ErrorCodes.STREAM_BROKEN, `${operation}: the stream ended inside an event`, {
      cause: error,
      details: { operation },
    });
  }
  const failure = classifyError(error, operation);
  if (!secrets.some((s) => s && failure.message.includes(s))) return failure;
  return new WorkerError(failure.code, redact(failure.message, secrets), {
    retryable: failure.retryable,
    cause: failure.cause,
    details: failure.details,
  });
}
