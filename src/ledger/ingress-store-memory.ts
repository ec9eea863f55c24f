/**
 * In-process IngressStore (`LEDGER=memory`): one worker process. Memory is bounded: when records
 * and counters together pass `maxRecords`, expired ones are dropped, and if that is not enough the
 * oldest are dropped until 90 % remain (their expiry is nearest). Each sweep therefore buys at
 * least `maxRecords / 10` inserts, so the cost per insert stays constant however full the store is.
 * Dropping a live token would let a replay of it through, but tokens are stored only for posts
 * with a valid signature (Mailgun's), so that takes `maxRecords` genuine posts within 15 minutes.
 */
import { windowStart, type CountResult, type IngressStore, type IngressStoreOptions, type StoreValue, type StoredRecord } from './ingress-store.ts';

export function createMemoryIngressStore(options: IngressStoreOptions = {}): IngressStore {
  const now = options.now ?? Date.now;
  const maxRecords = options.maxRecords ?? 100_000;
  const records = new Map<string, StoredRecord>();
  const counters = new Map<string, { members: Set<string>; expiresAt: number }>();
  const id = (space: string, key: string) => `${space}\u0000${key}`;
  const live = (r: StoredRecord | undefined): r is StoredRecord => r !== undefined && r.expiresAt > now();

  const sweep = () => {
    if (records.size + counters.size <= maxRecords) return;
    const t = now();
    for (const [k, r] of records) if (r.expiresAt <= t) records.delete(k);
    for (const [k, c] of counters) if (c.expiresAt <= t) counters.delete(k);
    const keep = Math.floor(maxRecords * 0.9);
    // Maps iterate in insertion order: the oldest first.
    for (const map of [counters, records] as Array<Map<string, unknown>>) {
      for (const k of map.keys()) {
        if (records.size + counters.size <= keep) return;
        map.delete(k);
      }
    }
  };

  return {
    kind: 'memory',
    async createIfAbsent(space, key, value, expiresAt) {
      if (live(records.get(id(space, key)))) return false;
      records.set(id(space, key), { value: structuredClone(value), version: 1, expiresAt });
      sweep();
      return true;
    },
    async get<T extends StoreValue>(space: string, key: string) {
      const r = records.get(id(space, key));
      return live(r) ? (structuredClone(r) as StoredRecord<T>) : undefined;
    },
    async compareAndSet(space, key, expectedVersion, value, expiresAt) {
      const r = records.get(id(space, key));
      if (!live(r) || r.version !== expectedVersion) return false;
      records.set(id(space, key), { value: structuredClone(value), version: r.version + 1, expiresAt });
      return true;
    },
    async delete(space, key) {
      records.delete(id(space, key));
    },
    async countOnce(counter, member, limit, windowMs): Promise<CountResult> {
      const start = windowStart(now(), windowMs);
      const k = `${counter}\u0000${start}`;
      let c = counters.get(k);
      if (!c) {
        c = { members: new Set(), expiresAt: start + windowMs };
        counters.set(k, c);
        sweep();
      }
      if (c.members.has(member)) return { allowed: true, count: c.members.size, repeated: true };
      if (c.members.size >= limit) return { allowed: false, count: c.members.size, repeated: false };
      c.members.add(member);
      return { allowed: true, count: c.members.size, repeated: false };
    },
    async ping() {},
  };
}
