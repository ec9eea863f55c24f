/**
 * Shapes of the attachment step (SPEC §3.1, §3.2 step 3): what a job carries, what the step returns.
 */
import type { Logger } from 'winston';
import type { WorkerError } from '../errors.ts';
import type { Deadline } from '../resilience/deadline.ts';
import type { GiveUpEvent, RetryEvent, RetryPolicy } from '../resilience/retry.ts';

/** One attachment of a job: a URL to fetch (Mailgun `store()`), or bytes inlined as base64 (`forward()`). */
export type JobAttachment = { name: string; contentType?: string; size?: number } & ({ url: string } | { base64: string });

/** The outcome for one attachment. A failure never fails the job; `reason` goes into the reply. */
export type AttachmentResult =
  | { name: string; contentType: string; ok: true; path: string; bytes: number }
  | {
      name: string;
      contentType: string;
      ok: false;
      error: WorkerError;
      /** Short and plain, for the reply: 'larger than the 25 MiB limit', 'host not allowed'… */
      reason: string;
    };

/** One resolved address, as `dns.promises.lookup(host, { all: true })` returns it. */
export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolves a host name to all its addresses. */
export type HostResolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface DownloadAttachmentsOptions {
  /** Per-job temp directory, created (and removed) by the caller. */
  dir: string;
  /** The job (or answer) deadline; no download outlives it. */
  deadline: Deadline;
  /** Retry policy of the context (attempts, min/max wait). */
  policy: RetryPolicy;
  /** Whole budget of one file, retries included (profile `attachmentDownload`), ms. */
  perFileTimeoutMs: number;
  /** Time to the response headers (profile `httpRead`), ms. */
  headersTimeoutMs: number;
  /** Longest silence between body chunks (profile `httpRead`), ms. */
  bodyTimeoutMs: number;
  /** Time to establish the TCP/TLS connection, ms. @defaultValue undici's 10 000 */
  connectTimeoutMs?: number;
  /** Size cap per file (ATTACHMENT_MAX_BYTES). @defaultValue 25 MiB */
  maxBytes?: number;
  /** Hosts files may come from: `host` (exact) or `*.suffix` (any subdomain). @defaultValue {@link DEFAULT_ALLOWED_HOSTS} */
  allowedHosts?: readonly string[];
  /** Permit loopback/private targets and plain `http` (local runs and tests only). Link-local stays refused. @defaultValue false */
  allowPrivate?: boolean;
  /** Sent as Basic auth `api:<key>` only to Mailgun origins. @defaultValue none */
  mailgunApiKey?: string;
  /** The configured Mailgun API origin; it receives the key too. @defaultValue none */
  mailgunApiUrl?: string;
  /** Files downloaded at the same time. @defaultValue 2 */
  concurrency?: number;
  /** DNS resolution, for tests that map names to loopback. @defaultValue `dns.promises.lookup(host, { all: true })` */
  resolve?: HostResolver;
  /** Where progress and failures are logged. @defaultValue silent */
  logger?: Logger;
  /** Retry hook (logs and metrics). */
  onRetry?: (event: RetryEvent) => void;
  /** Give-up hook (logs and metrics). */
  onGiveUp?: (event: GiveUpEvent) => void;
}
