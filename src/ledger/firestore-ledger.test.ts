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
  it('two instances taking over from the same read: one write matches the update time, the other decides again and is refused', async () => {
    let now = 1_700_000_000_000;
    const collection = `race-${randomUUID().slice(0, 8)}`;
    const a = await createFirestoreLedger({ projectId, collection, now: () => now });
    const b = await createFirestoreLedger({ projectId, collection, now: () => now });
    await a.claim('j', 'A', 100, '<m@x>');
    now += 200;
    // Interleave: both read the expired record, only one write can match its update time.
    const [x, y] = await Promise.all([a.claim('j', 'A2', 1000, '<n@x>'), b.claim('j', 'B', 1000, '<o@x>')]);
    assert.deepEqual([x.status, y.status].sort(), ['busy', 'taken-over']);
    const winner = x.status === 'taken-over' ? 'A2' : 'B';
    assert.equal((await a.get('j'))?.owner, winner);
    assert.equal((await a.get('j'))?.deliveries, 2);
  });

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

  it('reports what each call cost: a claim is one read and one write, a refused one a read, no transactions', async () => {
    const seen: LedgerUsage[] = [];
    const ledger = await createFirestoreLedger({ projectId, collection: `usage-${randomUUID().slice(0, 8)}`, onUsage: (u) => seen.push(u) });
    await ledger.claim('j', 'A', 60_000, '<m@x>');
    await ledger.claim('j', 'B', 60_000, '<n@x>');
    assert.deepEqual(seen, [
      { op: 'claim', reads: 1, writes: 1, transactions: 0 },
      { op: 'claim', reads: 1, writes: 0, transactions: 0 },
    ]);
  });
});
