import type { Tier, TierValues } from './types.ts';

/** Seed 000, exact (seconds). Default tier: free (seed: backward compatible). */
export const TIER_TABLE: Readonly<Record<Tier, Readonly<TierValues>>> = Object.freeze({
  free: Object.freeze({ agent: 8, streaming: 8, streamIdle: 10, phase: 2, phases: 1 }),
  early: Object.freeze({ agent: 8, streaming: 8, streamIdle: 10, phase: 2, phases: 1 }),
  mid: Object.freeze({ agent: 60, streaming: 60, streamIdle: 90, phase: 20, phases: 1 }),
  platform: Object.freeze({ agent: 120, streaming: 120, streamIdle: 150, phase: 30, phases: 1 }),
  enterprise: Object.freeze({ agent: 300, streaming: 300, streamIdle: 360, phase: 60, phases: 5 }),
});

export const DEFAULT_TIER: Tier = 'free';

/** Enterprise's progressive phases, in the seed's words. */
export const ENTERPRISE_PHASE_NAMES: readonly string[] = Object.freeze([
  'Initial response',
  'Deeper analysis',
  'Complex processing',
  'Comprehensive research',
  'Final synthesis',
]);
