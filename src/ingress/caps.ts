/**
 * Reply caps (cost control): replies per sender and per thread over a time window, and jobs per
 * UTC day for the whole service. Each job is counted once per cap by its id (`countOnce`), so the
 * ingress, Mailgun's retries and the worker's second check never count one job twice.
 * Checked in order sender → thread → day; a job refused by a later cap stays counted by the
 * earlier ones (errs on the side of fewer replies). A limit of 0 turns that cap off.
 */
import type { IngressStore } from '../ledger/ingress-store.ts';

export interface CapLimits {
  /** Replies to one sender per `senderWindowMs`. */
  perSender: number;
  senderWindowMs: number;
  /** Replies in one thread per `threadWindowMs`. */
  perThread: number;
  threadWindowMs: number;
  /** Jobs per UTC day, all senders. */
  perDay: number;
}

export const CapReasons = { SENDER: 'sender-cap', THREAD: 'thread-cap', DAILY: 'daily-cap' } as const;
export type CapReason = (typeof CapReasons)[keyof typeof CapReasons];

const DAY_MS = 86_400_000;

export async function checkCaps(
  store: IngressStore,
  limits: CapLimits,
  job: { jobId: string; sender: string; threadKey?: string },
): Promise<{ ok: true } | { ok: false; reason: CapReason; count: number }> {
  const checks: Array<[CapReason, string, number, number]> = [
    [CapReasons.SENDER, `sender:${job.sender.toLowerCase()}`, limits.perSender, limits.senderWindowMs],
    ...(job.threadKey ? [[CapReasons.THREAD, `thread:${job.threadKey}`, limits.perThread, limits.threadWindowMs] as [CapReason, string, number, number]] : []),
    [CapReasons.DAILY, 'day', limits.perDay, DAY_MS],
  ];
  for (const [reason, counter, limit, windowMs] of checks) {
    if (limit <= 0) continue;
    const result = await store.countOnce(counter, job.jobId, limit, windowMs);
    if (!result.allowed) return { ok: false, reason, count: result.count };
  }
  return { ok: true };
}
