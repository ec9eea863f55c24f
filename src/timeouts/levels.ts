import type { Level, LevelValues } from './types.ts';

/** Seed 004, exact: budgets, fallbacks, the fallback log lines and the alert thresholds. */
export const LEVEL_TABLE: Readonly<Record<Level, Readonly<LevelValues>>> = Object.freeze({
  T1: Object.freeze({ name: 'Cache', budgetMs: 100, fallback: 'skip cache', fallbackLog: 'T1 cache timeout - skipping cache', alertPercent: 1, alertSeverity: 'CRITICAL' }),
  T2: Object.freeze({ name: 'File', budgetMs: 500, fallback: 'use fallback', fallbackLog: 'T2 file timeout - using fallback', alertPercent: 5, alertSeverity: 'WARNING' }),
  T3: Object.freeze({ name: 'Layer', budgetMs: 2000, fallback: 'partial load', fallbackLog: 'T3 layer timeout - returning partial', alertPercent: 10, alertSeverity: 'INFO' }),
  T4: Object.freeze({ name: 'Full', budgetMs: 5000, fallback: 'core only', fallbackLog: 'T4 full timeout - returning core only', alertPercent: 20, alertSeverity: 'WARNING' }),
  T5: Object.freeze({ name: 'Complex', budgetMs: 10_000, fallback: 'abort + summary', fallbackLog: 'T5 analysis timeout - returning summary', alertPercent: 30, alertSeverity: 'INFO' }),
});
