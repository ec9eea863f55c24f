/**
 * A child AbortController linked to a parent signal, with its own timer.
 *
 * The building block of every timeout in the worker: the job {@link Deadline}, per-attempt
 * timeouts, and the phase timers of a stream (first chunk / idle / total) that are re-armed as
 * chunks arrive. Listeners and timers are removed on `dispose()`, so thousands of short-lived
 * children on one long-lived job signal do not leak (unlike a never-collected AbortSignal.any).
 *
 * Cooperative: it aborts the signal with a reason and trusts the callee to stop.
 */
export interface TimeoutController extends Disposable {
  /** Aborts when the parent aborts (same reason) or when the timer fires (`onTimeout()` reason). */
  readonly signal: AbortSignal;
  /** Re-arms the timer to fire `ms` from now (e.g. idle timer after each chunk). No-op once aborted. */
  reset(ms: number): void;
  /** Stops the timer without aborting (the operation finished). */
  clear(): void;
  /** Aborts now with the given reason. */
  abort(reason: unknown): void;
  /** Clears the timer and unlinks from the parent. Idempotent. */
  dispose(): void;
}

// setTimeout cannot represent longer delays and would fire at once; clamp (≈24.8 days).
const MAX_TIMER_MS = 2 ** 31 - 1;

export function createTimeoutController(
  parent: AbortSignal | undefined,
  ms: number,
  onTimeout: () => unknown,
): TimeoutController {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let disposed = false;

  const onParentAbort = () => {
    clearTimer();
    controller.abort(parent!.reason);
  };
  const clearTimer = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  const arm = (delay: number) => {
    clearTimer();
    if (controller.signal.aborted || disposed || !Number.isFinite(delay)) return;
    timer = setTimeout(() => {
      timer = undefined;
      controller.abort(onTimeout());
    }, Math.max(0, Math.min(delay, MAX_TIMER_MS)));
    // A pending deadline must never be the only thing keeping the process alive.
    timer.unref();
  };

  if (parent?.aborted) {
    controller.abort(parent.reason);
  } else {
    parent?.addEventListener('abort', onParentAbort, { once: true });
    arm(ms);
  }

  const dispose = () => {
    if (disposed) return;
    disposed = true;
    clearTimer();
    parent?.removeEventListener('abort', onParentAbort);
  };

  return {
    signal: controller.signal,
    reset: arm,
    clear: clearTimer,
    abort(reason) {
      clearTimer();
      controller.abort(reason);
    },
    dispose,
    [Symbol.dispose]: dispose,
  };
}
