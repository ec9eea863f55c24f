import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryLedger } from './memory-ledger.ts';

describe('memory ledger', () => {
  it('claims a new job, refuses a second owner while the lease is live, and lets it take over after expiry', async () => {
    let now = 1_000;
    const ledger = createMemoryLedger({ now: () => now });
    const a = await ledger.claim('j1', 'A', 500, '<r1@x>');
    assert.equal(a.status, 'claimed');
    assert.equal((await ledger.claim('j1', 'B', 500, '<r2@x>')).status, 'busy');
    now += 501;
    const b = await ledger.claim('j1', 'B', 500, '<r3@x>');
    assert.equal(b.status, 'taken-over');
    assert.equal(b.record.replyMessageId, '<r1@x>', 'the reply Message-ID chosen first is kept');
    assert.equal(b.record.claims, 2);
    assert.equal(await ledger.renew('j1', 'A', 500), false, 'the old owner lost the lease');
    assert.equal(await ledger.finish('j1', 'A', 'sent', 'replied'), false);
    assert.equal(await ledger.finish('j1', 'B', 'sent', 'replied'), true);
    assert.equal((await ledger.claim('j1', 'C', 500, '<r4@x>')).status, 'done');
  });

  it('keeps reply_pending across a takeover so the provider can be asked first', async () => {
    let now = 0;
    const ledger = createMemoryLedger({ now: () => now });
    await ledger.claim('j2', 'A', 100, '<m@x>');
    assert.equal(await ledger.markReplyPending('j2', 'A'), true);
    now = 200;
    const taken = await ledger.claim('j2', 'B', 100, '<other@x>');
    assert.equal(taken.status, 'taken-over');
    assert.equal(taken.record.state, 'reply_pending');
    assert.equal(taken.record.replyMessageId, '<m@x>');
  });

  it('refuses a second delivery to the same owner while its lease is live', async () => {
    const ledger = createMemoryLedger();
    await ledger.claim('j5', 'A', 60_000, '<m@x>');
    assert.equal((await ledger.claim('j5', 'A', 60_000, '<n@x>')).status, 'busy');
  });

  it('release lets another worker claim at once', async () => {
    const ledger = createMemoryLedger();
    await ledger.claim('j3', 'A', 60_000, '<m@x>');
    await ledger.release('j3', 'A');
    assert.equal((await ledger.claim('j3', 'B', 60_000, '<n@x>')).status, 'taken-over');
  });

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
