/**
 * Readiness: named checks (ledger, Pub/Sub…), each bounded in time. `/readyz` runs them on every
 * request; at start-up `waitUntilReady` runs them until all pass, and only then does the server
 * open its port (issue 9).
 *
 * Why the port waits: Cloud Run's default startup probe is one TCP connect attempt allowed 240 s,
 * which can only work by connecting again until the port opens; an instance that listens only when
 * it can take a delivery is then seen ready when it is. An HTTP probe on `/readyz` polls at most
 * once a second (its minimum period), which rounds every start up to the next whole second.
 */
import { ErrorCodes, retryable } from '../errors.ts';
import { Deadline } from '../resilience/deadline.ts';
import { retry, type RetryEvent } from '../resilience/retry.ts';

/** Each check resolves when its dependency answers, and throws (or rejects) when it does not. */
export type ReadinessChecks = Record<string, () => Promise<void>>;

export interface ReadinessReport {
  ready: boolean;
  /** `ok`, or why the check failed. */
  checks: Record<string, string>;
}

/** Runs every check at once, each bounded by `limitMs` (a check left running is only reported). */
export async function runReadinessChecks(checks: ReadinessChecks, limitMs: number): Promise<ReadinessReport> {
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          check(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${limitMs}ms`)), limitMs);
          }),
        ]);
        return [name, 'ok'] as const;
      } catch (error) {
        return [name, error instanceof Error ? error.message : String(error)] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { ready: results.every(([, state]) => state === 'ok'), checks: Object.fromEntries(results) };
}

export interface WaitUntilReadyOptions {
  /** Time allowed for all checks to pass, ms; then `EW_ERR_NOT_READY` is thrown. */
  budgetMs: number;
  /** Bound on each check in each round, ms. @defaultValue 2000 */
  attemptLimitMs?: number;
  /** First wait between rounds, ms; it doubles up to `maxDelayMs`. @defaultValue 250 */
  minDelayMs?: number;
  /** @defaultValue 5000 */
  maxDelayMs?: number;
  /** Called after each failed round, before its wait (log it). */
  onNotReady?: (report: ReadinessReport, event: RetryEvent) => void;
}

/** Resolves once every check passes in the same round; rejects with `EW_ERR_NOT_READY` after `budgetMs`. */
export async function waitUntilReady(checks: ReadinessChecks, options: WaitUntilReadyOptions): Promise<void> {
  const attemptLimitMs = options.attemptLimitMs ?? 2000;
  using deadline = Deadline.after(options.budgetMs, { label: 'start-up readiness' });
  let last: ReadinessReport | undefined;
  try {
    await retry(
      async () => {
        last = await runReadinessChecks(checks, Math.max(1, Math.min(attemptLimitMs, deadline.remainingMs())));
        if (!last.ready) throw retryable(ErrorCodes.NOT_READY, `not ready: ${failures(last)}`, { details: { checks: last.checks } });
      },
      {
        operation: 'start-up readiness',
        // Rounds until the budget ends; the deadline, not a count, decides when to stop.
        policy: { attempts: Number.MAX_SAFE_INTEGER, minDelayMs: options.minDelayMs ?? 250, maxDelayMs: options.maxDelayMs ?? 5000, jitter: 'none' },
        deadline,
        // No round starts with less than a full check bound left: a round cut to the last few
        // milliseconds would report "no answer within 1ms" instead of why the checks fail.
        minAttemptMs: attemptLimitMs,
        ...(options.onNotReady ? { onRetry: (event: RetryEvent) => options.onNotReady!(last!, event) } : {}),
      },
    );
  } catch (error) {
    throw retryable(ErrorCodes.NOT_READY, `Not ready within ${options.budgetMs} ms: ${last ? failures(last) : 'no check finished'}`, {
      cause: error,
      details: { budgetMs: options.budgetMs, ...(last ? { checks: last.checks } : {}) },
    });
  }
}

const failures = (report: ReadinessReport) =>
  Object.entries(report.checks)
    .filter(([, state]) => state !== 'ok')
    .map(([name, state]) => `${name}: ${state}`)
    .join('; ');
