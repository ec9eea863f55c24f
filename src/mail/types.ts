/**
 * What every reply transport offers (Mailgun, the `.eml` outbox): send one composed reply, and say
 * whether a Message-ID was already accepted — the question asked before any resend whose outcome
 * is unknown (SPEC §2.5, §3.3).
 */
import type { ComposedReply } from './compose.ts';

export interface SendResult {
  /** The provider's id for the message (Mailgun's `id`), or our Message-ID. */
  id: string;
  /** `already-sent`: the provider had this Message-ID already; nothing was sent now. */
  status: 'sent' | 'already-sent';
  /** The file written (outbox only). */
  path?: string;
}

export interface SendOptions {
  /** The attempt's signal (min of attempt timeout and job deadline). The send stops when it aborts. */
  signal: AbortSignal;
  /**
   * Time this attempt may take, ms. Lets a transport whose client only has a fixed timeout (mailgun.js)
   * bound the request itself, not just stop waiting for it. @defaultValue the transport's own default
   */
  timeoutMs?: number;
}

export interface LookupOptions {
  /** Stops the lookup. @defaultValue none */
  signal?: AbortSignal;
  /** Time the lookup may take, ms. @defaultValue the transport's own default */
  timeoutMs?: number;
}

export interface MailTransport {
  /** Which transport this is, for logs. */
  readonly kind: 'mailgun' | 'outbox';
  /** Sends `reply` once. Throws a WorkerError (retryable or not). */
  send(reply: ComposedReply, options: SendOptions): Promise<SendResult>;
  /** Whether the provider already accepted a message with this Message-ID (`<…>` or bare). */
  wasAccepted(messageId: string, options?: LookupOptions): Promise<boolean>;
}
