import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryLedger } from './memory-ledger.ts';
import { describeLedgerContract } from './ledger-contract.ts';

describeLedgerContract('memory', async (clock) => createMemoryLedger({ now: clock.now }));

describe('memory ledger', () => {
  it('evicts the oldest finished records beyond maxRecords but never running ones', async () => {
    const ledger = createMemoryLedger({ maxRecords: 2 });
    await ledger.claim('old', 'A', 1000, '<1@x>');
    await ledger.finish('old', 'A', 'failed', 'x');
    await ledger.claim('run', 'A', 1000, '<2@x>');
    await ledger.claim('new', 'A', 1000, '<3@x>');
    assert.equal(await ledger.get('old'), undefined);
    assert.equal((await ledger.get('run'))?.state, 'running');
  });
});
