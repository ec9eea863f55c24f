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

/*
 * How children hear that their parent aborted, without one 'abort' listener each. Node's
 * EventTarget walks its whole listener list on every addEventListener (duplicate check), so 10,000
 * children with a listener each cost O(n²) — ~170 ms of blocked event loop, which made their own
 * timers fire hundreds of ms late. Instead:
 * - a parent that is one of our controllers (a Deadline, an attempt) forwards its abort to its
 *   children itself: no listener at all. Our signals carry their controller under a symbol — a
 *   property rather than a WeakMap entry, which the GC traces as an ephemeron and which cost more
 *   than the whole controller;
 * - any other parent (a shutdown signal) gets one shared listener that fans out to a Set. It stays
 *   while the parent lives: removing and re-adding it around every short-lived child would cost
 *   more than it saves.
 * Linking and unlinking are O(1) either way.
 */
const OWNER = Symbol('email-worker.TimeoutController');
type OwnedSignal = AbortSignal & { [OWNER]?: Controller };
const fanOuts = new WeakMap<AbortSignal, Set<Controller>>();

/** The set `child` joins to hear about `parent`'s abort. */
function childrenOf(parent: AbortSignal): Set<Controller> {
  const owner = (parent as OwnedSignal)[OWNER];
  if (owner) return owner.children();
  let set = fanOuts.get(parent);
  if (!set) {
    const children = new Set<Controller>();
    set = children;
    fanOuts.set(parent, children);
    parent.addEventListener('abort', () => abortAll(children, parent.reason), { once: true });
  }
  return set;
}

function abortAll(children: Set<Controller>, reason: unknown): void {
  // Live iteration: a child disposed by another child's abort handler is skipped, as a removed
  // listener would be.
  for (const child of children) {
    children.delete(child);
    child.parentAborted(reason);
  }
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
  readonly #onTimeout: () => unknown;
  #timer: NodeJS.Timeout | undefined = undefined;
  // The set this controller sits in to hear about its parent; undefined when unlinked.
  #siblings: Set<Controller> | undefined = undefined;
  #children: Set<Controller> | undefined = undefined;
  #disposed = false;

  constructor(parent: AbortSignal | undefined, ms: number, onTimeout: () => unknown) {
    this.#onTimeout = onTimeout;
    (this.#controller.signal as OwnedSignal)[OWNER] = this;
    if (parent?.aborted) {
      this.#controller.abort(parent.reason);
      return;
    }
    if (parent) {
      this.#siblings = childrenOf(parent);
      this.#siblings.add(this);
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
    this.#abort(reason);
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

  /** @internal The children linked to this controller's signal. */
  children(): Set<Controller> {
    return (this.#children ??= new Set());
  }

  /** @internal Called when the parent aborts. */
  parentAborted(reason: unknown): void {
    this.#siblings = undefined;
    this.clear();
    this.#abort(reason);
  }

  /** @internal Called by this controller's own timer. */
  timerFired(): void {
    this.#timer = undefined;
    // Aborted by its own timer: it no longer needs to hear from the parent.
    this.#unlink();
    this.#abort(this.#onTimeout());
  }

  #abort(reason: unknown): void {
    if (this.#controller.signal.aborted) return;
    this.#controller.abort(reason);
    // Listeners on this signal have run; now the children, with the same reason.
    if (this.#children) abortAll(this.#children, this.#controller.signal.reason);
  }

  #unlink(): void {
    this.#siblings?.delete(this);
    this.#siblings = undefined;
  }
}

export function createTimeoutController(parent: AbortSignal | undefined, ms: number, onTimeout: () => unknown): TimeoutController {
  return new Controller(parent, ms, onTimeout);
}
