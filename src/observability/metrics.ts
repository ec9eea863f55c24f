/**
 * Prometheus metrics (prom-client) on a registry of our own, served as text by `GET /metrics`:
 * operation durations and timeouts per level (seed 004 §10), retries and give-ups per operation,
 * jobs per outcome.
 *
 * `timeout_percentage{level}` is computed over a sliding **time** window (default: the last
 * 5 minutes, in 1-second buckets). A time window rather than "the last N operations" because it
 * forgets an incident once traffic has been healthy for a while even when traffic is sparse, and
 * because Cloud Monitoring evaluates the mirrored rules (`infra/alerts.tf`) the same way.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Logger } from 'winston';
import { describeError } from '../errors.ts';
import type { GiveUpEvent, RetryEvent } from '../resilience/retry.ts';
import { LEVELS } from '../timeouts/types.ts';

/** What `withTimeout` and the remote clients report each operation to. */
export interface LevelMetricsSink {
  observe(level: string, operation: string, durationMs: number, timedOut: boolean): void;
}

/** Bucket bounds for every duration histogram, ms: 1 ms … 50 min (the longest job). */
export const DURATION_BUCKETS_MS: readonly number[] = Object.freeze([
  1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_200_000, 1_800_000, 3_000_000,
]);

export interface MetricsOptions {
  /** Length of the sliding window behind `timeout_percentage`, ms. @defaultValue 300000 (5 min) */
  windowMs?: number;
  /** Resolution of the window: observations are counted in buckets of this length, ms. @defaultValue 1000 */
  bucketMs?: number;
  /** Also collect prom-client's process metrics (CPU, memory, event-loop lag). @defaultValue false */
  defaultMetrics?: boolean;
  /** Registry to register on. @defaultValue a new Registry */
  registry?: Registry;
  /** Clock for the window, for tests. @defaultValue Date.now */
  now?: () => number;
}

/** Counts of the sliding window for one level. */
export interface WindowStats {
  /** Operations observed in the window. */
  total: number;
  /** Of which timed out. */
  timedOut: number;
  /** `timedOut / total × 100`, 0 when nothing was observed. */
  percentage: number;
}

/** One observation, as passed to `onObserve` listeners. */
export interface Observation {
  level: string;
  operation: string;
  durationMs: number;
  timedOut: boolean;
}

export interface Metrics extends LevelMetricsSink {
  readonly registry: Registry;
  /** Length of the sliding window, ms. */
  readonly windowMs: number;
  /** Records one operation of a level (T1–T5, or an operation family such as `remote`). */
  observe(level: string, operation: string, durationMs: number, timedOut: boolean): void;
  /** Same as `observe`. */
  observeOperation(level: string, operation: string, durationMs: number, timedOut: boolean): void;
  /** Counts one retry; `reason` is the error code and status (`EW_ERR_UPSTREAM_HTTP:503`). */
  recordRetry(operation: string, reason: string): void;
  /** Counts one give-up (no further attempt). */
  recordGiveUp(operation: string, reason: string): void;
  /** Counts one finished job and its duration. */
  recordJob(outcome: string, durationMs: number): void;
  /** Counts one export render: format, engine (`quarto`/`builtin`), outcome (`ok`/`failed`), and whether it was a fallback after Quarto failed. */
  recordExport(event: { format: string; engine: string; outcome: string; fallback: boolean; durationMs: number }): void;
  /** Percentage of operations of `level` that timed out in the sliding window (0–100). */
  timeoutPercentage(level: string): number;
  /** Counts of the sliding window for `level`. */
  windowStats(level: string): WindowStats;
  /** Levels observed so far (T1–T5 always included). */
  levels(): string[];
  /** Calls `listener` after every observation (alerts evaluate here). Returns an unsubscribe function. */
  onObserve(listener: (observation: Observation) => void): () => void;
}

/**
 * Ring of per-bucket counters for one level. O(window / bucket) memory whatever the traffic;
 * buckets older than the window are zeroed lazily on access.
 */
class SlidingWindow {
  readonly #bucketMs: number;
  readonly #totals: Float64Array;
  readonly #timeouts: Float64Array;
  // The absolute bucket number each slot currently holds.
  readonly #epochs: Float64Array;

  constructor(windowMs: number, bucketMs: number) {
    const slots = Math.max(1, Math.ceil(windowMs / bucketMs));
    this.#bucketMs = bucketMs;
    this.#totals = new Float64Array(slots);
    this.#timeouts = new Float64Array(slots);
    this.#epochs = new Float64Array(slots).fill(-1);
  }

  add(now: number, timedOut: boolean): void {
    const epoch = Math.floor(now / this.#bucketMs);
    const slot = epoch % this.#totals.length;
    if (this.#epochs[slot] !== epoch) {
      this.#epochs[slot] = epoch;
      this.#totals[slot] = 0;
      this.#timeouts[slot] = 0;
    }
    this.#totals[slot]! += 1;
    if (timedOut) this.#timeouts[slot]! += 1;
  }

  stats(now: number): WindowStats {
    const current = Math.floor(now / this.#bucketMs);
    const oldest = current - this.#totals.length + 1;
    let total = 0;
    let timedOut = 0;
    for (let i = 0; i < this.#totals.length; i++) {
      const epoch = this.#epochs[i]!;
      if (epoch >= oldest && epoch <= current) {
        total += this.#totals[i]!;
        timedOut += this.#timeouts[i]!;
      }
    }
    // Computed as timedOut·100/total so that 1 in 100 is exactly 1 (alert thresholds are strict).
    return { total, timedOut, percentage: total === 0 ? 0 : (timedOut * 100) / total };
  }
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const windowMs = options.windowMs ?? 300_000;
  const bucketMs = options.bucketMs ?? 1000;
  if (!(windowMs > 0) || !(bucketMs > 0) || bucketMs > windowMs) {
    throw new TypeError('Expected `windowMs` and `bucketMs` to be numbers > 0 with `bucketMs` ≤ `windowMs`.');
  }
  const now = options.now ?? Date.now;
  const registry = options.registry ?? new Registry();
  const windows = new Map<string, SlidingWindow>();
  const windowFor = (level: string) => {
    let w = windows.get(level);
    if (!w) windows.set(level, (w = new SlidingWindow(windowMs, bucketMs)));
    return w;
  };
  for (const level of LEVELS) windowFor(level);
  const listeners = new Set<(observation: Observation) => void>();

  const operationDuration = new Histogram({
    name: 'operation_duration_ms',
    help: 'Duration of operations by timeout level (T1–T5, or an operation family such as remote), ms.',
    labelNames: ['operation', 'level'] as const,
    buckets: [...DURATION_BUCKETS_MS],
    registers: [registry],
  });
  const timeoutViolations = new Counter({
    name: 'timeout_violations_total',
    help: 'Operations that hit their timeout, by level and operation.',
    labelNames: ['level', 'operation'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'timeout_percentage',
    help: `Percentage of operations that timed out over the last ${Math.round(windowMs / 1000)}s, by level.`,
    labelNames: ['level'] as const,
    registers: [registry],
    collect() {
      // Computed at scrape time from the window, so it decays even when nothing is observed.
      const t = now();
      for (const [level, w] of windows) this.set({ level }, w.stats(t).percentage);
    },
  });
  const retries = new Counter({
    name: 'retries_total',
    help: 'Retries of remote operations, by operation and reason (error code[:status]).',
    labelNames: ['operation', 'reason'] as const,
    registers: [registry],
  });
  const giveUps = new Counter({
    name: 'retry_give_ups_total',
    help: 'Operations given up after retrying (or not retried), by operation and reason (error code[:status]).',
    labelNames: ['operation', 'reason'] as const,
    registers: [registry],
  });
  const jobs = new Counter({ name: 'jobs_total', help: 'Finished jobs, by outcome.', labelNames: ['outcome'] as const, registers: [registry] });
  const jobDuration = new Histogram({
    name: 'job_duration_ms',
    help: 'Duration of jobs from claim to outcome, ms.',
    labelNames: ['outcome'] as const,
    buckets: [...DURATION_BUCKETS_MS],
    registers: [registry],
  });

  const exportRenders = new Counter({
    name: 'export_renders_total',
    help: 'Export renders, by format, engine (quarto, builtin), outcome (ok, failed) and fallback (true: built-in after Quarto failed).',
    labelNames: ['format', 'engine', 'outcome', 'fallback'] as const,
    registers: [registry],
  });
  const exportDuration = new Histogram({
    name: 'export_render_duration_ms',
    help: 'Duration of export renders, by format and engine, ms.',
    labelNames: ['format', 'engine'] as const,
    buckets: [...DURATION_BUCKETS_MS],
    registers: [registry],
  });

  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });

  const observe = (level: string, operation: string, durationMs: number, timedOut: boolean) => {
    operationDuration.observe({ operation, level }, Math.max(0, durationMs));
    if (timedOut) timeoutViolations.inc({ level, operation });
    windowFor(level).add(now(), timedOut);
    if (listeners.size) {
      const observation = { level, operation, durationMs, timedOut };
      for (const listener of listeners) listener(observation);
    }
  };

  return {
    registry,
    windowMs,
    observe,
    observeOperation: observe,
    recordRetry(operation, reason) {
      retries.inc({ operation, reason });
    },
    recordGiveUp(operation, reason) {
      giveUps.inc({ operation, reason });
    },
    recordJob(outcome, durationMs) {
      jobs.inc({ outcome });
      jobDuration.observe({ outcome }, Math.max(0, durationMs));
    },
    recordExport({ format, engine, outcome, fallback, durationMs }) {
      exportRenders.inc({ format, engine, outcome, fallback: String(fallback) });
      exportDuration.observe({ format, engine }, Math.max(0, durationMs));
    },
    timeoutPercentage(level) {
      return windowFor(level).stats(now()).percentage;
    },
    windowStats(level) {
      return windowFor(level).stats(now());
    },
    levels() {
      return [...windows.keys()];
    },
    onObserve(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** The shared instance: what `/metrics` serves unless the app builds its own. */
export const metrics: Metrics = createMetrics();

/** The reason label of a retry or give-up: error code, plus the HTTP status when there was one. */
export function reasonLabel(error: { code?: string; status?: number | undefined }): string {
  const code = error.code ?? 'unknown';
  return error.status === undefined ? code : `${code}:${error.status}`;
}

/** Why an attempt failed, in a few words for the log line: the status, the network code, or the error code. */
function failureSummary(error: RetryEvent['error']): string {
  if (error.status !== undefined) return String(error.status);
  const networkCode = error.details?.networkCode;
  if (typeof networkCode === 'string') return networkCode;
  const phase = error.details?.phase;
  if (error.code === 'EW_ERR_TIMEOUT' && typeof phase === 'string') return `${phase} timeout`;
  return error.code;
}

/**
 * Hooks for `retry()` that log and count every retry and give-up (SPEC §2.5):
 * `Retrying gemini.stream after 503 in 5234ms (attempt 1 of 5)` at WARNING, one ERROR per give-up.
 */
export function retryObserver(
  logger: Logger,
  sink: Pick<Metrics, 'recordRetry' | 'recordGiveUp'>,
): { onRetry(event: RetryEvent): void; onGiveUp(event: GiveUpEvent): void } {
  return {
    onRetry(event) {
      const reason = reasonLabel(event.error);
      const attempts = event.attemptNumber + event.retriesLeft;
      const delayMs = Math.round(event.delayMs);
      logger.warn(
        `Retrying ${event.operation} after ${failureSummary(event.error)} in ${delayMs}ms (attempt ${event.attemptNumber} of ${attempts})`,
        {
          operation: event.operation,
          code: event.error.code,
          ...(event.error.status === undefined ? {} : { status: event.error.status }),
          attempt: event.attemptNumber,
          attempts,
          delayMs,
          delaySource: event.delaySource,
          clamped: event.clamped,
          err: event.error,
        },
      );
      sink.recordRetry(event.operation, reason);
    },
    onGiveUp(event) {
      const reason = reasonLabel(event.error);
      logger.error(`Giving up on ${event.operation} after ${event.attemptNumber} attempt(s) (${event.reason}): ${describeError(event.error)}`, {
        operation: event.operation,
        code: event.error.code,
        ...(event.error.status === undefined ? {} : { status: event.error.status }),
        attempt: event.attemptNumber,
        giveUpReason: event.reason,
        err: event.error,
      });
      sink.recordGiveUp(event.operation, reason);
    },
  };
}
