/**
 * The one contract every Ledger backend passes (memory, Firestore): run by `memory-ledger.test.ts`
 * and `firestore-ledger.test.ts`. Each case gets a fresh, empty ledger and a clock it controls.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Ledger } from './ledger.ts';

export interface ContractClock {
  now: () => number;
  advance(ms: number): void;
}

/** Makes a fresh, empty ledger reading time from `clock`. */
export type LedgerFactory = (clock: ContractClock) => Promise<Ledger>;

function newClock(start = 1_700_000_000_000): ContractClock {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

export function describeLedgerContract(backend: string, make: LedgerFactory): void {
  describe(`Ledger contract: ${backend}`, () => {
    const fresh = async () => {
      const clock = newClock();
      return { clock, ledger: await make(clock) };
    };

    it('claims a new job with one delivery, the first-claim time and the reply Message-ID given', async () => {
      const { clock, ledger } = await fresh();
      const a = await ledger.claim('j1', 'A', 500, '<r1@x>');
      assert.equal(a.status, 'claimed');
      assert.deepEqual(
        { state: a.record.state, owner: a.record.owner, deliveries: a.record.deliveries, firstClaimedAt: a.record.firstClaimedAt, leaseUntil: a.record.leaseUntil, replyMessageId: a.record.replyMessageId },
        { state: 'running', owner: 'A', deliveries: 1, firstClaimedAt: clock.now(), leaseUntil: clock.now() + 500, replyMessageId: '<r1@x>' },
      );
      assert.deepEqual(await ledger.get('j1'), a.record);
    });

    it('refuses every delivery while the lease is live, its own owner included, without changing the record', async () => {
      const { ledger } = await fresh();
      await ledger.claim('j1', 'A', 500, '<r1@x>');
      const before = await ledger.get('j1');
      assert.equal((await ledger.claim('j1', 'B', 500, '<r2@x>')).status, 'busy');
      assert.equal((await ledger.claim('j1', 'A', 500, '<r3@x>')).status, 'busy');
      assert.deepEqual(await ledger.get('j1'), before, 'a refused delivery has no side effects');
    });

    it('lets another owner take over an expired lease, keeping the reply Message-ID and first-claim time and counting the delivery', async () => {
      const { clock, ledger } = await fresh();
      const first = await ledger.claim('j1', 'A', 500, '<r1@x>');
      clock.advance(501);
      const b = await ledger.claim('j1', 'B', 500, '<r3@x>');
      assert.equal(b.status, 'taken-over');
      assert.equal(b.record.owner, 'B');
      assert.equal(b.record.replyMessageId, '<r1@x>');
      assert.equal(b.record.firstClaimedAt, first.record.firstClaimedAt);
      assert.equal(b.record.deliveries, 2);
      assert.equal(await ledger.renew('j1', 'A', 500), false, 'the old owner lost the lease');
      assert.equal(await ledger.markReplyPending('j1', 'A'), false);
      assert.equal(await ledger.finish('j1', 'A', 'sent', 'replied'), false);
      assert.equal(await ledger.finish('j1', 'B', 'sent', 'replied'), true);
      const done = await ledger.claim('j1', 'C', 500, '<r4@x>');
      assert.equal(done.status, 'done');
      assert.equal(done.record.state, 'sent');
      assert.equal(done.record.outcome, 'replied');
    });

    it('renewal by the holder keeps the lease alive past its first expiry', async () => {
      const { clock, ledger } = await fresh();
      await ledger.claim('j1', 'A', 500, '<r@x>');
      clock.advance(400);
      assert.equal(await ledger.renew('j1', 'A', 500), true);
      clock.advance(400);
      assert.equal((await ledger.claim('j1', 'B', 500, '<s@x>')).status, 'busy');
      assert.equal((await ledger.get('j1'))?.leaseUntil, clock.now() + 100);
    });

    it('keeps reply_pending across a takeover so the provider can be asked first', async () => {
      const { clock, ledger } = await fresh();
      await ledger.claim('j2', 'A', 100, '<m@x>');
      assert.equal(await ledger.markReplyPending('j2', 'A'), true);
      clock.advance(200);
      const taken = await ledger.claim('j2', 'B', 100, '<other@x>');
      assert.equal(taken.status, 'taken-over');
      assert.equal(taken.record.state, 'reply_pending');
      assert.equal(taken.record.replyMessageId, '<m@x>');
    });

    it('release lets another worker claim at once; a non-holder release changes nothing', async () => {
      const { ledger } = await fresh();
      await ledger.claim('j3', 'A', 60_000, '<m@x>');
      await ledger.release('j3', 'B');
      assert.equal((await ledger.claim('j3', 'B', 60_000, '<n@x>')).status, 'busy');
      await ledger.release('j3', 'A');
      assert.equal((await ledger.claim('j3', 'B', 60_000, '<n@x>')).status, 'taken-over');
    });

    it('a finished job stays finished: failed is final and cannot be renewed, marked or finished again', async () => {
      const { clock, ledger } = await fresh();
      await ledger.claim('j4', 'A', 500, '<m@x>');
      assert.equal(await ledger.finish('j4', 'A', 'failed', 'EW_ERR_TIMEOUT'), true);
      assert.equal(await ledger.renew('j4', 'A', 500), false);
      assert.equal(await ledger.markReplyPending('j4', 'A'), false);
      assert.equal(await ledger.finish('j4', 'A', 'sent', 'replied'), false);
      clock.advance(10_000);
      const again = await ledger.claim('j4', 'B', 500, '<n@x>');
      assert.equal(again.status, 'done');
      assert.equal(again.record.state, 'failed');
      assert.equal(again.record.outcome, 'EW_ERR_TIMEOUT');
    });

    it('of concurrent claims of one new job exactly one wins', async () => {
      const { ledger } = await fresh();
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => ledger.claim('race', `W${i}`, 60_000, `<r${i}@x>`)));
      const claimed = results.filter((r) => r.status === 'claimed');
      assert.equal(claimed.length, 1);
      assert.ok(results.every((r) => r.status === 'claimed' || r.status === 'busy'));
      assert.equal((await ledger.get('race'))?.owner, claimed[0]!.record.owner);
    });

    it('of concurrent takeovers of one expired job exactly one wins', async () => {
      const { clock, ledger } = await fresh();
      await ledger.claim('race2', 'A', 100, '<r@x>');
      clock.advance(200);
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => ledger.claim('race2', `W${i}`, 60_000, `<s${i}@x>`)));
      assert.equal(results.filter((r) => r.status === 'taken-over').length, 1);
      assert.equal((await ledger.get('race2'))?.deliveries, 2);
    });

    it('get answers undefined for an unknown job and ping resolves', async () => {
      const { ledger } = await fresh();
      assert.equal(await ledger.get('nope'), undefined);
      await ledger.ping();
    });
  });
}
