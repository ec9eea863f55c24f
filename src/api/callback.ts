/**
 * POSTs an API job's result to its `callbackUrl`, retried per the api profile inside the job's
 * deadline. Only https (plain http and loopback/private targets only when local runs allow it,
 * ATTACHMENT_ALLOW_PRIVATE); link-local (metadata server) never. The connection goes to the
 * addresses checked (pinned lookup), so DNS cannot swap the target between check and connect.
 */
import ipaddr from 'ipaddr.js';
import { ErrorCodes, permanent, retryable } from '../errors.ts';
import { resolveAllowed, pinnedLookup, checkAddress } from '../attachments/url-policy.ts';
import type { Deadline } from '../resilience/deadline.ts';
import { retry, type GiveUpEvent, type RetryEvent, type RetryPolicy } from '../resilience/retry.ts';

export interface CallbackOptions {
  deadline: Deadline;
  policy: RetryPolicy;
  /** One attempt (profile httpWrite), ms. */
  attemptTimeoutMs: number;
  allowPrivate: boolean;
  onRetry?: (e: RetryEvent) => void;
  onGiveUp?: (e: GiveUpEvent) => void;
}

/** Checks the form of a callback URL when the job is created (400 before anything is published). */
export function checkCallbackUrl(raw: string, allowPrivate: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'callbackUrl is not a URL';
  }
  if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:')) return 'callbackUrl must be https';
  if (url.username || url.password) return 'callbackUrl must not carry credentials';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  // Literal addresses are checked now; names are resolved and checked when the callback is sent.
  if (ipaddr.isValid(host)) {
    const verdict = checkAddress(host, allowPrivate);
    if (!verdict.ok) return `callbackUrl host refused: ${verdict.reason}`;
  }
  return undefined;
}

export async function postCallback(rawUrl: string, body: unknown, options: CallbackOptions): Promise<number> {
  const url = new URL(rawUrl);
  const payload = JSON.stringify(body);
  // undici loads with the first callback, not at start-up (bench startup).
  const { Agent, request } = await import('undici');
  return retry(
    async ({ signal }) => {
      const addresses = await resolveAllowed(url.hostname, options.allowPrivate);
      const agent = new Agent({ connect: { lookup: pinnedLookup(addresses) } });
      try {
        const response = await request(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'email-worker' },
          body: payload,
          dispatcher: agent,
          signal,
        });
        await response.body.dump();
        if (response.statusCode >= 200 && response.statusCode < 300) return response.statusCode;
        const message = `callback answered ${response.statusCode}`;
        const again = [408, 429, 500, 502, 503, 504].includes(response.statusCode);
        throw again
          ? retryable(ErrorCodes.UPSTREAM_HTTP, message, { status: response.statusCode })
          : permanent(ErrorCodes.UPSTREAM_HTTP, message, { status: response.statusCode });
      } finally {
        await agent.close();
      }
    },
    {
      operation: 'api.callback',
      policy: options.policy,
      deadline: options.deadline,
      attemptTimeoutMs: options.attemptTimeoutMs,
      ...(options.onRetry ? { onRetry: options.onRetry } : {}),
      ...(options.onGiveUp ? { onGiveUp: options.onGiveUp } : {}),
    },
  );
}
