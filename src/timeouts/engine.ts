/**
 * The getters the code uses: every duration in milliseconds, multiplied by TIMEOUT_SCALE.
 * Counts (retry attempts, phases) are never scaled. Each takes the settings last, defaulting to
 * the process-wide ones, so tests pass their own.
 */
import { ErrorCodes, permanent } from '../errors.ts';
import type { RetryPolicy } from '../resilience/retry.ts';
import { LEVEL_TABLE } from './levels.ts';
import { getTimeoutSettings, type TimeoutSettings } from './settings.ts';
import { DEFAULT_TIER, TIER_TABLE } from './tiers.ts';
import { TIERS, type HttpTimeouts, type Level, type RequestContext, type Tier, type Timeouts } from './types.ts';

/**
 * Connecting (TCP + TLS) is quick or hopeless: a host that has not accepted in 10 s will not, and a
 * retry is worth more than waiting out a 5-minute read timeout. Shorter httpRead values still win.
 */
export const CONNECT_TIMEOUT_CAP_S = 10;

/**
 * `ms` × scale, rounded to whole ms. A positive duration stays ≥ 1 ms, so a tiny scale never
 * turns a timeout into "no wait at all".
 */
export function scaleMs(ms: number, settings: TimeoutSettings = getTimeoutSettings()): number {
  const scaled = ms * settings.scale;
  if (!(scaled > 0)) return 0;
  return Number.isFinite(scaled) ? Math.max(1, Math.round(scaled)) : scaled;
}

function secondsMs(seconds: number, settings: TimeoutSettings): number {
  return scaleMs(seconds * 1000, settings);
}

/** The profile of `context` in ms, scaled (SPEC §2.1). */
export function getTimeouts(context: RequestContext, settings: TimeoutSettings = getTimeoutSettings()): Timeouts {
  const p = settings.profiles[context];
  const s = (seconds: number) => secondsMs(seconds, settings);
  return {
    context,
    streamTimeoutMs: s(p.streamTimeout),
    toolHeartbeatMs: s(p.toolHeartbeat),
    hardTimeoutMs: s(p.hardTimeout),
    httpReadMs: s(p.httpRead),
    httpWriteMs: s(p.httpWrite),
    genaiTimeoutMs: scaleMs(p.genaiTimeout, settings),
    retryAttempts: p.retryAttempts,
    retryMinMs: s(p.retryMin),
    retryMaxMs: s(p.retryMax),
    quartoExportMs: s(p.quartoExport),
    fileDownloadMs: s(p.fileDownload),
    attachmentDownloadMs: s(p.attachmentDownload),
    mailgunApiMs: s(p.mailgunApi),
  };
}

/** Backoff of `context`: total attempts, full jitter, factor 2, waits scaled (SPEC §2.5). */
export function getRetryConfig(context: RequestContext, settings: TimeoutSettings = getTimeoutSettings()): RetryPolicy {
  const t = getTimeouts(context, settings);
  return { attempts: t.retryAttempts, minDelayMs: t.retryMinMs, maxDelayMs: t.retryMaxMs, factor: 2, jitter: 'full' };
}

/**
 * undici timeouts for `context`: connect = min({@link CONNECT_TIMEOUT_CAP_S}, httpRead),
 * headers = body (between chunks) = httpRead, write = httpWrite. All ms, scaled.
 */
export function getHttpTimeouts(context: RequestContext, settings: TimeoutSettings = getTimeoutSettings()): HttpTimeouts {
  const p = settings.profiles[context];
  const read = secondsMs(p.httpRead, settings);
  return {
    connectTimeoutMs: secondsMs(Math.min(CONNECT_TIMEOUT_CAP_S, p.httpRead), settings),
    headersTimeoutMs: read,
    bodyTimeoutMs: read,
    writeTimeoutMs: secondsMs(p.httpWrite, settings),
  };
}

export interface TierTimeouts {
  tier: Tier;
  /** Total Gemini budget of one interactive request. */
  agentMs: number;
  streamingMs: number;
  /** Idle limit of the client-facing stream; always above `agentMs`. */
  streamIdleMs: number;
  /** One progressive phase. */
  phaseMs: number;
  /** How many phases (a count, not scaled). */
  phases: number;
}

/** A tier's limits (seed 000), ms, scaled. */
export function getTierTimeouts(tier: Tier, settings: TimeoutSettings = getTimeoutSettings()): TierTimeouts {
  const t = TIER_TABLE[tier];
  const s = (seconds: number) => secondsMs(seconds, settings);
  return { tier, agentMs: s(t.agent), streamingMs: s(t.streaming), streamIdleMs: s(t.streamIdle), phaseMs: s(t.phase), phases: t.phases };
}

function isTier(value: string): value is Tier {
  return (TIERS as readonly string[]).includes(value);
}

/** A tier from a job, API key or flag. Absent → `free` (seed: backward compatible); unknown → throws. */
export function parseTier(value: unknown): Tier {
  if (value === undefined || value === null || value === '') return DEFAULT_TIER;
  const text = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
  if (text !== undefined && isTier(text)) return text;
  throw permanent(ErrorCodes.INVALID_ARGUMENT, `Invalid tier ${JSON.stringify(value)}; valid tiers: ${TIERS.join(', ')}`, {
    details: { tier: String(value) },
  });
}

/**
 * The lowest tier above `tier` that actually gives more time (free → mid: early has the same 8 s),
 * or undefined at the top.
 */
export function nextTier(tier: Tier): Tier | undefined {
  const limit = TIER_TABLE[tier].agent;
  return TIERS.slice(TIERS.indexOf(tier) + 1).find((t) => TIER_TABLE[t].agent > limit);
}

/** Seconds for a message: `60`, `0.6`, `0.008`. */
export function formatSeconds(ms: number): string {
  return String(Number((ms / 1000).toFixed(3)));
}

/**
 * The error text of a tier timeout, e.g.
 * `Agent execution timed out after 60s (tier: mid, streaming: true). Upgrade to platform for 120s.`
 * Figures are the effective (scaled) ones; enterprise gets no upgrade sentence.
 */
export function tierTimeoutMessage(tier: Tier, streaming: boolean, settings: TimeoutSettings = getTimeoutSettings()): string {
  const own = getTierTimeouts(tier, settings);
  const text = `Agent execution timed out after ${formatSeconds(streaming ? own.streamingMs : own.agentMs)}s (tier: ${tier}, streaming: ${streaming}).`;
  const next = nextTier(tier);
  if (next === undefined) return text;
  const up = getTierTimeouts(next, settings);
  return `${text} Upgrade to ${next} for ${formatSeconds(streaming ? up.streamingMs : up.agentMs)}s.`;
}

/** A T1–T5 budget (seed 004), ms, scaled. */
export function levelBudgetMs(level: Level, settings: TimeoutSettings = getTimeoutSettings()): number {
  return scaleMs(LEVEL_TABLE[level].budgetMs, settings);
}
