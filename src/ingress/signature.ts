/**
 * Mailgun webhook signatures: hex HMAC-SHA256 of `timestamp + token` with the webhook signing key
 * (MAILGUN_WEBHOOK_SIGNING_KEY), compared in constant time. Stale and future timestamps are
 * refused; replays (the same token twice) are refused by the caller with the ingress store.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** How old a signed timestamp may be (Mailgun's own guidance). */
export const SIGNATURE_MAX_AGE_MS = 15 * 60_000;
/** Clock difference tolerated for timestamps from the future. */
export const SIGNATURE_CLOCK_SKEW_MS = 30_000;

export interface SignatureFields {
  timestamp?: string | undefined;
  token?: string | undefined;
  signature?: string | undefined;
}

export type SignatureVerdict =
  | { ok: true; timestampMs: number }
  | { ok: false; reason: 'no-key' | 'missing' | 'malformed' | 'mismatch' | 'stale' | 'future' };

/** Hex signature Mailgun would send for `timestamp` and `token`. */
export function signMailgun(signingKey: string, timestamp: string, token: string): string {
  return createHmac('sha256', signingKey).update(timestamp + token).digest('hex');
}

export function verifyMailgunSignature(fields: SignatureFields, signingKey: string | undefined, now: number = Date.now()): SignatureVerdict {
  if (!signingKey) return { ok: false, reason: 'no-key' };
  const { timestamp, token, signature } = fields;
  if (!timestamp || !token || !signature) return { ok: false, reason: 'missing' };
  if (!/^\d{1,12}$/.test(timestamp) || !/^[A-Za-z0-9]{10,200}$/.test(token) || !/^[0-9a-f]{64}$/i.test(signature)) {
    return { ok: false, reason: 'malformed' };
  }
  const expected = Buffer.from(signMailgun(signingKey, timestamp, token), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) return { ok: false, reason: 'mismatch' };
  const timestampMs = Number(timestamp) * 1000;
  if (now - timestampMs > SIGNATURE_MAX_AGE_MS) return { ok: false, reason: 'stale' };
  if (timestampMs - now > SIGNATURE_CLOCK_SKEW_MS) return { ok: false, reason: 'future' };
  return { ok: true, timestampMs };
}
