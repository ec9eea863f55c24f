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
 * hundreds of ms late. A Set makes linking and unlinking O(1). The shared listener stays while the
 * parent lives (one per parent, whatever the number of children): removing and re-adding it around
 * every short-lived child would cost more than it saves.
 */
const fanOuts = new WeakMap<AbortSignal, Set<Controller>>();

function link(parent: AbortSignal, child: Controller): void {
  let children = fanOuts.get(parent);
  if (!children) {
    const set = new Set<Controller>();
    children = set;
    fanOuts.set(parent, set);
    parent.addEventListener(
      'abort',
      () => {
        // Live iteration: a child disposed by another child's abort handler is skipped, as a
        // removed listener would be.
        for (const c of set) {
          set.delete(c);
          c.parentAborted(parent.reason);
        }
        fanOuts.delete(parent);
      },
      { once: true },
    );
  }
  children.add(child);
}

function fire(controller: Controller): void {
  controller.timerFired();
}

/**
 * A class rather than a closure bag: this is on the path of every attempt and phase, and one
 * object with prototype methods costs less than six closures (see bench/deadline.ts).
 */
class Controller implements TimeoutController {
  readonly #controller = new AbortController();
  readonly #parent: AbortSignal | undefined;
  readonly #onTimeout: () => unknown;
  #timer: NodeJS.Timeout | undefined = undefined;
  #linked = false;
  #disposed = false;

  constructor(parent: AbortSignal | undefined, ms: number, onTimeout: () => unknown) {
    this.#parent = parent;
    this.#onTimeout = onTimeout;
    if (parent?.aborted) {
      this.#controller.abort(parent.reason);
      return;
    }
    if (parent) {
      link(parent, this);
      this.#linked = true;
    }
    this.reset(ms);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  reset(ms: number): void {
    this.clear();
    if (this.#controller.signal.aborted || this.#disposed || !Number.isFinite(ms)) return;
    this.#timer = setTimeout(fire, Math.max(0, Math.min(ms, MAX_TIMER_MS)), this);
    // A pending deadline must never be the only thing keeping the process alive.
    this.#timer.unref();
  }

  clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  abort(reason: unknown): void {
    this.clear();
    this.#unlink();
    this.#controller.abort(reason);
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.clear();
    this.#unlink();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** @internal Called by the parent's shared listener. */
  parentAborted(reason: unknown): void {
    this.#linked = false;
    this.clear();
    this.#controller.abort(reason);
  }

  /** @internal Called by this controller's own timer. */
  timerFired(): void {
    this.#timer = undefined;
    // Aborted by its own timer: it no longer needs to hear from the parent.
    this.#unlink();
    this.#controller.abort(this.#onTimeout());
  }

  #unlink(): void {
    if (this.#linked) fanOuts.get(this.#parent!)?.delete(this);
    this.#linked = false;
  }
}

export function createTimeoutController(parent: AbortSignal | undefined, ms: number, onTimeout: () => unknown): TimeoutController {
  return new Controller(parent, ms, onTimeout);
}
