/**
 * The Mailgun transport, on the official mailgun.js SDK.
 *
 * Timeouts. mailgun.js (14.x, axios inside) has no per-request AbortSignal, only a client-level
 * `timeout`. So each call gets its own client whose `timeout` is the attempt's time budget
 * (`SendOptions.timeoutMs`): axios then really ends the request when the attempt ends, instead of
 * leaving it to finish in the background. The attempt signal is also raced (aggressive timeout) so
 * that an abort for another reason — the job deadline, a shutdown — returns at once; the request
 * itself then still runs until its own `timeout` at most. Building a client is cheap (a few objects).
 *
 * Errors. mailgun.js turns every failure into a `MailgunAPIError`; one without an HTTP answer gets
 * `status: 400`, the axios error code as `message` (`ECONNRESET`, `ECONNABORTED` for a timeout,
 * `ECONNREFUSED`…) and the socket message as `details`. A real 400 has the status text as
 * `message` (`Bad Request`) and Mailgun's explanation as `details`. {@link classifyMailgunError}
 * tells them apart by that message:
 * - no connection made (`ECONNREFUSED`, `ENOTFOUND`, `EAI_AGAIN`, `ENETUNREACH`, `EHOSTUNREACH`):
 *   nothing was sent, retryable `EW_ERR_NETWORK`;
 * - any other network failure (reset, timeout, dropped response): the request may have been
 *   written and accepted — retryable `EW_ERR_SEND_OUTCOME_UNKNOWN`, which `sendExactlyOnce` checks
 *   against the events API before sending again;
 * - 408, 429, 5xx: retryable `EW_ERR_UPSTREAM_HTTP`; 401, 403 and every other 4xx (a real 400):
 *   permanent `EW_ERR_SEND_REJECTED`.
 * `Retry-After` cannot be honoured: mailgun.js drops the response headers when it builds its error,
 * so a 429 waits the computed backoff.
 *
 * The API key never appears in an error message or log line from here: it is cut out of every
 * text taken from an error.
 */
import { readFile } from 'node:fs/promises';
import FormData from 'form-data';
import Mailgun from 'mailgun.js';
import type { Logger } from 'winston';
import { ErrorCodes, isWorkerError, permanent, retryable, type WorkerError } from '../errors.ts';
import { isRetryableStatus } from '../resilience/classify.ts';
import { abortReason } from '../resilience/deadline.ts';
import type { ComposedReply } from './compose.ts';
import type { LookupOptions, MailTransport, SendOptions, SendResult } from './types.ts';

export interface MailgunTransportOptions {
  /** MAILGUN_API_KEY. */
  apiKey: string;
  /** MAILGUN_DOMAIN: the sending domain (`/v3/{domain}/messages`). */
  domain: string;
  /** MAILGUN_API_URL (EU: https://api.eu.mailgun.net; tests: a loopback stand-in). @defaultValue 'https://api.mailgun.net' */
  url?: string;
  /** Request timeout when a send or lookup brings no `timeoutMs`, ms (the email profile's mailgunApi). @defaultValue 120000 */
  defaultTimeoutMs?: number;
  /** Debug and warning lines. @defaultValue no logging */
  logger?: Logger;
}

export const SEND_OPERATION = 'mailgun.send';
export const LOOKUP_OPERATION = 'mailgun.events';

const DEFAULT_URL = 'https://api.mailgun.net';
const DEFAULT_TIMEOUT_MS = 120_000;

/** axios codes meaning no connection was made: the request cannot have reached Mailgun. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'EADDRNOTAVAIL']);
/** axios codes for a bad client setup (e.g. a malformed MAILGUN_API_URL): no retry can fix them. */
const MISCONFIGURED = new Set(['ERR_INVALID_URL', 'ERR_BAD_OPTION', 'ERR_BAD_OPTION_VALUE', 'ERR_NOT_SUPPORT']);
/** An error code where mailgun.js puts a status text: `ECONNRESET`, `ERR_CANCELED`, `UND_ERR_SOCKET`… */
const ERROR_CODE = /^(?:E[A-Z0-9]+|ERR_[A-Z0-9_]+|UND_ERR_[A-Z0-9_]+)$/;
/** Socket messages of a failure that had no code (rare). */
const SOCKET_MESSAGE = /socket hang up|ECONNRESET|EPIPE|timeout of \d+ms exceeded|terminated|aborted|network error/i;

interface MailgunApiErrorShape {
  type: 'MailgunAPIError';
  status: number;
  message: string;
  details: unknown;
}

function isMailgunApiError(error: unknown): error is MailgunApiErrorShape {
  return typeof error === 'object' && error !== null && (error as { type?: unknown }).type === 'MailgunAPIError';
}

export interface ClassifyMailgunOptions {
  /** `send`: a failure after connecting leaves the outcome unknown; `lookup`: a read, simply retryable. */
  kind: 'send' | 'lookup';
  operation: string;
  /** Cut out of every text taken from the error. */
  apiKey?: string;
}

/** Maps anything mailgun.js (or reading an attachment) throws to a WorkerError; see the module comment. */
export function classifyMailgunError(error: unknown, options: ClassifyMailgunOptions): WorkerError {
  if (isWorkerError(error)) return error;
  const { operation } = options;
  const scrub = (s: string) => (options.apiKey && options.apiKey.length >= 4 ? s.split(options.apiKey).join('[REDACTED]') : s);
  if (isMailgunApiError(error)) {
    const status = error.status;
    const text = scrub(String(error.message ?? ''));
    const details = scrub(typeof error.details === 'string' ? error.details : error.details === undefined ? '' : JSON.stringify(error.details)).slice(0, 500);
    const networkCode = status === 400 && ERROR_CODE.test(text) ? text : status === 400 && text === '' && SOCKET_MESSAGE.test(details) ? 'ESOCKET' : undefined;
    if (networkCode) {
      const facts = { operation, networkCode, detail: details };
      if (MISCONFIGURED.has(networkCode)) {
        return permanent(ErrorCodes.CONFIG_INVALID, `${operation}: the Mailgun client could not make the request (${networkCode}: ${details})`, { cause: error, details: facts });
      }
      if (NOT_CONNECTED.has(networkCode) || options.kind === 'lookup') {
        return retryable(ErrorCodes.NETWORK, `${operation}: network error ${networkCode} (${details})`, { cause: error, details: facts });
      }
      return retryable(
        ErrorCodes.SEND_OUTCOME_UNKNOWN,
        `${operation}: network error ${networkCode} (${details}) after the request may have reached Mailgun; outcome unknown`,
        { cause: error, details: facts },
      );
    }
    const message = `${operation}: Mailgun answered HTTP ${status}${details ? ` (${details})` : text ? ` (${text})` : ''}`;
    if (isRetryableStatus(status)) return retryable(ErrorCodes.UPSTREAM_HTTP, message, { cause: error, status, details: { operation } });
    return permanent(options.kind === 'send' ? ErrorCodes.SEND_REJECTED : ErrorCodes.UPSTREAM_HTTP, message, { cause: error, status, details: { operation } });
  }
  const errno = (error as NodeJS.ErrnoException | undefined)?.code;
  const text = scrub(error instanceof Error ? error.message : String(error));
  // Reading an attachment, building the form: our side; no retry will change it.
  return permanent(ErrorCodes.INVALID_ARGUMENT, `${operation}: ${text}`, { cause: error, details: { operation, ...(errno ? { errno } : {}) } });
}

/** Resolves or rejects with `promise`, or rejects with `onAbort()` as soon as `signal` aborts. */
function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined, onAbort: () => unknown): Promise<T> {
  if (!signal) return promise;
  // The SDK's promise may settle after we stopped waiting; never let it become an unhandled rejection.
  promise.catch(() => {});
  if (signal.aborted) return Promise.reject(onAbort());
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(onAbort());
    signal.addEventListener('abort', abort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', abort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', abort);
        reject(error);
      },
    );
  });
}

/** Message-IDs as the events API stores them: without angle brackets. */
export function bareMessageId(messageId: string): string {
  return messageId.trim().replace(/^<|>$/g, '');
}

export function createMailgunTransport(options: MailgunTransportOptions): MailTransport {
  const { apiKey, domain } = options;
  if (!apiKey) throw new TypeError('Expected `apiKey` (MAILGUN_API_KEY) to be set.');
  if (!domain) throw new TypeError('Expected `domain` (MAILGUN_DOMAIN) to be set.');
  const url = (options.url ?? DEFAULT_URL).replace(/\/+$/, '');
  const defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const log = options.logger?.child({ component: 'mailgun' });
  const mailgun = new Mailgun(FormData);

  const client = (timeoutMs: number | undefined) => {
    const mg = mailgun.client({ username: 'api', key: apiKey, url, timeout: Math.max(1, Math.ceil(timeoutMs ?? defaultTimeoutMs)) });
    // events.get warns on every call that it is deprecated, straight to console; keep it in our log.
    (mg.events as unknown as { logger: { warn(message: string): void } }).logger = { warn: (message) => log?.debug(message.trim()) };
    return mg;
  };

  return {
    kind: 'mailgun',

    async send(reply: ComposedReply, { signal, timeoutMs }: SendOptions): Promise<SendResult> {
      if (signal.aborted) throw abortReason(signal, SEND_OPERATION);
      try {
        const attachment = await Promise.all(
          reply.attachments.map(async (a) => ({
            filename: a.filename,
            contentType: a.contentType,
            data: a.content ?? (await readFile(a.path ?? '', { signal })),
          })),
        );
        const headers = Object.fromEntries(Object.entries(reply.headers).map(([name, value]) => [`h:${name}`, value]));
        const request = client(timeoutMs).messages.create(domain, {
          from: reply.from,
          to: reply.to,
          subject: reply.subject,
          text: reply.text,
          html: reply.html,
          // Our own id, so a lost answer can be looked up in the events API (outcome unknown).
          'h:Message-Id': reply.messageId,
          ...headers,
          ...(attachment.length ? { attachment } : {}),
        });
        const result = await raceSignal(request, signal, () =>
          retryable(ErrorCodes.SEND_OUTCOME_UNKNOWN, `${SEND_OPERATION}: stopped waiting for Mailgun's answer; outcome unknown`, {
            cause: signal.reason,
            details: { operation: SEND_OPERATION, messageId: reply.messageId },
          }),
        );
        log?.debug('Mailgun accepted the reply', { messageId: reply.messageId, id: result.id, status: result.status });
        return { id: result.id ?? reply.messageId, status: 'sent' };
      } catch (error) {
        // Aborted before the request went out (e.g. while reading an attachment): nothing was sent.
        if (signal.aborted && !isWorkerError(error) && !isMailgunApiError(error)) throw abortReason(signal, SEND_OPERATION);
        throw classifyMailgunError(error, { kind: 'send', operation: SEND_OPERATION, apiKey });
      }
    },

    async wasAccepted(messageId: string, lookup: LookupOptions = {}): Promise<boolean> {
      const id = bareMessageId(messageId);
      try {
        if (lookup.signal?.aborted) throw abortReason(lookup.signal, LOOKUP_OPERATION);
        const request = client(lookup.timeoutMs).events.get(domain, { 'message-id': id, event: 'accepted', limit: 25 });
        const list = await raceSignal(request, lookup.signal, () => abortReason(lookup.signal!, LOOKUP_OPERATION));
        // Check the id ourselves too: a filter the API ignored must not read as "accepted".
        const accepted = list.items.some((item) => {
          const event = item as unknown as { event?: unknown; message?: { headers?: Record<string, unknown> } };
          const header = event.message?.headers?.['message-id'];
          return event.event === 'accepted' && typeof header === 'string' && bareMessageId(header) === id;
        });
        log?.debug('Mailgun events lookup', { messageId, accepted, events: list.items.length });
        return accepted;
      } catch (error) {
        throw classifyMailgunError(error, { kind: 'lookup', operation: LOOKUP_OPERATION, apiKey });
      }
    },
  };
}
