/**
 * One job's ledger calls, one at a time. The heartbeat and the job's own transitions (reply
 * pending, finish, release) would otherwise run as overlapping transactions on the same record,
 * and Firestore resolves such contention by aborting and retrying with backoff — seconds lost,
 * and at a compressed TIMEOUT_SCALE a heartbeat that never gets through.
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
