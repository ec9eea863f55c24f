/**
 * Timeout settings: the seed profiles (seed 002) after `TIMEOUT_*` overrides, plus `TIMEOUT_SCALE`
 * and the two platform figures the deadline chain is checked against. Parsed once, validated as a
 * whole: every bad variable is named in one error, so an operator fixes them in one deploy.
 */
import { ErrorCodes, permanent } from '../errors.ts';
import { COUNT_KEYS, EMAIL_API_PROFILE, MS_KEYS, UI_DERIVED, UI_PROFILE } from './profiles.ts';
import type { ProfileKey, ProfileValues, RequestContext } from './types.ts';

/** Which profile an override applies to: `TIMEOUT_UI_<KEY>` → ui, `TIMEOUT_<KEY>` → email and api. */
export type ProfileGroup = 'ui' | 'email/api';

export interface TimeoutOverride {
  /** The environment variable, e.g. `TIMEOUT_HARD_TIMEOUT`. */
  variable: string;
  context: ProfileGroup;
  key: ProfileKey;
  /** The value in seed units (seconds; ms for genaiTimeout; a count for retryAttempts). */
  value: number;
}

export interface TimeoutSettings {
  /** Multiplier for every duration the product sets itself. @defaultValue 1 */
  scale: number;
  /** Seed units, after overrides, unscaled. `email` and `api` hold the same values. */
  profiles: Record<RequestContext, ProfileValues>;
  /** Cloud Run request timeout, s (a platform setting: never scaled). @defaultValue 3600 */
  cloudRunTimeoutS: number;
  /** Time running jobs get after SIGTERM, s (unscaled; callers scale it). @defaultValue 8 */
  shutdownGraceS: number;
  /** Every override applied, in variable order. */
  overrides: TimeoutOverride[];
}

export const DEFAULT_CLOUD_RUN_TIMEOUT_S = 3600;
export const DEFAULT_SHUTDOWN_GRACE_S = 8;
/** Cloud Run refuses a request timeout above 60 minutes; a larger figure would hide a broken chain. */
export const MAX_CLOUD_RUN_TIMEOUT_S = 3600;
/** Cloud Run kills the instance 10 s after SIGTERM; a longer grace is never granted. */
export const MAX_SHUTDOWN_GRACE_S = 10;

const PREFIX = 'TIMEOUT_';
const UI_PREFIX = 'TIMEOUT_UI_';
const SCALE_VARIABLE = 'TIMEOUT_SCALE';

/** All profile keys, in the seed's order. */
export const PROFILE_KEYS: readonly ProfileKey[] = Object.freeze(Object.keys(EMAIL_API_PROFILE) as ProfileKey[]);

/** `hardTimeout` → `HARD_TIMEOUT`. */
export function envKeyOf(key: ProfileKey): string {
  return key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}

/** The variable that overrides `key` in `group`. */
export function overrideVariable(group: ProfileGroup, key: ProfileKey): string {
  return `${group === 'ui' ? UI_PREFIX : PREFIX}${envKeyOf(key)}`;
}

const KEY_BY_ENV: ReadonlyMap<string, ProfileKey> = new Map(PROFILE_KEYS.map((k) => [envKeyOf(k), k]));

/** The seed's snake-case names that differ from ours, for a helpful "did you mean". */
const SEED_ALIASES: Readonly<Record<string, ProfileKey>> = { TOOL_HARD_TIMEOUT: 'hardTimeout' };

/** Unit in words, for messages and `explain`. */
export function unitOf(key: ProfileKey): 'seconds' | 'milliseconds' | 'attempts' {
  if (COUNT_KEYS.has(key)) return 'attempts';
  return MS_KEYS.has(key) ? 'milliseconds' : 'seconds';
}

// A plain decimal: no hex, no Infinity, no sign other than '+', no empty string.
const DECIMAL = /^\+?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function parseDecimal(raw: string): number | undefined {
  const text = raw.trim();
  if (!DECIMAL.test(text)) return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

function parseProfileValue(variable: string, key: ProfileKey, raw: string, problems: string[]): number | undefined {
  const value = parseDecimal(raw);
  if (COUNT_KEYS.has(key)) {
    if (value === undefined || !Number.isInteger(value) || value < 1) {
      problems.push(`${variable}: expected a positive integer (attempts), got ${JSON.stringify(raw)}`);
      return undefined;
    }
    return value;
  }
  if (value === undefined || value <= 0) {
    problems.push(`${variable}: expected a number > 0 (${unitOf(key)}), got ${JSON.stringify(raw)}`);
    return undefined;
  }
  return value;
}

// Empty values count as unset: deploy tools often pass `NAME=` for "not configured".
function present(raw: string | undefined): raw is string {
  return raw !== undefined && raw.trim() !== '';
}

function parsePlatform(
  env: NodeJS.ProcessEnv,
  variable: string,
  fallback: number,
  check: (v: number) => boolean,
  expected: string,
  problems: string[],
): number {
  const raw = env[variable];
  if (!present(raw)) return fallback;
  const value = parseDecimal(raw);
  if (value === undefined || !check(value)) {
    problems.push(`${variable}: expected ${expected}, got ${JSON.stringify(raw)}`);
    return fallback;
  }
  return value;
}

/**
 * Reads `TIMEOUT_<KEY>` (email/api), `TIMEOUT_UI_<KEY>` (ui), `TIMEOUT_SCALE`,
 * `CLOUD_RUN_TIMEOUT_S` and `SHUTDOWN_GRACE_S`. ui keys without a value of their own
 * (`UI_DERIVED`) follow their source after overrides, unless overridden themselves.
 * Throws one permanent `EW_ERR_CONFIG_INVALID` naming every bad variable.
 */
export function loadTimeoutSettings(env: NodeJS.ProcessEnv = process.env): TimeoutSettings {
  const problems: string[] = [];
  const overrides: TimeoutOverride[] = [];

  const scale = parsePlatform(env, SCALE_VARIABLE, 1, (v) => v > 0, 'a finite number > 0', problems);
  const cloudRunTimeoutS = parsePlatform(
    env,
    'CLOUD_RUN_TIMEOUT_S',
    DEFAULT_CLOUD_RUN_TIMEOUT_S,
    (v) => Number.isInteger(v) && v >= 1 && v <= MAX_CLOUD_RUN_TIMEOUT_S,
    `an integer number of seconds in 1..${MAX_CLOUD_RUN_TIMEOUT_S} (Cloud Run's limit)`,
    problems,
  );
  const shutdownGraceS = parsePlatform(
    env,
    'SHUTDOWN_GRACE_S',
    DEFAULT_SHUTDOWN_GRACE_S,
    (v) => v >= 0 && v <= MAX_SHUTDOWN_GRACE_S,
    `a number of seconds in 0..${MAX_SHUTDOWN_GRACE_S} (Cloud Run's SIGTERM window)`,
    problems,
  );

  for (const variable of Object.keys(env).sort()) {
    if (!variable.startsWith(PREFIX) || variable === SCALE_VARIABLE) continue;
    const raw = env[variable];
    if (!present(raw)) continue;
    const group: ProfileGroup = variable.startsWith(UI_PREFIX) ? 'ui' : 'email/api';
    const envKey = variable.slice(group === 'ui' ? UI_PREFIX.length : PREFIX.length);
    const key = KEY_BY_ENV.get(envKey);
    if (key === undefined) {
      const alias = SEED_ALIASES[envKey];
      const hint = alias ? ` (did you mean ${overrideVariable(group, alias)}?)` : '';
      problems.push(`${variable}: unknown timeout key "${envKey}"${hint}; valid keys: ${[...KEY_BY_ENV.keys()].join(', ')}`);
      continue;
    }
    const value = parseProfileValue(variable, key, raw, problems);
    if (value !== undefined) overrides.push({ variable, context: group, key, value });
  }

  const emailApi: ProfileValues = { ...EMAIL_API_PROFILE };
  const ui: ProfileValues = { ...UI_PROFILE };
  for (const o of overrides) (o.context === 'ui' ? ui : emailApi)[o.key] = o.value;
  for (const [key, source] of Object.entries(UI_DERIVED) as Array<[ProfileKey, ProfileKey]>) {
    if (!overrides.some((o) => o.context === 'ui' && o.key === key)) ui[key] = ui[source];
  }

  // retry.ts refuses a ceiling below the floor; say so here, naming what the operator set.
  for (const [group, profile] of [['ui', ui], ['email/api', emailApi]] as const) {
    if (profile.retryMax < profile.retryMin) {
      const named = overrides.filter((o) => o.context === group && (o.key === 'retryMin' || o.key === 'retryMax')).map((o) => o.variable);
      problems.push(`${named.join(', ')}: retryMax (${profile.retryMax}s) must be ≥ retryMin (${profile.retryMin}s) in the ${group} profile`);
    }
  }

  if (problems.length) {
    throw permanent(ErrorCodes.CONFIG_INVALID, `Invalid timeout configuration:\n  - ${problems.join('\n  - ')}`, {
      details: { variables: problems.map((p) => p.slice(0, p.indexOf(':'))) },
    });
  }

  const frozenEmailApi = Object.freeze(emailApi);
  return Object.freeze({
    scale,
    profiles: Object.freeze({ ui: Object.freeze(ui), email: frozenEmailApi, api: frozenEmailApi }),
    cloudRunTimeoutS,
    shutdownGraceS,
    overrides: Object.freeze(overrides.map((o) => Object.freeze(o))) as TimeoutOverride[],
  });
}

let current: TimeoutSettings | undefined;

/** Sets the process-wide settings (start-up, after validation). */
export function configureTimeouts(settings: TimeoutSettings): void {
  current = settings;
}

/** The process-wide settings; loaded from `process.env` on first use and cached. */
export function getTimeoutSettings(): TimeoutSettings {
  current ??= loadTimeoutSettings(process.env);
  return current;
}

/** Forgets the cached settings (tests). */
export function resetTimeoutSettings(): void {
  current = undefined;
}
