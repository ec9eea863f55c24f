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

/**
 * Children of one parent signal share a single 'abort' listener on it. Node's EventTarget walks
 * its whole listener list on every addEventListener (duplicate check), so 10,000 children adding
 * their own listener cost O(n²) — ~170 ms of blocked event loop, which made their own timers fire
 * hundreds of ms late. A Set makes linking and unlinking O(1).
 */
interface FanOut {
  readonly children: Set<() => void>;
}
const fanOuts = new WeakMap<AbortSignal, FanOut>();

function link(parent: AbortSignal, onAbort: () => void): void {
  let fanOut = fanOuts.get(parent);
  if (!fanOut) {
    const children = new Set<() => void>();
    const listener = () => {
      // Live iteration: a child disposed by another child's abort handler is skipped, as a removed
      // listener would be.
      for (const child of children) {
        children.delete(child);
        child();
      }
      fanOuts.delete(parent);
    };
    fanOut = { children };
    fanOuts.set(parent, fanOut);
    parent.addEventListener('abort', listener, { once: true });
  }
  fanOut.children.add(onAbort);
}

function unlink(parent: AbortSignal, onAbort: () => void): void {
  // The shared listener stays while the parent lives (one per parent, whatever the number of
  // children): removing and re-adding it around every short-lived child would cost more than it saves.
  fanOuts.get(parent)?.children.delete(onAbort);
}

export function createTimeoutController(
  parent: AbortSignal | undefined,
  ms: number,
  onTimeout: () => unknown,
): TimeoutController {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let disposed = false;
  let linked = false;

  const onParentAbort = () => {
    linked = false;
    clearTimer();
    controller.abort(parent!.reason);
  };
  const clearTimer = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  const unlinkParent = () => {
    if (linked) unlink(parent!, onParentAbort);
    linked = false;
  };
  const arm = (delay: number) => {
    clearTimer();
    if (controller.signal.aborted || disposed || !Number.isFinite(delay)) return;
    timer = setTimeout(() => {
      timer = undefined;
      // Aborted by its own timer: it no longer needs to hear from the parent.
      unlinkParent();
      controller.abort(onTimeout());
    }, Math.max(0, Math.min(delay, MAX_TIMER_MS)));
    // A pending deadline must never be the only thing keeping the process alive.
    timer.unref();
  };

  if (parent?.aborted) {
    controller.abort(parent.reason);
  } else {
    if (parent) {
      link(parent, onParentAbort);
      linked = true;
    }
    arm(ms);
  }

  const dispose = () => {
    if (disposed) return;
    disposed = true;
    clearTimer();
    unlinkParent();
  };

  return {
    signal: controller.signal,
    reset: arm,
    clear: clearTimer,
    abort(reason) {
      clearTimer();
      unlinkParent();
      controller.abort(reason);
    },
    dispose,
    [Symbol.dispose]: dispose,
  };
}
