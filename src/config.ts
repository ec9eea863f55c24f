/**
 * Configuration: parsed and validated once at start-up from the environment. Every message names
 * the variable. Timeout variables (TIMEOUT_*, CLOUD_RUN_TIMEOUT_S, SHUTDOWN_GRACE_S) are parsed by
 * the timeout engine (`src/timeouts/settings.ts`) and carried here as `timeouts`.
 * `.env.example` documents every variable with its default.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { ErrorCodes, permanent } from './errors.ts';
import { DEFAULT_ALLOWED_HOSTS } from './attachments/url-policy.ts';
import { loadTimeoutSettings, type TimeoutSettings } from './timeouts/settings.ts';
import { isTruthyEnv } from './timeouts/context.ts';
import { parseApiKeys, type ApiKey } from './api/api-keys.ts';
import type { CapLimits } from './ingress/caps.ts';

const MiB = 1024 * 1024;

const bool = (fallback: boolean) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback;
      if (/^(1|true|yes|on)$/i.test(v.trim())) return true;
      if (/^(0|false|no|off)$/i.test(v.trim())) return false;
      ctx.addIssue({ code: 'custom', message: `expected true/false (1/0, yes/no, on/off), got "${v}"` });
      return z.NEVER;
    });

const int = (fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `expected an integer from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

const str = (fallback?: string) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? fallback : v.trim()));

const list = (fallback: string[]) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? fallback : v.split(',').map((s) => s.trim()).filter(Boolean)));

const EnvSchema = z.object({
  EMAIL_PROCESSING_MODE: z.string().optional().transform((v) => isTruthyEnv(v)),
  WORKER_MODE: z.enum(['pull', 'push']).optional().default('pull'),
  WORKER_CONCURRENCY: int(4, 1, 10_000),
  PORT: int(8080, 0, 65_535),
  LOG_LEVEL: z.enum(['debug', 'info', 'notice', 'warning', 'error', 'critical']).optional().default('info'),
  GOOGLE_CLOUD_PROJECT: str('demo-local'),
  PUBSUB_TOPIC: str('email-worker-jobs'),
  PUBSUB_SUBSCRIPTION: str('email-worker-jobs-worker'),
  PUBSUB_DEAD_LETTER_TOPIC: str('email-worker-jobs-dead'),
  PUBSUB_MAX_DELIVERY_ATTEMPTS: int(5, 5, 100),
  PUBSUB_EMULATOR_HOST: str(),
  GEMINI_API_KEY: str(),
  GEMINI_MODEL: str('gemini-2.5-flash'),
  GEMINI_BASE_URL: str(),
  MAILGUN_API_KEY: str(),
  MAILGUN_DOMAIN: str('mg.localhost'),
  MAILGUN_API_URL: str('https://api.mailgun.net'),
  MAILGUN_WEBHOOK_SIGNING_KEY: str(),
  MAIL_FROM: str(),
  OUTBOX_DIR: str('./outbox'),
  ALLOWED_SENDERS: list(['*']),
  // issue 7: 7 MiB, not 10: base64 makes it 9.3 MiB, and a job must fit Pub/Sub's 10 MB message limit.
  FORWARD_INLINE_MAX_BYTES: int(7 * MiB, 0, 7 * MiB),
  ATTACHMENT_MAX_BYTES: int(25 * MiB, 1),
  ATTACHMENT_ALLOWED_HOSTS: list([...DEFAULT_ALLOWED_HOSTS]),
  ATTACHMENT_ALLOW_PRIVATE: bool(false),
  KNOWLEDGE_DIR: str(),
  QUARTO_PATH: str(),
  LEDGER: z.enum(['memory', 'firestore']).optional().default('memory'),
  API_KEYS: list([]),
  PUSH_AUDIENCE: str(),
  PUSH_SERVICE_ACCOUNT: str(),
  REQUIRE_PUSH_AUTH: z.string().optional(),
  K_SERVICE: str(),
  // issue 10: Gemini output cap
  GEMINI_MAX_OUTPUT_TOKENS: int(32_768, 1, 1_048_576),
  // issue 7: ingress limits, sender controls, reply caps, /metrics protection
  INBOUND_STORE_MAX_BYTES: int(5 * MiB, 1024),
  INBOUND_FORWARD_MAX_BYTES: int(32 * MiB, 1024),
  REQUIRE_SENDER_AUTH: bool(false),
  REPLY_CAP_PER_SENDER: int(20, 0),
  REPLY_CAP_SENDER_WINDOW_S: int(3600, 1),
  REPLY_CAP_PER_THREAD: int(10, 0),
  REPLY_CAP_THREAD_WINDOW_S: int(86_400, 1),
  DAILY_JOB_CAP: int(500, 0),
  METRICS_TOKEN: str(),
  // issue 8: shared ledger, in-doubt sends, push delivery, subscription check
  LEDGER_COLLECTION: str('email-worker-ledger'),
  // Pub/Sub keeps a message at most 7 days: a record must outlive every redelivery of its job.
  LEDGER_RETENTION_DAYS: int(14, 8, 3650),
  MAILGUN_EVENTS_LAG_S: int(300, 0, 3600),
  PUSH_PATH: str('/pubsub/push'),
  PUBSUB_CHECK_SUBSCRIPTION: bool(true),
  // Dead letters are kept only if a subscription on the dead-letter topic exists when they arrive.
  PUBSUB_DEAD_LETTER_SUBSCRIPTION: str(),
  // A job Pub/Sub gave up on (every delivery crashed, or never reached a live worker) tells its sender.
  DEAD_LETTER_NOTICES: bool(true),
  PUBSUB_DEAD_LETTER_NOTICE_SUBSCRIPTION: str(),
  PUSH_DEAD_LETTER_PATH: str('/pubsub/dead-letter'),
});

export interface Config {
  emailProcessingMode: boolean;
  workerMode: 'pull' | 'push';
  workerConcurrency: number;
  port: number;
  logLevel: string;
  projectId: string;
  pubsub: { topic: string; subscription: string; deadLetterTopic: string; maxDeliveryAttempts: number; emulatorHost?: string };
  gemini: { apiKey: string; model: string; baseUrl?: string; standIn: boolean };
  mailgun: { apiKey?: string; domain: string; apiUrl: string; webhookSigningKey?: string };
  mailFrom: string;
  outboxDir: string;
  allowedSenders: string[];
  forwardInlineMaxBytes: number;
  attachments: { maxBytes: number; allowedHosts: string[]; allowPrivate: boolean };
  knowledgeDir?: string;
  quartoPath?: string;
  ledger: 'memory' | 'firestore';
  // issue 8: shared ledger, in-doubt sends, push delivery, subscription check
  /** Firestore ledger: collection and how long records are kept (TTL field `expireAt`). */
  ledgerStore: { collection: string; retentionDays: number };
  /** How long an in-doubt reply is looked for in the provider's records before it is sent again, s. */
  mailEventsLagS: number;
  /** Route Pub/Sub pushes to (WORKER_MODE=push). */
  pushPath: string;
  /** Read the subscription at start-up and warn about settings that break the deadline chain. */
  checkSubscription: boolean;
  /** Subscription on the dead-letter topic that keeps dead letters for `email-worker dlq`. */
  deadLetterSubscription: string;
  /**
   * Dead-letter notices: a second subscription on the dead-letter topic, read by the worker (pull) or
   * pushed to `pushPath` (push), whose messages get the failure email once. Undefined when off.
   */
  deadLetterNotices?: { subscription: string; pushPath: string };
  push: { requireAuth: boolean; audience?: string; serviceAccount?: string };
  timeouts: TimeoutSettings;
  // issue 7: ingress, API keys, /metrics protection
  ingress: { storeMaxBytes: number; forwardMaxBytes: number; requireSenderAuth: boolean; caps: CapLimits };
  apiKeys: ApiKey[];
  metricsToken?: string;
  /** Values that must never appear in logs, mails or documents. */
  secrets: string[];
  // issue 10: Gemini output cap
  /** Tokens one Gemini request may generate (thinking included); a longer answer is cut and says so. */
  geminiMaxOutputTokens: number;
}

/** Parses and validates the environment; throws one EW_ERR_CONFIG_INVALID naming every bad variable. */
export interface LoadConfigOptions {
  /** Check what only a running worker needs (Gemini key, push auth). CLI clients skip it. @defaultValue true */
  worker?: boolean;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: LoadConfigOptions = {}): Config {
  const worker = options.worker ?? true;
  const problems: string[] = [];
  let timeouts: TimeoutSettings | undefined;
  try {
    timeouts = loadTimeoutSettings(env);
  } catch (error) {
    problems.push((error as Error).message);
  }
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.')}: ${issue.message}`);
  }
  if (problems.length || !parsed.success || !timeouts) {
    throw permanent(ErrorCodes.CONFIG_INVALID, `Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
  const e = parsed.data;
  if (worker && !e.GEMINI_API_KEY && !e.GEMINI_BASE_URL) {
    problems.push('GEMINI_API_KEY: required (or set GEMINI_BASE_URL to a compatible server such as the local stand-in)');
  }
  if (e.GEMINI_BASE_URL && !URL.canParse(e.GEMINI_BASE_URL)) problems.push(`GEMINI_BASE_URL: not a URL: "${e.GEMINI_BASE_URL}"`);
  if (!URL.canParse(e.MAILGUN_API_URL!)) problems.push(`MAILGUN_API_URL: not a URL: "${e.MAILGUN_API_URL}"`);
  if (e.MAILGUN_API_KEY && e.MAILGUN_DOMAIN === 'mg.localhost') problems.push('MAILGUN_DOMAIN: required when MAILGUN_API_KEY is set');
  const requireAuth = e.REQUIRE_PUSH_AUTH === undefined || e.REQUIRE_PUSH_AUTH.trim() === ''
    ? Boolean(e.K_SERVICE) && !e.PUBSUB_EMULATOR_HOST
    : isTruthyEnv(e.REQUIRE_PUSH_AUTH);
  if (worker && e.WORKER_MODE === 'push' && requireAuth && !e.PUSH_AUDIENCE) problems.push('PUSH_AUDIENCE: required when REQUIRE_PUSH_AUTH is on');
  // issue 7: without its key the webhook refuses every post (fail closed), so a public push service
  // without it would drop all inbound mail. Pull workers need no key: a worker pool takes no
  // requests, and it is not certain Cloud Run leaves K_SERVICE unset there, so K_SERVICE alone does
  // not require it (a pull worker on a public service refuses webhook posts with 401 `no-key`).
  if (worker && !e.MAILGUN_WEBHOOK_SIGNING_KEY && e.WORKER_MODE === 'push') {
    problems.push('MAILGUN_WEBHOOK_SIGNING_KEY: required in push mode (the Cloud Run service takes the Mailgun webhook); Mailgun shows it under Sending → Webhooks → HTTP webhook signing key');
  }
  let apiKeys: ApiKey[] = [];
  try {
    apiKeys = parseApiKeys(e.API_KEYS);
  } catch (error) {
    problems.push(`API_KEYS: ${(error as Error).message}`);
  }
  if (problems.length) throw permanent(ErrorCodes.CONFIG_INVALID, `Invalid configuration:\n  - ${problems.join('\n  - ')}`);

  const secrets = [e.GEMINI_API_KEY, e.MAILGUN_API_KEY, e.MAILGUN_WEBHOOK_SIGNING_KEY, e.METRICS_TOKEN].filter((s): s is string => Boolean(s));
  return {
    emailProcessingMode: e.EMAIL_PROCESSING_MODE,
    workerMode: e.WORKER_MODE,
    workerConcurrency: e.WORKER_CONCURRENCY,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    projectId: e.GOOGLE_CLOUD_PROJECT!,
    pubsub: {
      topic: e.PUBSUB_TOPIC!,
      subscription: e.PUBSUB_SUBSCRIPTION!,
      deadLetterTopic: e.PUBSUB_DEAD_LETTER_TOPIC!,
      maxDeliveryAttempts: e.PUBSUB_MAX_DELIVERY_ATTEMPTS,
      ...(e.PUBSUB_EMULATOR_HOST ? { emulatorHost: e.PUBSUB_EMULATOR_HOST } : {}),
    },
    gemini: {
      // The stand-in checks that a key is present, like Google's API; it is never a real key.
      apiKey: e.GEMINI_API_KEY ?? 'stand-in-key',
      model: e.GEMINI_MODEL!,
      ...(e.GEMINI_BASE_URL ? { baseUrl: e.GEMINI_BASE_URL } : {}),
      standIn: !e.GEMINI_API_KEY,
    },
    mailgun: {
      ...(e.MAILGUN_API_KEY ? { apiKey: e.MAILGUN_API_KEY } : {}),
      domain: e.MAILGUN_DOMAIN!,
      apiUrl: e.MAILGUN_API_URL!,
      ...(e.MAILGUN_WEBHOOK_SIGNING_KEY ? { webhookSigningKey: e.MAILGUN_WEBHOOK_SIGNING_KEY } : {}),
    },
    mailFrom: e.MAIL_FROM ?? `Email Worker <worker@${e.MAILGUN_DOMAIN}>`,
    outboxDir: resolve(e.OUTBOX_DIR!),
    allowedSenders: e.ALLOWED_SENDERS,
    forwardInlineMaxBytes: e.FORWARD_INLINE_MAX_BYTES,
    attachments: { maxBytes: e.ATTACHMENT_MAX_BYTES, allowedHosts: e.ATTACHMENT_ALLOWED_HOSTS, allowPrivate: e.ATTACHMENT_ALLOW_PRIVATE },
    ...(e.KNOWLEDGE_DIR ? { knowledgeDir: resolve(e.KNOWLEDGE_DIR) } : {}),
    ...(e.QUARTO_PATH ? { quartoPath: e.QUARTO_PATH } : {}),
    ledger: e.LEDGER,
    ledgerStore: { collection: e.LEDGER_COLLECTION!, retentionDays: e.LEDGER_RETENTION_DAYS },
    mailEventsLagS: e.MAILGUN_EVENTS_LAG_S,
    pushPath: e.PUSH_PATH!,
    checkSubscription: e.PUBSUB_CHECK_SUBSCRIPTION,
    deadLetterSubscription: e.PUBSUB_DEAD_LETTER_SUBSCRIPTION ?? `${e.PUBSUB_DEAD_LETTER_TOPIC}-sub`,
    ...(e.DEAD_LETTER_NOTICES
      ? { deadLetterNotices: { subscription: e.PUBSUB_DEAD_LETTER_NOTICE_SUBSCRIPTION ?? `${e.PUBSUB_DEAD_LETTER_TOPIC}-notice`, pushPath: e.PUSH_DEAD_LETTER_PATH! } }
      : {}),
    push: {
      requireAuth,
      ...(e.PUSH_AUDIENCE ? { audience: e.PUSH_AUDIENCE } : {}),
      ...(e.PUSH_SERVICE_ACCOUNT ? { serviceAccount: e.PUSH_SERVICE_ACCOUNT } : {}),
    },
    timeouts,
    ingress: {
      storeMaxBytes: e.INBOUND_STORE_MAX_BYTES,
      forwardMaxBytes: e.INBOUND_FORWARD_MAX_BYTES,
      requireSenderAuth: e.REQUIRE_SENDER_AUTH,
      caps: {
        perSender: e.REPLY_CAP_PER_SENDER,
        senderWindowMs: e.REPLY_CAP_SENDER_WINDOW_S * 1000,
        perThread: e.REPLY_CAP_PER_THREAD,
        threadWindowMs: e.REPLY_CAP_THREAD_WINDOW_S * 1000,
        perDay: e.DAILY_JOB_CAP,
      },
    },
    apiKeys,
    ...(e.METRICS_TOKEN ? { metricsToken: e.METRICS_TOKEN } : {}),
    secrets,
    // issue 10: Gemini output cap
    geminiMaxOutputTokens: e.GEMINI_MAX_OUTPUT_TOKENS,
  };
}
