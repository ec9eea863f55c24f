/**
 * In-process alert rules of seed 004 §10.2 on `timeout_percentage{level}`:
 * T1 > 1 % CRITICAL, T2 > 5 % WARNING, T3 > 10 % INFO, T4 > 20 % WARNING, T5 > 30 % INFO
 * (values from `LEVEL_TABLE`). Mirrored for Cloud Monitoring in `infra/alerts.tf`.
 *
 * When rules are evaluated: after every observation of a level (subscribed through
 * `metrics.onObserve`, so a crossing is logged the moment it happens), and — when `intervalMs`
 * is set — on a timer for all levels, so an alert also resolves when its window drains with no
 * new traffic. Each crossing is logged once: firing at the rule's severity, resolved at INFO.
 */
import type { Logger } from 'winston';
import { Gauge } from 'prom-client';
import { LEVEL_TABLE } from '../timeouts/levels.ts';
import { LEVELS, type Level, type LevelValues } from '../timeouts/types.ts';
import { levelForSeverity } from './logger.ts';
import type { Metrics } from './metrics.ts';

export interface AlertState {
  level: Level;
  /** Fires when the percentage is strictly greater than this. */
  thresholdPercent: number;
  severity: LevelValues['alertSeverity'];
  firing: boolean;
  /** Percentage at the last evaluation (0–100). */
  percentage: number;
  /** Operations in the window at the last evaluation. */
  samples: number;
  /** When the current state began (ms since epoch); undefined until the first crossing. */
  since: number | undefined;
}

export interface AlertEvaluatorOptions {
  /** Where the window counts come from; the evaluator subscribes to its observations. */
  metrics: Metrics;
  /** Where crossings are logged (at CRITICAL / WARNING / INFO; resolutions at INFO). */
  logger: Logger;
  /**
   * Fewest operations in the window before a rule may fire: one slow cache lookup out of three is
   * not "33 % of T1 timing out". @defaultValue 20
   */
  minSamples?: number;
  /** Also evaluate every level on this interval, ms (timer is unref'd); 0 = only after observations. @defaultValue 0 */
  intervalMs?: number;
  /** Clock for `since`, for tests. @defaultValue Date.now */
  now?: () => number;
}

export interface AlertEvaluator {
  /** Evaluates every level now, logs crossings, and returns the state. */
  evaluate(): AlertState[];
  /** The state as of the last evaluation, without evaluating. */
  state(): AlertState[];
  /** Unsubscribes from the metrics and stops the timer. */
  stop(): void;
}

export function createAlertEvaluator(options: AlertEvaluatorOptions): AlertEvaluator {
  const { metrics, logger } = options;
  const minSamples = options.minSamples ?? 20;
  const now = options.now ?? Date.now;
  const windowLabel = formatWindow(metrics.windowMs);
  const states = new Map<Level, AlertState>(
    LEVELS.map((level) => [
      level,
      {
        level,
        thresholdPercent: LEVEL_TABLE[level].alertPercent,
        severity: LEVEL_TABLE[level].alertSeverity,
        firing: false,
        percentage: 0,
        samples: 0,
        since: undefined,
      },
    ]),
  );

  // Exposed on /metrics next to the percentages it is computed from.
  const firingGauge =
    (metrics.registry.getSingleMetric('timeout_alert_firing') as Gauge<'level' | 'severity'> | undefined) ??
    new Gauge({
      name: 'timeout_alert_firing',
      help: 'In-process timeout alert per level: 1 while the timeout percentage is above its threshold.',
      labelNames: ['level', 'severity'] as const,
      registers: [metrics.registry],
    });
  for (const s of states.values()) firingGauge.set({ level: s.level, severity: s.severity }, 0);

  const evaluateLevel = (s: AlertState) => {
    const { total, percentage } = metrics.windowStats(s.level);
    s.samples = total;
    s.percentage = percentage;
    // Strictly greater: exactly 1 % of T1 is within the rule.
    const firing = total >= minSamples && percentage > s.thresholdPercent;
    if (firing === s.firing) return;
    s.firing = firing;
    s.since = now();
    firingGauge.set({ level: s.level, severity: s.severity }, firing ? 1 : 0);
    const meta = {
      alert: { level: s.level, state: firing ? 'firing' : 'resolved', percentage: round(percentage), thresholdPercent: s.thresholdPercent, samples: total, severity: s.severity },
    };
    const what = `${round(percentage)}% of ${s.level} operations timed out in the last ${windowLabel} (${total} operations; threshold > ${s.thresholdPercent}%)`;
    if (firing) logger.log(levelForSeverity(s.severity), `Timeout alert ${s.level} firing: ${what}`, meta);
    else logger.info(`Timeout alert ${s.level} resolved: ${what}`, meta);
  };

  const evaluate = () => {
    for (const s of states.values()) evaluateLevel(s);
    return snapshot();
  };
  const snapshot = () => [...states.values()].map((s) => ({ ...s }));

  const unsubscribe = metrics.onObserve(({ level }) => {
    const s = states.get(level as Level);
    if (s) evaluateLevel(s);
  });
  let timer: NodeJS.Timeout | undefined;
  if (options.intervalMs && options.intervalMs > 0) {
    timer = setInterval(evaluate, options.intervalMs);
    timer.unref();
  }

  return {
    evaluate,
    state: snapshot,
    stop() {
      unsubscribe();
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

function formatWindow(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}
