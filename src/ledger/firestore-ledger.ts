/**
 * Shared ledger on Firestore (`LEDGER=firestore`): the same contract as the memory ledger
 * (`ledger.ts`), one document per job id, every transition an atomic compare-and-set — the first
 * claim a create-if-absent (`create` fails if the document exists), every later write an `update`
 * with the `lastUpdateTime` precondition of the document it was decided on (fails if anyone wrote
 * in between; then it is decided again on a fresh read).
 *
 * Why preconditions and not transactions: server-SDK transactions take pessimistic locks. A worker
 * killed inside a transaction leaves its lock until Firestore expires the transaction, and every
 * other instance's claim of that job waits or aborts until then — seen here as jobs stuck after a
 * kill -9 in the crash benchmark. A precondition holds nothing: a dead worker leaves nothing behind
 * but its lease, which expires on its own.
 *
 * Clock: leases and the first-claim time use the writer's clock (`now`), like the memory ledger.
 * Cloud Run instances keep NTP time; a skew of a few seconds only shifts a takeover by that much,
 * far inside the 120 s lease.
 *
 * Removal: every write sets `expireAt` (a Timestamp) to `retentionMs` after the write; a Firestore
 * TTL policy on that field (docs/delivery.md) deletes records after it. Retention must outlive any
 * redelivery of the job (Pub/Sub keeps messages at most 7 days), or a late duplicate would be
 * taken for a new job.
 */
import type { DocumentReference, DocumentSnapshot, Firestore } from '@google-cloud/firestore';
import type { ClaimResult, Ledger, LedgerRecord } from './ledger.ts';
import { getFirestore } from './firestore-client.ts';

/** The TTL field name, referenced by the TTL policy (docs/delivery.md, infra/). */
export const LEDGER_TTL_FIELD = 'expireAt';

/** What one ledger call cost in Firestore terms; for the benchmark and metrics. */
export interface LedgerUsage {
  op: 'claim' | 'renew' | 'markReplyPending' | 'finish' | 'release' | 'get' | 'ping';
  reads: number;
  writes: number;
  transactions: number;
}

export interface FirestoreLedgerOptions {
  projectId: string;
  /** Firestore database id. @defaultValue '(default)' */
  databaseId?: string;
  /** Collection holding one document per job (LEDGER_COLLECTION). @defaultValue 'email-worker-ledger' */
  collection?: string;
  /** How long a record is kept after its last write before the TTL policy removes it, ms. @defaultValue 14 days */
  retentionMs?: number;
  /** Clock, for tests. @defaultValue Date.now */
  now?: () => number;
  /** Called after every call with what it cost. @defaultValue none */
  onUsage?: (usage: LedgerUsage) => void;
  /** A client to use instead of the shared one (tests). @defaultValue getFirestore({ projectId, databaseId }) */
  firestore?: Firestore;
}

/** The document: the record without its id (the document id), plus the TTL timestamp. */
type StoredRecord = Omit<LedgerRecord, 'jobId'>;

const DAY_MS = 24 * 60 * 60 * 1000;
/** Lost races in a row before a call gives up (each loser re-reads; one of every race wins). */
const MAX_RACES = 20;

export async function createFirestoreLedger(options: FirestoreLedgerOptions): Promise<Ledger> {
  const db = options.firestore ?? (await getFirestore({ projectId: options.projectId, ...(options.databaseId ? { databaseId: options.databaseId } : {}) }));
  const { Timestamp } = await import('@google-cloud/firestore');
  const now = options.now ?? Date.now;
  const retentionMs = options.retentionMs ?? 14 * DAY_MS;
  const collection = db.collection(options.collection ?? 'email-worker-ledger');
  const usage = (op: LedgerUsage['op'], reads: number, writes: number, transactions: number) =>
    options.onUsage?.({ op, reads, writes, transactions });

  const toRecord = (jobId: string, stored: StoredRecord): LedgerRecord => {
    const { [LEDGER_TTL_FIELD]: _ttl, ...record } = stored as StoredRecord & { [LEDGER_TTL_FIELD]?: unknown };
    return { jobId, ...record };
  };
  const expireAt = (t: number) => Timestamp.fromMillis(t + retentionMs);
  const holds = (d: StoredRecord | undefined, owner: string): d is StoredRecord =>
    d !== undefined && d.owner === owner && (d.state === 'running' || d.state === 'reply_pending');

  /**
   * Read, decide, write if nothing changed since the read; on a lost race, read and decide again.
   * `decide` returns the result and, when something must be written, the write.
   */
  const compareAndSet = async <T>(
    op: LedgerUsage['op'],
    ref: DocumentReference,
    decide: (d: StoredRecord | undefined, t: number) => { result: T; create?: StoredRecord; update?: Partial<StoredRecord> },
  ): Promise<T> => {
    let reads = 0;
    let writes = 0;
    try {
      for (let attempt = 1; ; attempt++) {
        const snap: DocumentSnapshot = await ref.get();
        reads += 1;
        const t = now();
        const { result, create, update } = decide(snap.data() as StoredRecord | undefined, t);
        try {
          if (create) await ref.create({ ...create, [LEDGER_TTL_FIELD]: expireAt(t) });
          else if (update) await ref.update({ ...update, updatedAt: t, [LEDGER_TTL_FIELD]: expireAt(t) }, { lastUpdateTime: snap.updateTime! });
          if (create || update) writes += 1;
          return result;
        } catch (error) {
          // 6 ALREADY_EXISTS (create lost), 9 FAILED_PRECONDITION (updated since the read).
          const code = (error as { code?: number }).code;
          if ((code !== 6 && code !== 9) || attempt >= MAX_RACES) throw error;
        }
      }
    } finally {
      usage(op, reads, writes, 0);
    }
  };

  /** Applies `change` when `owner` holds the job; false otherwise. */
  const whenHeld = (op: LedgerUsage['op'], jobId: string, owner: string, change: (t: number) => Partial<StoredRecord>): Promise<boolean> =>
    compareAndSet(op, collection.doc(jobId), (d, t) => (holds(d, owner) ? { result: true, update: change(t) } : { result: false }));

  return {
    claim: (jobId, owner, leaseMs, replyMessageId) =>
      compareAndSet<ClaimResult>('claim', collection.doc(jobId), (d, t) => {
        if (!d) {
          const fresh: StoredRecord = { state: 'running', owner, leaseUntil: t + leaseMs, deliveries: 1, firstClaimedAt: t, replyMessageId, updatedAt: t };
          return { result: { status: 'claimed', record: toRecord(jobId, fresh) }, create: fresh };
        }
        if (d.state === 'sent' || d.state === 'failed') return { result: { status: 'done', record: toRecord(jobId, d) } };
        if (d.leaseUntil > t) return { result: { status: 'busy', record: toRecord(jobId, d) } };
        const update = { owner, leaseUntil: t + leaseMs, deliveries: d.deliveries + 1, updatedAt: t };
        return { result: { status: 'taken-over', record: toRecord(jobId, { ...d, ...update }) }, update };
      }),
    renew: (jobId, owner, leaseMs) => whenHeld('renew', jobId, owner, (t) => ({ leaseUntil: t + leaseMs })),
    markReplyPending: (jobId, owner) => whenHeld('markReplyPending', jobId, owner, () => ({ state: 'reply_pending' })),
    finish: (jobId, owner, state, outcome) => whenHeld('finish', jobId, owner, () => ({ state, outcome, leaseUntil: 0 })),
    async release(jobId, owner) {
      await whenHeld('release', jobId, owner, () => ({ leaseUntil: 0 }));
    },
    async get(jobId) {
      const d = (await collection.doc(jobId).get()).data() as StoredRecord | undefined;
      usage('get', 1, 0, 0);
      return d ? toRecord(jobId, d) : undefined;
    },
    async ping() {
      // A read of a document that need not exist: proves the database answers, costs one read.
      await collection.doc('_ping').get();
      usage('ping', 1, 0, 0);
    },
  };
}
