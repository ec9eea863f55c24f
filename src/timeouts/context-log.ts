/**
 * The seed's start-up lines (seed 002, "Monitoring and Debugging"), written the first time a
 * context is used in this process, with the effective (scaled) figures.
 */
import { formatSeconds, getHttpTimeouts, getTimeouts } from './engine.ts';
import { getTimeoutSettings, type TimeoutSettings } from './settings.ts';
import type { RequestContext } from './types.ts';

/** The part of a logger this module needs (winston's `Logger` fits). */
export interface InfoLogger {
  info(message: string, meta?: object): void;
}

const logged = new Set<RequestContext>();

/** The three lines for `context`, in the seed's order: HTTP, GenAI, tool orchestrator. */
export function contextTimeoutLines(context: RequestContext, settings: TimeoutSettings = getTimeoutSettings()): string[] {
  const t = getTimeouts(context, settings);
  const suffix = settings.scale === 1 ? '' : ` (scale ${settings.scale})`;
  return [
    `Using HTTP timeouts for context '${context}': ${JSON.stringify(getHttpTimeouts(context, settings))}${suffix}`,
    `Using GenAI timeout for context '${context}': ${t.genaiTimeoutMs}ms${suffix}`,
    `Using tool orchestrator timeouts for context '${context}': heartbeat=${formatSeconds(t.toolHeartbeatMs)}s, hard_timeout=${formatSeconds(t.hardTimeoutMs)}s${suffix}`,
  ];
}

/** Logs the lines for `context` once per process; later calls for the same context log nothing. */
export function logContextTimeoutsOnce(context: RequestContext, logger: InfoLogger, settings: TimeoutSettings = getTimeoutSettings()): void {
  if (logged.has(context)) return;
  // Build first: if the settings are invalid nothing is marked as logged.
  const lines = contextTimeoutLines(context, settings);
  logged.add(context);
  for (const line of lines) logger.info(line, { context, timeoutScale: settings.scale });
}

/** Forgets which contexts were logged (tests). */
export function resetContextLog(): void {
  logged.clear();
}
