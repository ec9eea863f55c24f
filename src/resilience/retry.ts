import pRetry, { AbortError } from 'p-retry';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, type WorkerError } from '../errors.ts';
import { classifyError } from './classify.ts';
import { abortReason, type Deadline } from './deadline.ts';

/** Backoff as plain data (bullmq style). All durations already scaled by TIMEOUT_SCALE. */
export interface RetryPolicy {
  /** Total attempts, the first included (seed: `retry_attempts`). */
  attempts: number;
  /** Floor of every computed wait, ms (seed: `retry_min`). */
  minDelayMs: number;
  /** Ceiling of every computed wait, ms (seed: `retry_max`). */
  maxDelayMs: number;
  /** Growth of the ceiling per retry. @defaultValue 2 */
  factor?: number;
  /**
   * `full`: each wait is uniform in [minDelayMs, min(maxDelayMs, minDelayMs·factor^k)] for the k-th retry;
   * `none`: the ceiling itself. @defaultValue 'full'
   */
  jitter?: 'full' | 'none';
}

export interface AttemptContext {
  /** 1 for the first attempt. */
  readonly attemptNumber: number;
  /** Aborted at min(attempt timeout, job deadline); pass it to every call the attempt makes. */
  readonly signal: AbortSignal;
}

export interface RetryEvent {
  readonly operation: string;
  readonly error: WorkerError;
  readonly attemptNumber: number;
  readonly retriesLeft: number;
  /** The wait before the next attempt. */
  readonly delayMs: number;
  /** `server`: Retry-After / RetryInfo honoured as sent; `backoff`: computed. */
  readonly delaySource: 'server' | 'backoff';
  /** The computed wait was shortened to fit the job deadline. */
  readonly clamped: boolean;
}

export type GiveUpReason = 'permanent' | 'attempts-exhausted' | 'deadline' | 'aborted';

export interface GiveUpEvent {
  readonly operation: string;
  readonly error: WorkerError;
  readonly attemptNumber: number;
  readonly reason: GiveUpReason;
}

export interface RetryOptions {
  /** Name for errors, logs and metrics (`gemini.stream`, `mailgun.send`…). */
  operation: string;
  policy: RetryPolicy;
  /** The job deadline: no wait or attempt is started that cannot finish before it. */
  deadline: Deadline;
  /** Per-attempt timeout; each attempt's signal aborts at min(this, time left). @defaultValue no own limit */
  attemptTimeoutMs?: number;
  /** Least time an attempt needs (at least 1 ms); with less left, give up instead of waiting for it. @defaultValue policy.minDelayMs */
  minAttemptMs?: number;
  /** Maps a thrown value to a WorkerError with a retryable flag. @defaultValue classifyError */
  classify?: (error: unknown, operation: string) => WorkerError;
  /** Called before each wait. Hooks feed logs and metrics; the policy logs nothing itself. */
  onRetry?: (event: RetryEvent) => void;
  /** Called once when no further attempt will be made. */
  onGiveUp?: (event: GiveUpEvent) => void;
  /** Random source in [0, 1), for tests. @defaultValue Math.random */
  random?: () => number;
}

function validate(options: RetryOptions): void {
  const { policy } = options;
  if (!Number.isInteger(policy.attempts) || policy.attempts < 1) {
    throw new TypeError('Expected `policy.attempts` to be an integer ≥ 1.');
  }
  for (const key of ['minDelayMs', 'maxDelayMs'] as const) {
    if (!Number.isFinite(policy[key]) || policy[key] < 0) throw new TypeError(`Expected \`policy.${key}\` to be a finite number ≥ 0.`);
  }
  if (policy.maxDelayMs < policy.minDelayMs) throw new TypeError('Expected `policy.maxDelayMs` to be ≥ `policy.minDelayMs`.');
  if (policy.factor !== undefined && (!Number.isFinite(policy.factor) || policy.factor < 1)) {
    throw new TypeError('Expected `policy.factor` to be a finite number ≥ 1.');
  }
  if (options.attemptTimeoutMs !== undefined && !(options.attemptTimeoutMs > 0)) {
    throw new TypeError('Expected `attemptTimeoutMs` to be a number > 0.');
  }
}

/** The computed (not server-requested) wait before retry number `retry` (1-based). */
export function backoffDelay(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const factor = policy.factor ?? 2;
  const ceiling = Math.min(policy.maxDelayMs, policy.minDelayMs * factor ** retry);
  if (policy.jitter === 'none') return ceiling;
  return policy.minDelayMs + random() * (ceiling - policy.minDelayMs);
}

/** Why retrying stopped when the deadline's signal is aborted: its own expiry, or a cancellation. */
function stopReason(failure: WorkerError): GiveUpReason {
  return failure.code === ErrorCodes.DEADLINE_EXCEEDED ? 'deadline' : 'aborted';
}

/**
 * Runs `fn` with retries per `policy`, inside `deadline`, on top of p-retry (attempt counting,
 * the retry loop, AbortError to stop). Waits are computed here: full jitter above the floor, or the
 * server's Retry-After / RetryInfo as sent; the last wait is clamped to the deadline, and a wait or
 * attempt that cannot finish before the deadline is never started. Permanent errors (including
 * programmer errors such as a TypeError that is not a network failure, via `classify`) are not
 * retried. The error thrown is always a WorkerError.
 *
 * Cooperative: each attempt gets a signal aborted at min(attempt timeout, deadline) and must stop
 * when it fires; a result that does arrive is returned even if the deadline passed meanwhile (the
 * side effect happened — reporting it as a failure would invite a duplicate). That is why p-retry
 * is not given the deadline's signal: it would turn a success that lands just after the abort into
 * a rejection. Its own waits are off (`minTimeout: 0`); ours run in `shouldRetry`, which it awaits.
 */
export async function retry<T>(fn: (attempt: AttemptContext) => Promise<T>, options: RetryOptions): Promise<T> {
  validate(options);
  const { operation, policy, deadline, attemptTimeoutMs } = options;
  const classify = options.classify ?? classifyError;
  // Why we stopped, when we decided to; p-retry only sees an AbortError or a false from shouldRetry.
  let stopped: { failure: WorkerError; reason: GiveUpReason; attemptNumber: number } | undefined;
  const stop = (failure: WorkerError, reason: GiveUpReason, attemptNumber: number): AbortError => {
    stopped = { failure, reason, attemptNumber };
    return new AbortError(failure);
  };

  try {
    return await pRetry(
      async (attemptNumber) => {
        // Never start an attempt once the deadline has passed, even if its timer has not fired yet.
        const remaining = deadline.remainingMs();
        if (remaining === 0) {
          const failure = abortReason(deadline.signal, operation);
          throw stop(failure, stopReason(failure), attemptNumber - 1);
        }
        // Always a signal of the attempt's own, even without an own timeout: fetch (and the SDKs on
        // it) leave one 'abort' listener per request on the signal they are given, which must not
        // pile up on the job's 50-minute deadline signal.
        const attempt = deadline.child(operation, attemptTimeoutMs !== undefined && attemptTimeoutMs < remaining ? attemptTimeoutMs : Number.POSITIVE_INFINITY);
        const { signal } = attempt;
        let failure: WorkerError;
        try {
          return await fn({ attemptNumber, signal });
        } catch (error) {
          // An aborted attempt reports why it was aborted (which timer), not the SDK's AbortError.
          failure = signal.aborted ? abortReason(signal, operation) : classify(error, operation);
        } finally {
          attempt.dispose();
        }
        if (deadline.signal.aborted) throw stop(failure, stopReason(failure), attemptNumber);
        if (!failure.retryable) throw stop(failure, 'permanent', attemptNumber);
        if (attemptNumber >= policy.attempts) throw stop(failure, 'attempts-exhausted', attemptNumber);
        throw failure;
      },
      {
        retries: policy.attempts - 1,
        minTimeout: 0,
        shouldRetry: async ({ error, attemptNumber, retriesLeft }) => {
          const failure = error as WorkerError;
          const server = failure.retryAfterMs;
          let delayMs = server ?? backoffDelay(policy, attemptNumber, options.random ?? Math.random);
          let clamped = false;
          // At least 1 ms for the next attempt: timers have millisecond granularity, so a wait that
          // ends right at the deadline loses the race to the deadline's own timer.
          const room = deadline.remainingMs() - Math.max(1, options.minAttemptMs ?? policy.minDelayMs);
          if (delayMs > room) {
            // A server-requested delay is honoured as sent or not at all; a computed one is clamped.
            if (server !== undefined || room <= 0) {
              stopped = { failure, reason: 'deadline', attemptNumber };
              return false;
            }
            delayMs = room;
            clamped = true;
          }
          options.onRetry?.(
            Object.freeze({ operation, error: failure, attemptNumber, retriesLeft, delayMs, delaySource: server === undefined ? 'backoff' : 'server', clamped }),
          );
          if (delayMs > 0) {
            try {
              await sleep(delayMs, undefined, { signal: deadline.signal });
            } catch {
              // Only the deadline's signal can end the wait early: it expired or the job was cancelled.
              const reason = abortReason(deadline.signal, operation);
              stopped = { failure: reason, reason: stopReason(reason), attemptNumber };
              throw reason;
            }
          }
          return true;
        },
      },
    );
  } catch (error) {
    const end = stopped ?? { failure: classify(error, operation), reason: 'attempts-exhausted' as const, attemptNumber: policy.attempts };
    options.onGiveUp?.(Object.freeze({ operation, error: end.failure, attemptNumber: end.attemptNumber, reason: end.reason }));
    throw end.failure;
  }
}
