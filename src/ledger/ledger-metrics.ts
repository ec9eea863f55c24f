/** Firestore ledger cost as Prometheus counters (`ledger_firestore_ops_total{op,kind}`). */
import { Counter, type Registry } from 'prom-client';
import type { LedgerUsage } from './firestore-ledger.ts';

export function ledgerUsageCounter(registry: Registry): (usage: LedgerUsage) => void {
  const counter = new Counter({
    name: 'ledger_firestore_ops_total',
    help: 'Firestore reads, writes and transactions made by the job ledger, by ledger call',
    labelNames: ['op', 'kind'] as const,
    registers: [registry],
  });
  return (u) => {
    if (u.reads) counter.inc({ op: u.op, kind: 'read' }, u.reads);
    if (u.writes) counter.inc({ op: u.op, kind: 'write' }, u.writes);
    if (u.transactions) counter.inc({ op: u.op, kind: 'transaction' }, u.transactions);
  };
}
