/**
 * API keys (`API_KEYS`): a comma-separated list of `<sha256 hex of the key>:<tier>`. Only digests
 * are configured, so the environment never holds a usable key. A presented key is hashed and
 * compared with every digest in constant time (no early exit), and maps to its tier.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { TIERS, type Tier } from '../timeouts/types.ts';

export interface ApiKey {
  /** sha256 of the key (32 bytes). */
  digest: Buffer;
  tier: Tier;
  /** First 8 hex digits of the digest: names the key in logs and job records without revealing it. */
  id: string;
}

/** Parses API_KEYS entries; throws a message naming the bad entry (by position, never its value). */
export function parseApiKeys(entries: readonly string[]): ApiKey[] {
  return entries.map((entry, i) => {
    const [hex, tier, ...rest] = entry.split(':').map((s) => s.trim());
    if (!hex || !/^[0-9a-f]{64}$/i.test(hex) || rest.length) throw new TypeError(`entry ${i + 1} is not <sha256 hex>:<tier>`);
    const t = (tier ?? '').toLowerCase();
    if (!(TIERS as readonly string[]).includes(t)) throw new TypeError(`entry ${i + 1} has tier "${tier ?? ''}"; expected one of ${TIERS.join(', ')}`);
    return { digest: Buffer.from(hex, 'hex'), tier: t as Tier, id: hex.slice(0, 8).toLowerCase() };
  });
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** The configured key matching `presented`, or undefined. Every entry is compared. */
export function findApiKey(presented: string, keys: readonly ApiKey[]): ApiKey | undefined {
  const digest = createHash('sha256').update(presented).digest();
  let found: ApiKey | undefined;
  for (const key of keys) if (timingSafeEqual(digest, key.digest) && !found) found = key;
  return found;
}

/** The bearer token of an `Authorization` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
