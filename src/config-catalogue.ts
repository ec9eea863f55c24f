/**
 * Every environment variable the code reads, once: name, default, meaning, whether it is a secret
 * and who sets it. `.env.example`, `docs/configuration.md` and `email-worker explain --variables`
 * come from here, and tests fail when the code reads a variable this list lacks, when this list
 * names one the code never reads, or when `.env.example` or the doc disagrees with it
 * (`src/config-catalogue.test.ts`, `src/cli/config-doc.test.ts`).
 *
 * Adding a variable: one entry here (and its line in `.env.example`), then `npm run docs:config`.
 */
import { EMAIL_API_PROFILE, UI_DERIVED, UI_PROFILE } from './timeouts/profiles.ts';
import { DEFAULT_CLOUD_RUN_TIMEOUT_S, DEFAULT_SHUTDOWN_GRACE_S, envKeyOf, overrideVariable, PROFILE_KEYS, unitOf } from './timeouts/settings.ts';

export const CONFIG_GROUPS = ['Mode', 'Pub/Sub', 'Gemini', 'Mail', 'Ingress and caps', 'Attachments', 'Context and export', 'Ledger', 'Push delivery and API', 'Timeouts', 'Development', 'Platform'] as const;
export type ConfigGroup = (typeof CONFIG_GROUPS)[number];

export interface ConfigVariable {
  name: string;
  group: ConfigGroup;
  /** The default as written in `.env.example`; empty = unset (the description says what unset means). */
  default: string;
  description: string;
  /** Never logged, mailed or exported; in production from Secret Manager. @defaultValue false */
  secret?: boolean;
  /**
   * Who sets it: `operator` (listed in `.env.example`), `platform` (Cloud Run, the OS or a client
   * library; documented, not listed) or `dev` (local tools only; listed). @defaultValue 'operator'
   */
  setBy?: 'operator' | 'platform' | 'dev';
  /** A `TIMEOUT_*` override generated from the timeout engine's profile keys. */
  family?: 'TIMEOUT_<KEY>' | 'TIMEOUT_UI_<KEY>';
}

const MiB = 1024 * 1024;

const VARIABLES: readonly ConfigVariable[] = [
  // ── Mode
  { name: 'EMAIL_PROCESSING_MODE', group: 'Mode', default: '', description: 'Truthy (1, true, yes, on) selects the extended email/API timeout profile for everything this process does. Production sets `true`.' },
  { name: 'WORKER_MODE', group: 'Mode', default: 'pull', description: '`pull` (streaming pull: Cloud Run worker pool or an always-on instance) or `push` (`POST /pubsub/push` on a Cloud Run service).' },
  { name: 'WORKER_CONCURRENCY', group: 'Mode', default: '4', description: 'Jobs processed at once by one instance (Pub/Sub flow control in pull mode).' },
  { name: 'PORT', group: 'Mode', default: '8080', description: 'HTTP port (Cloud Run sets it).' },
  { name: 'LOG_LEVEL', group: 'Mode', default: 'info', description: 'Least severe level logged: debug, info, notice, warning, error, critical.' },
  // ── Pub/Sub
  { name: 'GOOGLE_CLOUD_PROJECT', group: 'Pub/Sub', default: 'demo-local', description: 'Project of the topic, subscription, Firestore database and trace links.' },
  { name: 'PUBSUB_TOPIC', group: 'Pub/Sub', default: 'email-worker-jobs', description: 'Topic jobs are published to.' },
  { name: 'PUBSUB_SUBSCRIPTION', group: 'Pub/Sub', default: 'email-worker-jobs-worker', description: 'Subscription the pull worker reads.' },
  { name: 'PUBSUB_DEAD_LETTER_TOPIC', group: 'Pub/Sub', default: 'email-worker-jobs-dead', description: 'Dead-letter topic of the subscription.' },
  { name: 'PUBSUB_MAX_DELIVERY_ATTEMPTS', group: 'Pub/Sub', default: '5', description: "Deliveries before dead-lettering (Pub/Sub allows 5–100); must equal the subscription's `max_delivery_attempts`. The last one answers with a failure email." },
  { name: 'PUBSUB_DEAD_LETTER_SUBSCRIPTION', group: 'Pub/Sub', default: 'email-worker-jobs-dead-sub', description: 'Subscription on the dead-letter topic that keeps dead letters for `email-worker dlq list|replay` (default `<PUBSUB_DEAD_LETTER_TOPIC>-sub`).' },
  { name: 'DEAD_LETTER_NOTICES', group: 'Pub/Sub', default: 'true', description: 'Send the failure email for jobs Pub/Sub dead-letters (every delivery crashed, or none reached a live worker), once, without running them again. Reads PUBSUB_DEAD_LETTER_NOTICE_SUBSCRIPTION (pull) or takes pushes on PUSH_DEAD_LETTER_PATH (push).' },
  { name: 'PUBSUB_DEAD_LETTER_NOTICE_SUBSCRIPTION', group: 'Pub/Sub', default: 'email-worker-jobs-dead-notice', description: 'Subscription on the dead-letter topic the pull worker reads for dead-letter notices (default `<PUBSUB_DEAD_LETTER_TOPIC>-notice`); separate from PUBSUB_DEAD_LETTER_SUBSCRIPTION, which keeps every dead letter for inspection.' },
  { name: 'PUBSUB_CHECK_SUBSCRIPTION', group: 'Pub/Sub', default: 'true', description: 'Read the subscription at start-up and warn (log, /readyz details) when its dead-letter, ack or retry settings break the deadline chain; needs pubsub.subscriptions.get.' },
  { name: 'PUBSUB_EMULATOR_HOST', group: 'Pub/Sub', default: '', description: 'host:port of the local emulator; when set, missing topic, subscription and dead-letter topic are created.' },
  // ── Gemini
  { name: 'GEMINI_API_KEY', group: 'Gemini', default: '', secret: true, description: 'Gemini API key. Required unless GEMINI_BASE_URL points at a compatible server (e.g. the local stand-in).' },
  { name: 'GEMINI_MODEL', group: 'Gemini', default: 'gemini-2.5-flash', description: 'Model answering the jobs.' },
  { name: 'GEMINI_BASE_URL', group: 'Gemini', default: '', description: "Base URL of a Gemini-compatible API (the SDK talks to it unchanged). Empty = Google's API." },
  { name: 'GEMINI_MAX_OUTPUT_TOKENS', group: 'Gemini', default: '32768', description: 'Tokens one Gemini request may generate (1 … 1048576), so one job cannot run up the bill; a retried stream starts over, so a job is capped at retryAttempts × this. An answer that reaches it is sent with a note that it was cut.' },
  // ── Mail
  { name: 'MAILGUN_API_KEY', group: 'Mail', default: '', secret: true, description: 'Mailgun API key. Without it, replies are written as RFC 5322 `.eml` files to OUTBOX_DIR.' },
  { name: 'MAILGUN_DOMAIN', group: 'Mail', default: 'mg.localhost', description: 'Sending domain; also the domain of reply Message-IDs.' },
  { name: 'MAILGUN_API_URL', group: 'Mail', default: 'https://api.mailgun.net', description: 'Mailgun API base (https://api.eu.mailgun.net for EU domains).' },
  { name: 'MAILGUN_WEBHOOK_SIGNING_KEY', group: 'Mail', default: '', secret: true, description: 'Verifies inbound webhooks (HMAC-SHA256). Required in push mode (the service takes the webhook); without it every webhook post is refused (401).' },
  { name: 'MAIL_FROM', group: 'Mail', default: '', description: 'From of replies. Default: `Email Worker <worker@MAILGUN_DOMAIN>`.' },
  { name: 'OUTBOX_DIR', group: 'Mail', default: './outbox', description: 'Where `.eml` replies go without MAILGUN_API_KEY.' },
  { name: 'ALLOWED_SENDERS', group: 'Mail', default: '*', description: 'Who may send jobs: addresses, @domain, or *.' },
  { name: 'FORWARD_INLINE_MAX_BYTES', group: 'Mail', default: String(7 * MiB), description: 'forward() attachments inlined in the job, in total (7 MiB is also the maximum: base64 makes it 9.3 MiB and a job must fit one Pub/Sub message); later ones are named in the reply with the advice to use store().' },
  // ── Ingress and caps
  { name: 'INBOUND_STORE_MAX_BYTES', group: 'Ingress and caps', default: String(5 * MiB), description: 'Body limit of store() webhook posts (urlencoded); 413 beyond it, the rest is not read.' },
  { name: 'INBOUND_FORWARD_MAX_BYTES', group: 'Ingress and caps', default: String(32 * MiB), description: "Body limit of forward() webhook posts (multipart: Mailgun's 25 MB message plus overhead); 413 beyond it." },
  { name: 'REQUIRE_SENDER_AUTH', group: 'Ingress and caps', default: 'false', description: "true: ALLOWED_SENDERS trusts a From only when Mailgun's X-Mailgun-Spf or X-Mailgun-Dkim-Check-Result says Pass." },
  { name: 'REPLY_CAP_PER_SENDER', group: 'Ingress and caps', default: '20', description: 'Replies to one sender per REPLY_CAP_SENDER_WINDOW_S (0 = off); over it: 200 `ignored`, logged and counted.' },
  { name: 'REPLY_CAP_SENDER_WINDOW_S', group: 'Ingress and caps', default: '3600', description: 'Window of the per-sender cap (s).' },
  { name: 'REPLY_CAP_PER_THREAD', group: 'Ingress and caps', default: '10', description: 'Replies in one thread per REPLY_CAP_THREAD_WINDOW_S (0 = off): two bots answering each other stop here.' },
  { name: 'REPLY_CAP_THREAD_WINDOW_S', group: 'Ingress and caps', default: '86400', description: 'Window of the per-thread cap (s).' },
  { name: 'DAILY_JOB_CAP', group: 'Ingress and caps', default: '500', description: 'Jobs per UTC day for the whole service, mail and API (0 = off).' },
  { name: 'METRICS_TOKEN', group: 'Ingress and caps', default: '', secret: true, description: 'When set, GET /metrics needs `Authorization: Bearer <token>` (set it in production: the ingress URL is public).' },
  // ── Attachments
  { name: 'ATTACHMENT_MAX_BYTES', group: 'Attachments', default: String(25 * MiB), description: 'Largest attachment downloaded (25 MiB), enforced while streaming.' },
  { name: 'ATTACHMENT_ALLOWED_HOSTS', group: 'Attachments', default: '', description: 'Hosts attachments may come from: comma-separated hosts or *.suffix. Default: Mailgun storage hosts.' },
  { name: 'ATTACHMENT_ALLOW_PRIVATE', group: 'Attachments', default: 'false', description: 'true only for local runs and tests: allows loopback/private targets and plain http for allowlisted hosts. Link-local addresses (the metadata server) are refused regardless.' },
  // ── Context and export
  { name: 'KNOWLEDGE_DIR', group: 'Context and export', default: '', description: 'Optional folder of Markdown knowledge (loaded under T1–T5).' },
  { name: 'QUARTO_PATH', group: 'Context and export', default: '', description: 'Quarto binary. Default: `quarto` on PATH, else the built-in engine (pandoc-wasm for html and docx, Typst for pdf); a failed Quarto render falls back to it.' },
  // ── Ledger
  { name: 'LEDGER', group: 'Ledger', default: 'memory', description: 'Idempotency ledger and ingress store: `memory` (one process; local default) or `firestore` (shared by every instance; production).' },
  { name: 'LEDGER_COLLECTION', group: 'Ledger', default: 'email-worker-ledger', description: 'Firestore collection of the job ledger (LEDGER=firestore); its TTL field is `expireAt`.' },
  { name: 'LEDGER_RETENTION_DAYS', group: 'Ledger', default: '14', description: "Days a ledger record is kept after its last write (Firestore TTL); at least 8, so a record outlives Pub/Sub's 7-day message retention." },
  { name: 'MAILGUN_EVENTS_LAG_S', group: 'Ledger', default: '300', description: "Seconds an in-doubt reply is looked for in Mailgun's events before it is sent again (scaled by TIMEOUT_SCALE); see docs/delivery.md." },
  { name: 'FIRESTORE_EMULATOR_HOST', group: 'Ledger', default: '', description: 'host:port of the local Firestore emulator; the Firestore client then needs no credentials.' },
  // ── Push delivery and API
  { name: 'PUSH_PATH', group: 'Push delivery and API', default: '/pubsub/push', description: 'Route Pub/Sub pushes arrive at (WORKER_MODE=push).' },
  { name: 'PUSH_DEAD_LETTER_PATH', group: 'Push delivery and API', default: '/pubsub/dead-letter', description: 'Route the dead-letter notice push subscription delivers to (WORKER_MODE=push).' },
  { name: 'PUSH_AUDIENCE', group: 'Push delivery and API', default: '', description: "Audience the push subscription's OIDC token must carry (WORKER_MODE=push)." },
  { name: 'PUSH_SERVICE_ACCOUNT', group: 'Push delivery and API', default: '', description: 'Service account the push OIDC token must be issued for.' },
  { name: 'REQUIRE_PUSH_AUTH', group: 'Push delivery and API', default: '', description: 'Verify push OIDC tokens. Default: true when K_SERVICE is set and no emulator is configured.' },
  { name: 'API_KEYS', group: 'Push delivery and API', default: '', description: 'API keys as `<sha256 hex of key>:<tier>`, comma-separated.' },
  // ── Timeouts (platform figures; the profile overrides are generated below)
  { name: 'CLOUD_RUN_TIMEOUT_S', group: 'Timeouts', default: String(DEFAULT_CLOUD_RUN_TIMEOUT_S), description: "Cloud Run request timeout (s) the deadline chain is checked against; must equal the service's timeout." },
  { name: 'SHUTDOWN_GRACE_S', group: 'Timeouts', default: String(DEFAULT_SHUTDOWN_GRACE_S), description: "Drain time on SIGTERM (s), inside Cloud Run's 10 s window." },
  { name: 'TIMEOUT_SCALE', group: 'Timeouts', default: '1', description: 'Multiplies every duration the product sets itself (tests and benchmarks use e.g. 0.01). Never in production.' },
  // ── Development
  { name: 'EMAIL_WORKER_URL', group: 'Development', default: '', setBy: 'dev', description: '`email-worker send`: base URL of the running worker. Default: http://127.0.0.1:PORT.' },
  { name: 'DEMO_TO', group: 'Development', default: '', setBy: 'dev', description: '`npm run demo` with real Mailgun: the address the sample email comes from, so the reply reaches you. Default: alice@example.com.' },
  // ── Platform (read, never set by the operator)
  { name: 'K_SERVICE', group: 'Platform', default: '', setBy: 'platform', description: 'Set by Cloud Run; its presence turns REQUIRE_PUSH_AUTH on by default.' },
  { name: 'METADATA_SERVER_DETECTION', group: 'Platform', default: '', setBy: 'platform', description: "Google auth library: set to `none` by the code when an emulator is configured, so no metadata lookup is tried." },
  { name: 'PATH', group: 'Platform', default: '', setBy: 'platform', description: 'Where `quarto` is looked up when QUARTO_PATH is unset.' },
  { name: 'TMPDIR', group: 'Platform', default: '', setBy: 'platform', description: 'Temporary directory of Quarto runs (OS default).' },
];

function secondsWord(key: (typeof PROFILE_KEYS)[number]): string {
  const unit = unitOf(key);
  return unit === 'attempts' ? 'total attempts' : unit;
}

/** `TIMEOUT_<KEY>` (email/api) and `TIMEOUT_UI_<KEY>` (ui), one per profile key of the timeout engine. */
function timeoutOverrides(): ConfigVariable[] {
  const email = PROFILE_KEYS.map((key): ConfigVariable => ({
    name: overrideVariable('email/api', key),
    group: 'Timeouts',
    default: String(EMAIL_API_PROFILE[key]),
    description: `email/api profile \`${key}\` (${secondsWord(key)}).`,
    family: 'TIMEOUT_<KEY>',
  }));
  const ui = PROFILE_KEYS.map((key): ConfigVariable => {
    const follows = UI_DERIVED[key];
    return {
      name: overrideVariable('ui', key),
      group: 'Timeouts',
      default: follows ? '' : String(UI_PROFILE[key]),
      description: `ui profile \`${key}\` (${secondsWord(key)})${follows ? `; unset, it follows TIMEOUT_UI_${envKeyOf(follows)}` : ''}.`,
      family: 'TIMEOUT_UI_<KEY>',
    };
  });
  return [...email, ...ui];
}

/** The catalogue, in document order. */
export const CONFIG_CATALOGUE: readonly ConfigVariable[] = Object.freeze([...VARIABLES, ...timeoutOverrides()]);

/** Variables an operator may set (what `.env.example` lists), families included. */
export function operatorVariables(): ConfigVariable[] {
  return CONFIG_CATALOGUE.filter((v) => (v.setBy ?? 'operator') !== 'platform');
}

/** Names of the secrets (Secret Manager in production). */
export function secretVariables(): string[] {
  return CONFIG_CATALOGUE.filter((v) => v.secret).map((v) => v.name);
}
