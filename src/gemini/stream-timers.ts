/**
 * The three phase timers of one stream attempt on one AbortSignal (undici's connect / headers /
 * body timeouts, applied to a Gemini stream; SPEC §2.1 "What the GenAI figures bound"):
 *
 * - `first-chunk`: from the request to the first chunk (profile genaiTimeout);
 * - `idle`: the silence between two chunks, re-armed on every chunk (profile toolHeartbeat);
 * - `total`: the whole stream (profile streamTimeout).
 *
 * Each fires a retryable `EW_ERR_TIMEOUT` whose `details.phase` names it. When the parent signal
 * (the attempt, hence the job deadline) aborts first, its reason passes through unchanged.
 * Cooperative: the signal is handed to the SDK, which aborts the fetch and its body.
 */
import { operationTimeout } from '../resilience/deadline.ts';
import { createTimeoutController, type TimeoutController } from '../resilience/timeout-controller.ts';

export type StreamPhase = 'first-chunk' | 'idle' | 'total';

export interface StreamTimerOptions {
  /** Name in the timeout reason (`gemini.stream`). */
  operation: string;
  /** Limit on the time to the first chunk, ms. */
  firstChunkMs: number;
  /** Limit on the silence between chunks, ms. */
  idleMs: number;
  /** Limit on the whole stream, ms. */
  totalMs: number;
}

export interface StreamTimers extends Disposable {
  /** Aborted by whichever phase timer fires first, or by the parent. Pass it to the SDK. */
  readonly signal: AbortSignal;
  /** The phase the stream is in: `first-chunk` until `chunk()` is first called, then `idle`. */
  readonly phase: 'first-chunk' | 'idle';
  /** A chunk arrived: switch to (or re-arm) the idle timer. */
  chunk(): void;
  /** The stream was read to its end: nothing is left to release, so `dispose()` will not abort the signal. */
  ended(): void;
  /** Ends the attempt: aborts the signal (releasing the connection) if it is still open and the stream did not end, and clears the timers. */
  dispose(): void;
}

export function createStreamTimers(parent: AbortSignal, options: StreamTimerOptions): StreamTimers {
  const { operation, firstChunkMs, idleMs, totalMs } = options;
  let phase: 'first-chunk' | 'idle' = 'first-chunk';
  const total: TimeoutController = createTimeoutController(parent, totalMs, () => operationTimeout(operation, 'total', totalMs));
  // One re-armed timer serves both the first-chunk and the idle phase; its reason names the phase it fired in.
  const gap: TimeoutController = createTimeoutController(total.signal, firstChunkMs, () =>
    operationTimeout(operation, phase, phase === 'first-chunk' ? firstChunkMs : idleMs),
  );
  let disposed = false;
  let ended = false;
  const dispose = () => {
    if (disposed) return;
    disposed = true;
    // After an early exit the abort closes the socket. After the end of the stream it would only
    // cost (a DOMException, the SDK's and undici's abort handlers: ~3 % of a job's CPU in
    // bench/pipeline's throughput scenario), so it is skipped.
    if (!ended && !gap.signal.aborted) gap.abort(new DOMException(`${operation} attempt ended`, 'AbortError'));
    gap.dispose();
    total.dispose();
  };
  return {
    signal: gap.signal,
    get phase() {
      return phase;
    },
    chunk() {
      phase = 'idle';
      gap.reset(idleMs);
    },
    ended() {
      ended = true;
    },
    dispose,
    [Symbol.dispose]: dispose,
  };
}
