import { ErrorCodes, isWorkerError, permanent, retryable, type WorkerError } from '../errors.ts';
import { createTimeoutController, type TimeoutController } from './timeout-controller.ts';

/**
 * One deadline per job. Carries the job's AbortSignal down to every call; operations derive
 * child signals bounded by min(operation timeout, time left). Every abort keeps a reason that says
 * which timeout fired for which operation.
 */
export interface DeadlineOptions {
  /** What the deadline bounds, for abort reasons and logs. @defaultValue `'job'` */
  label?: string;
  /** A signal that ends the job early (shutdown, push request closed). Its reason is kept. */
  parent?: AbortSignal;
  /** Clock, for tests. @defaultValue `Date.now` */
  now?: () => number;
}

export class Deadline implements Disposable {
  readonly label: string;
  readonly budgetMs: number;
  readonly startedAt: number;
  readonly expiresAt: number;
  readonly #controller: TimeoutController;
  readonly #now: () => number;

  private constructor(budgetMs: number, options: DeadlineOptions) {
    if (!Number.isFinite(budgetMs) || budgetMs < 0) {
      throw new TypeError(`Expected \`budgetMs\` to be a finite number ≥ 0, got ${budgetMs}.`);
    }
    this.label = options.label ?? 'job';
    this.#now = options.now ?? Date.now;
    this.budgetMs = budgetMs;
    this.startedAt = this.#now();
    this.expiresAt = this.startedAt + budgetMs;
    this.#controller = createTimeoutController(options.parent, budgetMs, () => this.#exceeded());
  }

  #exceeded(): WorkerError {
    return permanent(ErrorCodes.DEADLINE_EXCEEDED, `${this.label} deadline of ${this.budgetMs}ms exceeded`, {
      details: { deadline: this.label, limitMs: this.budgetMs },
    });
  }

  /** A deadline that expires `budgetMs` from now. */
  static after(budgetMs: number, options: DeadlineOptions = {}): Deadline {
    return new Deadline(budgetMs, options);
  }

  /** Aborted when the deadline passes or the job is cancelled; `reason` says which. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** True once the deadline has passed (by the clock, even before its timer fired) or the job was aborted. */
  get expired(): boolean {
    return this.remainingMs() === 0;
  }

  /**
   * Time left, ms; 0 once expired or aborted. Observing 0 also aborts the signal: the timer may
   * fire a little late, but no caller should see "no time left" and a live signal.
   */
  remainingMs(): number {
    if (this.signal.aborted) return 0;
    const left = this.expiresAt - this.#now();
    if (left > 0) return left;
    this.#controller.abort(this.#exceeded());
    return 0;
  }

  elapsedMs(): number {
    return this.#now() - this.startedAt;
  }

  /**
   * A child signal for one operation (or one phase of it), aborted at min(`timeoutMs`, time left).
   * If the operation's own timer fires, the reason is a retryable `EW_ERR_TIMEOUT` naming the
   * operation; if the job deadline fires first, the reason is the deadline's own.
   * Dispose it when the operation ends.
   */
  child(operation: string, timeoutMs: number = Number.POSITIVE_INFINITY, phase = 'attempt'): TimeoutController {
    const remaining = this.remainingMs();
    if (timeoutMs >= remaining) {
      // The deadline is the binding limit: no timer of our own, the parent's reason passes through.
      return createTimeoutController(this.signal, Number.POSITIVE_INFINITY, () => undefined);
    }
    return createTimeoutController(this.signal, timeoutMs, () => operationTimeout(operation, phase, timeoutMs));
  }

  /** Throws the abort reason if the deadline has passed or the job was cancelled. */
  throwIfExpired(): void {
    if (this.expired) throw this.signal.reason;
  }

  /** Ends the job now (shutdown, cancellation). */
  abort(reason: unknown = permanent(ErrorCodes.ABORTED, `${this.label} aborted`)): void {
    this.#controller.abort(reason);
  }

  dispose(): void {
    this.#controller.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** The reason used when an operation's (or phase's) own timer fires. Retryable. */
export function operationTimeout(operation: string, phase: string, limitMs: number): WorkerError {
  return retryable(ErrorCodes.TIMEOUT, `${operation} ${phase} timed out after ${Math.round(limitMs)}ms`, {
    details: { operation, phase, limitMs },
  });
}

/**
 * The error to throw for an aborted signal: the signal's reason when it is one of ours, else an
 * `EW_ERR_ABORTED` that keeps the original as cause.
 */
export function abortReason(signal: AbortSignal, operation: string): WorkerError {
  const reason: unknown = signal.reason;
  if (isWorkerError(reason)) return reason;
  return permanent(ErrorCodes.ABORTED, `${operation} aborted`, { cause: reason });
}
