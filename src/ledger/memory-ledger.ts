import type { ClaimResult, Ledger, LedgerRecord } from './ledger.ts';

/**
 * In-process ledger (`LEDGER=memory`, the local default). It protects one worker process against
 * Pub/Sub redelivery and duplicate publishes; it does not survive a restart and is not shared
 * between instances — production uses a shared ledger.
 */
export function createMemoryLedger(options: { now?: () => number; maxRecords?: number } = {}): Ledger {
  const now = options.now ?? Date.now;
  const maxRecords = options.maxRecords ?? 100_000;
  const records = new Map<string, LedgerRecord>();

  const holds = (r: LedgerRecord | undefined, owner: string): r is LedgerRecord =>
    r !== undefined && r.owner === owner && (r.state === 'running' || r.state === 'reply_pending');

  const evictOldFinished = () => {
    if (records.size <= maxRecords) return;
    // Map keeps insertion order: drop the oldest finished records first.
    for (const [id, r] of records) {
      if (records.size <= maxRecords) break;
      if (r.state === 'sent' || r.state === 'failed') records.delete(id);
    }
  };

  return {
    async claim(jobId, owner, leaseMs, replyMessageId): Promise<ClaimResult> {
      const t = now();
      const existing = records.get(jobId);
      if (!existing) {
        const record: LedgerRecord = { jobId, state: 'running', owner, leaseUntil: t + leaseMs, deliveries: 1, firstClaimedAt: t, replyMessageId, updatedAt: t };
        records.set(jobId, record);
        evictOldFinished();
        return { status: 'claimed', record: { ...record } };
      }
      if (existing.state === 'sent' || existing.state === 'failed') return { status: 'done', record: { ...existing } };
      // A live lease refuses every other delivery, this process's own included (two deliveries of one
      // job can run at once in one worker); a released or expired lease can be taken over.
      if (existing.leaseUntil > t) return { status: 'busy', record: { ...existing } };
      Object.assign(existing, { owner, leaseUntil: t + leaseMs, deliveries: existing.deliveries + 1, updatedAt: t });
      return { status: 'taken-over', record: { ...existing } };
    },
    async renew(jobId, owner, leaseMs) {
      const r = records.get(jobId);
      if (!holds(r, owner)) return false;
      r.leaseUntil = now() + leaseMs;
      r.updatedAt = now();
      return true;
    },
    async markReplyPending(jobId, owner) {
      const r = records.get(jobId);
      if (!holds(r, owner)) return false;
      r.state = 'reply_pending';
      r.updatedAt = now();
      return true;
    },
    async finish(jobId, owner, state, outcome) {
      const r = records.get(jobId);
      if (!holds(r, owner)) return false;
      Object.assign(r, { state, outcome, leaseUntil: 0, updatedAt: now() });
      return true;
    },
    async release(jobId, owner) {
      const r = records.get(jobId);
      if (holds(r, owner)) r.leaseUntil = 0;
    },
    async get(jobId) {
      const r = records.get(jobId);
      return r ? { ...r } : undefined;
    },
    async ping() {},
  };
}
