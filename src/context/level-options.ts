/** What every T1–T5 call of the context step passes on to `withTimeout`. */
import type { Logger } from 'winston';
import type { TimeoutSettings } from '../timeouts/settings.ts';
import type { LevelMetricsSink, WithTimeoutOptions } from '../timeouts/with-timeout.ts';

export interface LevelCallOptions {
  /** Level budgets come from these (TIMEOUT_SCALE). @defaultValue the process-wide settings */
  settings?: TimeoutSettings;
  /** The job's signal: aborting it ends the step with its reason (no fallback). */
  signal?: AbortSignal;
  /** Fallback lines and problems. @defaultValue withTimeout's stderr lines, otherwise silent */
  logger?: Logger;
  /** Level metrics. @defaultValue the process-wide sink */
  metrics?: LevelMetricsSink;
}

/** The options object withTimeout takes, without undefined members. */
export function levelOptions(options: LevelCallOptions): WithTimeoutOptions {
  return {
    ...(options.settings ? { settings: options.settings } : {}),
    ...(options.signal ? { parentSignal: options.signal } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
  };
}
