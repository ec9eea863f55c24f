/**
 * T1–T5 (seed 004, SPEC §2.3): run a local step under its level's budget and take a fallback when
 * it overruns. The timeout is **aggressive**: the fallback is taken at once, without waiting for
 * the work to notice its aborted signal — a stuck file read must not hold up a job.
 */
import type { WorkerError } from '../errors.ts';
import { abortReason, operationTimeout } from '../resilience/deadline.ts';
import { levelBudgetMs } from './engine.ts';
import { LEVEL_TABLE } from './levels.ts';
import { getTimeoutSettings, type TimeoutSettings } from './settings.ts';
import type { Level } from './types.ts';

/** Receives one observation per finished call (observability implements it on prom-client). */
export interface LevelMetricsSink {
  observe(level: Level, operation: string, durationMs: number, timedOut: boolean): void;
}

/** The part of a logger this module needs (winston's `Logger` fits). */
export interface LevelLogger {
  warn(message: string, meta?: object): void;
  error(message: string, meta?: object): void;
}

export interface FallbackInfo {
  level: Level;
  operation: string;
  /** Time from the start of the call to the timeout, ms. */
  elapsedMs: number;
  /** The scaled budget that was exceeded, ms. */
  budgetMs: number;
  /** The retryable `EW_ERR_TIMEOUT` the work's signal was aborted with. */
  reason: WorkerError;
  /**
   * The caller's `parentSignal` (the job), to bound any work the fallback itself does. The work's
   * own signal is already aborted by now. Never aborted when no parent was given.
   */
  signal: AbortSignal;
}

export interface WithTimeoutOptions {
  /** Where the fallback line is written. @defaultValue a JSON line on stderr */
  logger?: LevelLogger;
  /** @defaultValue getTimeoutSettings() */
  settings?: TimeoutSettings;
  /** The job's signal: its abort aborts the work and rejects at once with its reason (no fallback). */
  parentSignal?: AbortSignal;
  /** @defaultValue the sink set with setLevelMetricsSink(), else none */
  metrics?: LevelMetricsSink;
}

let defaultSink: LevelMetricsSink | undefined;

/** Sets the sink used when a call passes none (wired once at start-up by observability). */
export function setLevelMetricsSink(sink: LevelMetricsSink | undefined): void {
  defaultSink = sink;
}

// Before a logger is wired, still leave a line Cloud Run can read.
const stderrLogger: LevelLogger = {
  warn: (message, meta) => process.stderr.write(`${JSON.stringify({ severity: 'WARNING', message, ...meta })}\n`),
  error: (message, meta) => process.stderr.write(`${JSON.stringify({ severity: 'ERROR', message, ...meta })}\n`),
};

const NEVER_ABORTED = new AbortController().signal;

type Outcome<T> = { kind: 'done'; value: T } | { kind: 'timeout' } | { kind: 'aborted' };

/**
 * Runs `fn` under the scaled budget of `level`. On time: returns its value. On timeout: aborts
 * fn's signal, logs the level's fallback line (warning for T1–T4, error for T5, as in the seed)
 * and returns `fallback(info)`. Errors from `fn` propagate unchanged. Every finished call is
 * reported to the metrics sink; a call cancelled by `parentSignal` is not (it says nothing about
 * the level's budget).
 */
export async function withTimeout<T>(
  level: Level,
  operation: string,
  fn: (signal: AbortSignal) => Promise<T>,
  fallback: (info: FallbackInfo) => T | Promise<T>,
  options: WithTimeoutOptions = {},
): Promise<T> {
  const settings = options.settings ?? getTimeoutSettings();
  const metrics = options.metrics ?? defaultSink;
  const parent = options.parentSignal;
  const budgetMs = levelBudgetMs(level, settings);
  if (parent?.aborted) throw abortReason(parent, operation);

  const controller = new AbortController();
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  let onParentAbort: (() => void) | undefined;
  let outcome: Outcome<T>;
  try {
    outcome = await new Promise<Outcome<T>>((resolve, reject) => {
      // Referenced on purpose: the fallback must be delivered even if nothing else is pending.
      timer = setTimeout(() => resolve({ kind: 'timeout' }), budgetMs);
      onParentAbort = () => resolve({ kind: 'aborted' });
      parent?.addEventListener('abort', onParentAbort, { once: true });
      let work: Promise<T>;
      try {
        work = Promise.resolve(fn(controller.signal));
      } catch (error) {
        work = Promise.reject(error);
      }
      // A late rejection after the race is decided lands in a settled promise: handled, ignored.
      work.then((value) => resolve({ kind: 'done', value }), reject);
    });
  } catch (error) {
    metrics?.observe(level, operation, performance.now() - started, false);
    throw error;
  } finally {
    clearTimeout(timer);
    if (onParentAbort) parent?.removeEventListener('abort', onParentAbort);
  }

  const elapsedMs = performance.now() - started;
  if (outcome.kind === 'done') {
    metrics?.observe(level, operation, elapsedMs, false);
    return outcome.value;
  }
  if (outcome.kind === 'aborted') {
    controller.abort(parent!.reason);
    throw abortReason(parent!, operation);
  }

  const reason = operationTimeout(operation, level, budgetMs);
  controller.abort(reason);
  const entry = LEVEL_TABLE[level];
  const logger = options.logger ?? stderrLogger;
  const meta = { level, operation, budgetMs, elapsedMs: Math.round(elapsedMs), fallback: entry.fallback };
  if (level === 'T5') logger.error(entry.fallbackLog, meta);
  else logger.warn(entry.fallbackLog, meta);
  metrics?.observe(level, operation, elapsedMs, true);
  return await fallback({ level, operation, elapsedMs, budgetMs, reason, signal: parent ?? NEVER_ABORTED });
}
