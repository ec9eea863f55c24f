/**
 * One job's ledger calls, one at a time. The heartbeat and the job's own transitions (reply
 * pending, finish, release) would otherwise race on the same record: on Firestore each loser of a
 * compare-and-set reads and writes again, and at a compressed TIMEOUT_SCALE a heartbeat every few
 * milliseconds would keep the job's own transitions losing.
 */
import type { Ledger } from './ledger.ts';

export function serializeLedger(ledger: Ledger): Ledger {
  let tail: Promise<unknown> = Promise.resolve();
  const serial = <T>(call: () => Promise<T>): Promise<T> => {
    const next = tail.then(call);
    tail = next.catch(() => undefined);
    return next;
  };
  return {
    claim: (...args) => serial(() => ledger.claim(...args)),
    renew: (...args) => serial(() => ledger.renew(...args)),
    markReplyPending: (...args) => serial(() => ledger.markReplyPending(...args)),
    finish: (...args) => serial(() => ledger.finish(...args)),
    release: (...args) => serial(() => ledger.release(...args)),
    get: (...args) => serial(() => ledger.get(...args)),
    ping: () => ledger.ping(),
  };
}
