/** The timeout engine's public API (SPEC §2). */
export * from './types.ts';
export { EMAIL_API_PROFILE, SEED_PROFILES, UI_DERIVED, UI_PROFILE, MS_KEYS, COUNT_KEYS } from './profiles.ts';
export { DEFAULT_TIER, ENTERPRISE_PHASE_NAMES, TIER_TABLE } from './tiers.ts';
export { LEVEL_TABLE } from './levels.ts';
export {
  configureTimeouts,
  envKeyOf,
  getTimeoutSettings,
  loadTimeoutSettings,
  overrideVariable,
  PROFILE_KEYS,
  resetTimeoutSettings,
  unitOf,
  type ProfileGroup,
  type TimeoutOverride,
  type TimeoutSettings,
} from './settings.ts';
export {
  CONNECT_TIMEOUT_CAP_S,
  formatSeconds,
  getHttpTimeouts,
  getRetryConfig,
  getTierTimeouts,
  getTimeouts,
  levelBudgetMs,
  nextTier,
  parseTier,
  scaleMs,
  tierTimeoutMessage,
  type TierTimeouts,
} from './engine.ts';
export { detectRequestContext, isTruthyEnv, type ContextHints } from './context.ts';
export { contextTimeoutLines, logContextTimeoutsOnce, resetContextLog, type InfoLogger } from './context-log.ts';
export {
  assertChain,
  ledgerHeartbeatS,
  ledgerLeaseS,
  PULL_LEASE_MARGIN_S,
  pullLeaseExtensionS,
  validateChain,
  type ChainCheck,
  type ChainExtra,
} from './chain.ts';
export { setLevelMetricsSink, withTimeout, type FallbackInfo, type LevelLogger, type LevelMetricsSink, type WithTimeoutOptions } from './with-timeout.ts';
