/**
 * Sends one reply at most once (SPEC §2.5, §3.3), on top of `retry()`.
 *
 * A failed send is retried per the policy like any remote call, with one exception: when the
 * outcome is unknown — the attempt timed out or the connection dropped while the request was in
 * flight (`EW_ERR_SEND_OUTCOME_UNKNOWN`, or the attempt's signal aborted during the send) — the
 * provider may have accepted the message. Before the next attempt, the provider is asked whether
 * our Message-ID was accepted (`transport.wasAccepted`: Mailgun's events API, or the outbox file);
 * if it was, the result is `already-sent` and nothing is sent again.
 *
 * Event lag. Mailgun's events API can show an accepted message a few seconds late. Choice: the
 * provider is polled until `acceptanceLagMs` has passed since the unknown failure (default: the
 * policy's `minDelayMs` — 5 s in the email/api profile — which the backoff wait before the next
 * attempt has usually covered already, so in practice one lookup); only then is the reply sent
 * again. A longer lag than that can still produce a duplicate; raise `acceptanceLagMs` to trade
 * time for certainty. A lookup that fails is not taken as "not accepted": the attempt fails as
 * outcome-unknown and the next one asks again.
 *
 * If the retries end while the outcome is still unknown, the error is a retryable
 * `EW_ERR_SEND_OUTCOME_UNKNOWN` (cause: the last failure), whatever ended them — the deadline
 * included — so the caller leaves the job in `reply_pending` for a later delivery to check,
 * rather than sending anything else (a failure email) under the same Message-ID.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'winston';
import { ErrorCodes, describeError, isWorkerError, retryable } from '../errors.ts';
import type { Deadline } from '../resilience/deadline.ts';
import { retry, type GiveUpEvent, type RetryEvent, type RetryPolicy } from '../resilience/retry.ts';
import type { ComposedReply } from './compose.ts';
import type { MailTransport, SendResult } from './types.ts';

export interface SendExactlyOnceOptions {
  /** The job deadline: no attempt or wait is started that cannot finish before it. */
  deadline: Deadline;
  /** Attempts and backoff (the context's retry config). */
  policy: RetryPolicy;
  /** Per-attempt limit (the profile's mailgunApi), lookups included. */
  attemptTimeoutMs: number;
  onRetry?: (event: RetryEvent) => void;
  onGiveUp?: (event: GiveUpEvent) => void;
  /**
   * Ask the provider before the first attempt too: for a send under a Message-ID that may have
   * been handed over before (a resend after a crash, a failure email after an unknown reply).
   * @defaultValue false
   */
  checkFirst?: boolean;
  /**
   * An earlier send under this Message-ID (a crashed or interrupted delivery) may have been
   * accepted; its outcome has been unknown since this time (ms since the epoch). Implies
   * `checkFirst`, and the provider is asked until `acceptanceLagMs` after it before sending.
   * @defaultValue none
   */
  inDoubtSince?: number;
  /** How long after an unknown outcome the provider may take to show the message, ms. @defaultValue policy.minDelayMs */
  acceptanceLagMs?: number;
  /** Wait between two lookups while within `acceptanceLagMs`, ms. @defaultValue min(1000, acceptanceLagMs / 4) */
  pollIntervalMs?: number;
  /** Name for errors, logs and metrics. @defaultValue `${transport.kind}.send` */
  operation?: string;
  /** Warnings when an outcome is unknown and when a reply turns out to be sent already. @defaultValue no logging */
  logger?: Logger;
}

export async function sendExactlyOnce(transport: MailTransport, reply: ComposedReply, options: SendExactlyOnceOptions): Promise<SendResult> {
  const { deadline, policy, attemptTimeoutMs } = options;
  const operation = options.operation ?? `${transport.kind}.send`;
  const lagMs = Math.max(0, options.acceptanceLagMs ?? policy.minDelayMs);
  const pollMs = Math.max(1, options.pollIntervalMs ?? Math.min(1000, lagMs / 4));
  const log = options.logger?.child({ operation, messageId: reply.messageId });
  const timeoutMs = () => Math.max(1, Math.min(attemptTimeoutMs, deadline.remainingMs()));
  // When the last attempt's outcome became unknown; -Infinity: check before the first attempt, no lag.
  let unknownSince: number | undefined = options.inDoubtSince ?? (options.checkFirst ? Number.NEGATIVE_INFINITY : undefined);

  const acceptedMeanwhile = async (signal: AbortSignal): Promise<boolean> => {
    for (;;) {
      let accepted: boolean;
      try {
        accepted = await transport.wasAccepted(reply.messageId, { signal, timeoutMs: timeoutMs() });
      } catch (error) {
        if (signal.aborted) throw error;
        throw retryable(
          ErrorCodes.SEND_OUTCOME_UNKNOWN,
          `${operation}: could not ask the provider whether ${reply.messageId} was accepted (${describeError(error)}); not sending it again blindly`,
          { cause: error, details: { operation, messageId: reply.messageId } },
        );
      }
      if (accepted) return true;
      const waitMs = (unknownSince ?? 0) + lagMs - Date.now();
      if (waitMs <= 0) return false;
      await sleep(Math.min(pollMs, waitMs), undefined, { signal });
    }
  };

  try {
    return await retry(
      async ({ attemptNumber, signal }) => {
        if (unknownSince !== undefined) {
          if (await acceptedMeanwhile(signal)) {
            log?.warn('The provider had already accepted this reply; not sending it again', { attemptNumber });
            return { id: reply.messageId, status: 'already-sent' } satisfies SendResult;
          }
          unknownSince = undefined;
        }
        // An abort before the send began sent nothing; one during the send leaves the outcome open.
        const abortedBefore = signal.aborted;
        try {
          return await transport.send(reply, { signal, timeoutMs: timeoutMs() });
        } catch (error) {
          if ((signal.aborted && !abortedBefore) || (isWorkerError(error) && error.code === ErrorCodes.SEND_OUTCOME_UNKNOWN)) {
            unknownSince = Date.now();
            log?.warn('Send outcome unknown; the provider will be asked before any resend', { attemptNumber, err: error });
          }
          throw error;
        }
      },
      {
        operation,
        policy,
        deadline,
        attemptTimeoutMs,
        ...(options.onRetry ? { onRetry: options.onRetry } : {}),
        ...(options.onGiveUp ? { onGiveUp: options.onGiveUp } : {}),
      },
    );
  } catch (error) {
    if (unknownSince === undefined) throw error;
    throw retryable(
      ErrorCodes.SEND_OUTCOME_UNKNOWN,
      `${operation}: gave up without knowing whether ${reply.messageId} was accepted (${describeError(error)}); it must be checked before any resend`,
      { cause: error, details: { operation, messageId: reply.messageId } },
    );
  }
}
