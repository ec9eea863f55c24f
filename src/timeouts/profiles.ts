import type { ProfileValues, RequestContext } from './types.ts';

/**
 * Seed 002, exact. Units as in the seed: seconds, `genaiTimeout` in milliseconds.
 * The ui profile has no own export/download/mailgun values: the seed derives them
 * (quartoExport → hardTimeout, fileDownload/attachmentDownload → httpRead, mailgunApi → httpWrite).
 */
export const UI_PROFILE: Readonly<ProfileValues> = Object.freeze({
  streamTimeout: 120,
  toolHeartbeat: 120,
  hardTimeout: 600,
  httpRead: 30,
  httpWrite: 60,
  genaiTimeout: 60_000,
  retryAttempts: 7,
  retryMin: 1,
  retryMax: 32,
  quartoExport: 600,
  fileDownload: 30,
  attachmentDownload: 30,
  mailgunApi: 60,
});

export const EMAIL_API_PROFILE: Readonly<ProfileValues> = Object.freeze({
  streamTimeout: 1800,
  toolHeartbeat: 300,
  hardTimeout: 3000,
  httpRead: 300,
  httpWrite: 300,
  genaiTimeout: 300_000,
  retryAttempts: 5,
  retryMin: 5,
  retryMax: 300,
  quartoExport: 600,
  fileDownload: 300,
  attachmentDownload: 180,
  mailgunApi: 120,
});

/** ui keys that have no value of their own and follow another key (after overrides). */
export const UI_DERIVED: Readonly<Partial<Record<keyof ProfileValues, keyof ProfileValues>>> = Object.freeze({
  quartoExport: 'hardTimeout',
  fileDownload: 'httpRead',
  attachmentDownload: 'httpRead',
  mailgunApi: 'httpWrite',
});

export const SEED_PROFILES: Readonly<Record<RequestContext, Readonly<ProfileValues>>> = Object.freeze({
  ui: UI_PROFILE,
  email: EMAIL_API_PROFILE,
  api: EMAIL_API_PROFILE,
});

/** Which keys are in milliseconds (the rest are seconds, or a count). */
export const MS_KEYS: ReadonlySet<keyof ProfileValues> = new Set(['genaiTimeout']);
export const COUNT_KEYS: ReadonlySet<keyof ProfileValues> = new Set(['retryAttempts']);
