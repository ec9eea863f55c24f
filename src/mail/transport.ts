/**
 * Picks the reply transport from the configuration: Mailgun when MAILGUN_API_KEY is set, else the
 * `.eml` outbox in OUTBOX_DIR (SPEC §3.2 step 7). Both send what `composeReply` builds.
 */
import type { Logger } from 'winston';
import { createMailgunTransport } from './mailgun.ts';
import { createOutboxTransport } from './outbox.ts';
import type { MailTransport } from './types.ts';

export type { LookupOptions, MailTransport, SendOptions, SendResult } from './types.ts';

export interface TransportConfig {
  /** MAILGUN_API_KEY; without it, replies go to the outbox. @defaultValue unset */
  mailgunApiKey?: string;
  /** MAILGUN_DOMAIN. */
  mailgunDomain: string;
  /** MAILGUN_API_URL. @defaultValue 'https://api.mailgun.net' */
  mailgunApiUrl?: string;
  /** OUTBOX_DIR. */
  outboxDir: string;
  /** Passed to the transport. @defaultValue no logging */
  logger?: Logger;
}

export function createTransport(config: TransportConfig): MailTransport {
  const logger = config.logger ? { logger: config.logger } : {};
  if (config.mailgunApiKey) {
    return createMailgunTransport({
      apiKey: config.mailgunApiKey,
      domain: config.mailgunDomain,
      ...(config.mailgunApiUrl ? { url: config.mailgunApiUrl } : {}),
      ...logger,
    });
  }
  return createOutboxTransport({ dir: config.outboxDir, ...logger });
}
