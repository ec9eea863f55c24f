/** Picks the ledger backend from LEDGER: `memory` (one process) or `firestore` (shared). */
import type { Config } from '../config.ts';
import type { Ledger } from './ledger.ts';
import { createMemoryLedger } from './memory-ledger.ts';
import { createFirestoreLedger, type LedgerUsage } from './firestore-ledger.ts';

export async function createLedger(
  config: Pick<Config, 'ledger' | 'ledgerStore' | 'projectId'>,
  hooks: { onUsage?: (usage: LedgerUsage) => void } = {},
): Promise<Ledger> {
  if (config.ledger === 'memory') return createMemoryLedger();
  return createFirestoreLedger({
    projectId: config.projectId,
    collection: config.ledgerStore.collection,
    retentionMs: config.ledgerStore.retentionDays * 24 * 60 * 60 * 1000,
    ...(hooks.onUsage ? { onUsage: hooks.onUsage } : {}),
  });
}
