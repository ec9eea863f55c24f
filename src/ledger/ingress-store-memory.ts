/**
 * In-process IngressStore (`LEDGER=memory`): one worker process. Expired records are swept when
 * the map grows past `maxRecords`, so memory stays bounded under a flood of tokens.
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
