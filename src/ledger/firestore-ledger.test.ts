/** Firestore ledger on the real Firestore emulator (FIRESTORE_EMULATOR_HOST from the global setup). */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { closeFirestoreClients, getFirestore } from './firestore-client.ts';
import { createFirestoreLedger, LEDGER_TTL_FIELD, type LedgerUsage } from './firestore-ledger.ts';
import { describeLedgerContract } from './ledger-contract.ts';

const projectId = `demo-${randomUUID().slice(0, 8)}`;
after(() => closeFirestoreClients());

// A collection per case: each starts empty.
describeLedgerContract('firestore', (clock) => createFirestoreLedger({ projectId, collection: `ledger-${randomUUID().slice(0, 8)}`, now: clock.now }));

describe('firestore ledger', () => {
  it('stamps every write with a TTL timestamp retention after the write', async () => {
    let now = 1_700_000_000_000;
    const collection = `ttl-${randomUUID().slice(0, 8)}`;
    const ledger = await createFirestoreLedger({ projectId, collection, retentionMs: 60_000, now: () => now });
    await ledger.claim('j', 'A', 1000, '<m@x>');
    now += 5000;
    await ledger.finish('j', 'A', 'sent', 'replied');
    const db = await getFirestore({ projectId });
    const stored = (await db.collection(collection).doc('j').get()).get(LEDGER_TTL_FIELD) as { toMillis(): number };
    assert.equal(stored.toMillis(), now + 60_000);
  });

  it('reports what each call cost: a claim is one transaction with one read and one write', async () => {
    const seen: LedgerUsage[] = [];
    const ledger = await createFirestoreLedger({ projectId, collection: `usage-${randomUUID().slice(0, 8)}`, onUsage: (u) => seen.push(u) });
    await ledger.claim('j', 'A', 60_000, '<m@x>');
    await ledger.claim('j', 'B', 60_000, '<n@x>');
    assert.deepEqual(seen, [
      { op: 'claim', reads: 1, writes: 1, transactions: 1 },
      { op: 'claim', reads: 1, writes: 0, transactions: 1 },
    ]);
  });
});
