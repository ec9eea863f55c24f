/**
 * Shared ledger on Firestore (`LEDGER=firestore`): the same contract as the memory ledger
 * (`ledger.ts`), one document per job id, every transition a transaction — the first claim is a
 * create-if-absent, every later write a compare-and-set on the owner read in the same transaction.
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
import type { DocumentReference, Firestore, Transaction } from '@google-cloud/firestore';
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

  /** Reads the record and, when `owner` holds it, applies `change` in the same transaction. */
  const whenHeld = async (op: LedgerUsage['op'], jobId: string, owner: string, change: (t: number, d: StoredRecord) => Partial<StoredRecord>): Promise<boolean> => {
    const ref = collection.doc(jobId);
    const done = await db.runTransaction(async (tx: Transaction) => {
      const d = (await tx.get(ref)).data() as StoredRecord | undefined;
      if (!holds(d, owner)) return false;
      const t = now();
      tx.update(ref, { ...change(t, d), updatedAt: t, [LEDGER_TTL_FIELD]: expireAt(t) });
      return true;
    });
    usage(op, 1, done ? 1 : 0, 1);
    return done;
  };

  return {
    async claim(jobId, owner, leaseMs, replyMessageId): Promise<ClaimResult> {
      const ref: DocumentReference = collection.doc(jobId);
      let wrote = 0;
      const result = await db.runTransaction(async (tx: Transaction): Promise<ClaimResult> => {
        wrote = 0;
        const snap = await tx.get(ref);
        const t = now();
        const d = snap.data() as StoredRecord | undefined;
        if (!d) {
          const fresh: StoredRecord = { state: 'running', owner, leaseUntil: t + leaseMs, deliveries: 1, firstClaimedAt: t, replyMessageId, updatedAt: t };
          tx.create(ref, { ...fresh, [LEDGER_TTL_FIELD]: expireAt(t) });
          wrote = 1;
          return { status: 'claimed', record: toRecord(jobId, fresh) };
        }
        if (d.state === 'sent' || d.state === 'failed') return { status: 'done', record: toRecord(jobId, d) };
        if (d.leaseUntil > t) return { status: 'busy', record: toRecord(jobId, d) };
        const taken: StoredRecord = { ...d, owner, leaseUntil: t + leaseMs, deliveries: d.deliveries + 1, updatedAt: t };
        tx.update(ref, { owner, leaseUntil: taken.leaseUntil, deliveries: taken.deliveries, updatedAt: t, [LEDGER_TTL_FIELD]: expireAt(t) });
        wrote = 1;
        return { status: 'taken-over', record: toRecord(jobId, taken) };
      });
      usage('claim', 1, wrote, 1);
      return result;
    },
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
