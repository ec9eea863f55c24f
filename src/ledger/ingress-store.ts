/**
 * State the ingress shares between instances, beside the job `Ledger`: seen webhook tokens
 * (replay protection), reply-cap counters and API job records. Small on purpose — three kinds of
 * operation cover every use:
 *
 * - `createIfAbsent` (a token accepted once; an API job record made once),
 * - `get` + `compareAndSet` on a version number (updating an API job record without losing a write),
 * - `countOnce` (a transactional counter over a fixed time window that counts each member once,
 *   so Mailgun's retries and the worker's re-check never count one job twice).
 *
 * Every record has an expiry time; an expired record is treated as absent. The Firestore backend
 * stores it as the Timestamp field `expireAt`: enable a TTL policy on that field for the collection
 * groups `<prefix>records`, `<prefix>counters` and `members` so Firestore deletes them too
 * (`gcloud firestore fields ttls update expireAt --collection-group=ingress_records --enable-ttl`).
 */
export type StoreValue = Record<string, unknown>;

export interface StoredRecord<T extends StoreValue = StoreValue> {
  value: T;
  /** Starts at 1; every successful `compareAndSet` adds 1. */
  version: number;
  /** Epoch ms after which the record counts as absent. */
  expiresAt: number;
}

export interface CountResult {
  /** The member is counted (now or before) and within the limit. */
  allowed: boolean;
  /** Members counted in the current window. */
  count: number;
  /** The member had been counted before in this window (nothing changed). */
  repeated: boolean;
}

export interface IngressStore {
  readonly kind: 'memory' | 'firestore';
  /** Creates the record unless a live one exists. True when this call created it. */
  createIfAbsent(space: string, key: string, value: StoreValue, expiresAt: number): Promise<boolean>;
  /** The live record, or undefined. */
  get<T extends StoreValue = StoreValue>(space: string, key: string): Promise<StoredRecord<T> | undefined>;
  /** Replaces a live record whose version is still `expectedVersion`. False when it changed or is gone. */
  compareAndSet(space: string, key: string, expectedVersion: number, value: StoreValue, expiresAt: number): Promise<boolean>;
  /** Removes the record (a token whose post failed, so Mailgun's retry is accepted). */
  delete(space: string, key: string): Promise<void>;
  /**
   * Counts `member` under `counter` in the current fixed window of `windowMs` (aligned to the epoch,
   * so a daily window is a UTC day). A new member beyond `limit` is refused and not counted.
   */
  countOnce(counter: string, member: string, limit: number, windowMs: number): Promise<CountResult>;
  /** Readiness probe. */
  ping(): Promise<void>;
}

export interface IngressStoreOptions {
  /** Firestore project (firestore backend). @defaultValue GOOGLE_CLOUD_PROJECT */
  projectId?: string;
  /** Collection name prefix (firestore backend). @defaultValue 'ingress_' */
  prefix?: string;
  /** Clock, for tests. @defaultValue Date.now */
  now?: () => number;
  /** Records kept in memory before expired ones are swept (memory backend). @defaultValue 100000 */
  maxRecords?: number;
}

/** The store for `LEDGER` (`memory` local default, `firestore` in production). */
export async function createIngressStore(kind: 'memory' | 'firestore', options: IngressStoreOptions = {}): Promise<IngressStore> {
  if (kind === 'memory') return (await import('./ingress-store-memory.ts')).createMemoryIngressStore(options);
  return (await import('./ingress-store-firestore.ts')).createFirestoreIngressStore(options);
}

/** Start of the fixed window containing `now`. */
export function windowStart(now: number, windowMs: number): number {
  return Math.floor(now / windowMs) * windowMs;
}
