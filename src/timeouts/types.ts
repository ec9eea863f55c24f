/** Types of the timeout engine. Values live in `profiles.ts`, `tiers.ts`, `levels.ts`. */

/** Which profile a request or job runs under (SPEC §2.1). `api` has the email values. */
export type RequestContext = 'ui' | 'email' | 'api';
export const REQUEST_CONTEXTS: readonly RequestContext[] = ['ui', 'email', 'api'];

/**
 * One timeout profile, in the seed's units (seconds, except `genaiTimeout` in ms). Keys are the
 * camelCase of the seed's keys; `TIMEOUT_<UPPER_SNAKE>` overrides them.
 */
export interface ProfileValues {
  /** Whole Gemini stream, s. */
  streamTimeout: number;
  /** Longest silence between stream chunks (and heartbeat of long tools), s. */
  toolHeartbeat: number;
  /** Hard cap of one job, s. */
  hardTimeout: number;
  /** HTTP read (headers + between body chunks), s. */
  httpRead: number;
  /** HTTP write (sending a request body), s. */
  httpWrite: number;
  /** Unary Gemini call; for streams, the time to the first chunk, ms. */
  genaiTimeout: number;
  /** Total attempts of a remote call, the first included. */
  retryAttempts: number;
  /** Floor of a backoff wait, s. */
  retryMin: number;
  /** Ceiling of a backoff wait, s. */
  retryMax: number;
  /** One Quarto export, s (ui: hardTimeout). */
  quartoExport: number;
  /** One generic file download, s (ui: httpRead). */
  fileDownload: number;
  /** One email attachment download, s (ui: httpRead). */
  attachmentDownload: number;
  /** One Mailgun API call, s (ui: httpWrite). */
  mailgunApi: number;
}

export type ProfileKey = keyof ProfileValues;

/**
 * A profile as the code uses it: every duration in milliseconds, already multiplied by
 * TIMEOUT_SCALE. `retryAttempts` is a count and is never scaled.
 */
export interface Timeouts {
  context: RequestContext;
  streamTimeoutMs: number;
  toolHeartbeatMs: number;
  hardTimeoutMs: number;
  httpReadMs: number;
  httpWriteMs: number;
  genaiTimeoutMs: number;
  retryAttempts: number;
  retryMinMs: number;
  retryMaxMs: number;
  quartoExportMs: number;
  fileDownloadMs: number;
  attachmentDownloadMs: number;
  mailgunApiMs: number;
}

/** undici-shaped HTTP timeouts for one context, ms, scaled. */
export interface HttpTimeouts {
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  writeTimeoutMs: number;
}

/** Customer tiers (seed 000); they apply to the ui context. */
export type Tier = 'free' | 'early' | 'mid' | 'platform' | 'enterprise';
export const TIERS: readonly Tier[] = ['free', 'early', 'mid', 'platform', 'enterprise'];

/** A tier's limits, seconds as in the seed. */
export interface TierValues {
  agent: number;
  streaming: number;
  /** Idle limit of the client-facing stream (seed: WebSocket recv); must exceed `agent`. */
  streamIdle: number;
  phase: number;
  /** Progressive phases (enterprise: 5 × 60 s). */
  phases: number;
}

/** T1–T5 levels (seed 004). */
export type Level = 'T1' | 'T2' | 'T3' | 'T4' | 'T5';
export const LEVELS: readonly Level[] = ['T1', 'T2', 'T3', 'T4', 'T5'];

export interface LevelValues {
  name: string;
  /** Budget in ms, as in the seed. */
  budgetMs: number;
  /** What the product does on timeout. */
  fallback: string;
  /** The log line written when the fallback is taken. */
  fallbackLog: string;
  /** Alert threshold on the timeout percentage, and its severity. */
  alertPercent: number;
  alertSeverity: 'CRITICAL' | 'WARNING' | 'INFO';
}
