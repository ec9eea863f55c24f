/**
 * Firestore IngressStore (`LEDGER=firestore`), shared by every instance. Each operation is one
 * transaction; documents carry `expireAt` (Timestamp) for Firestore's TTL deletion, and the code
 * treats an expired document as absent before TTL has removed it.
 *
 * Layout (prefix `ingress_` by default): `<prefix>records/{space}~{sha256(key)}` with
 * `{ space, key, value, version, expireAt }`; `<prefix>counters/{sha256(counter)}~{windowStart}` with
 * `{ counter, count, expireAt }` and a subcollection `members/{sha256(member)}`.
 * Keys are hashed into document ids: ids may not contain `/` and are limited in length.
 */
import { createHash } from 'node:crypto';
import { Timestamp, type Firestore } from '@google-cloud/firestore';
import { getFirestore } from './firestore-client.ts';
import { windowStart, type CountResult, type IngressStore, type IngressStoreOptions, type StoreValue, type StoredRecord } from './ingress-store.ts';

const hash = (text: string) => createHash('sha256').update(text).digest('hex');

export async function createFirestoreIngressStore(options: IngressStoreOptions = {}): Promise<IngressStore> {
  const projectId = options.projectId ?? process.env.GOOGLE_CLOUD_PROJECT;
  if (!projectId) throw new TypeError('Expected `projectId` (or GOOGLE_CLOUD_PROJECT) for the Firestore ingress store.');
  const db: Firestore = await getFirestore({ projectId });
  const now = options.now ?? Date.now;
  const prefix = options.prefix ?? 'ingress_';
  const records = db.collection(`${prefix}records`);
  const counters = db.collection(`${prefix}counters`);
  const recordRef = (space: string, key: string) => records.doc(`${space}~${hash(key)}`);
  const liveData = (data: FirebaseFirestore.DocumentData | undefined) =>
    data !== undefined && (data.expireAt as Timestamp).toMillis() > now() ? data : undefined;

  return {
    kind: 'firestore',
    createIfAbsent(space, key, value, expiresAt) {
      const ref = recordRef(space, key);
      return db.runTransaction(async (tx) => {
        const snap = await tx.get(ref);
        if (liveData(snap.data())) return false;
        tx.set(ref, { space, key, value, version: 1, expireAt: Timestamp.fromMillis(expiresAt) });
        return true;
      });
    },
    async get<T extends StoreValue>(space: string, key: string) {
      const data = liveData((await recordRef(space, key).get()).data());
      if (!data) return undefined;
      return { value: data.value as T, version: data.version as number, expiresAt: (data.expireAt as Timestamp).toMillis() } satisfies StoredRecord<T>;
    },
    compareAndSet(space, key, expectedVersion, value, expiresAt) {
      const ref = recordRef(space, key);
      return db.runTransaction(async (tx) => {
        const data = liveData((await tx.get(ref)).data());
        if (!data || data.version !== expectedVersion) return false;
        tx.set(ref, { space, key, value, version: expectedVersion + 1, expireAt: Timestamp.fromMillis(expiresAt) });
        return true;
      });
    },
    async delete(space, key) {
      await recordRef(space, key).delete();
    },
    countOnce(counter, member, limit, windowMs): Promise<CountResult> {
      const start = windowStart(now(), windowMs);
      const ref = counters.doc(`${hash(counter)}~${start}`);
      const memberRef = ref.collection('members').doc(hash(member));
      const expireAt = Timestamp.fromMillis(start + windowMs);
      return db.runTransaction(async (tx) => {
        const [snap, memberSnap] = await Promise.all([tx.get(ref), tx.get(memberRef)]);
        const count = (snap.data()?.count as number | undefined) ?? 0;
        if (memberSnap.exists) return { allowed: true, count, repeated: true };
        if (count >= limit) return { allowed: false, count, repeated: false };
        tx.set(ref, { counter, count: count + 1, expireAt });
        tx.set(memberRef, { member, expireAt });
        return { allowed: true, count: count + 1, repeated: false };
      });
    },
    async ping() {
      // A read of a document that need not exist, like the ledger's ping: the same RPC as the
      // store's own reads (a query would warm a code path no operation here uses).
      await records.doc('_ping').get();
    },
  };
}
