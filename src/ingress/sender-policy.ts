/**
 * Who may ask: `ALLOWED_SENDERS` entries are addresses (`alice@example.com`), domains
 * (`@example.com`, exact domain only) or `*` (anyone). With `REQUIRE_SENDER_AUTH=true`, the
 * allowlist trusts a From address only when Mailgun's verdict headers say SPF or DKIM passed
 * (`X-Mailgun-Spf: Pass`, `X-Mailgun-Dkim-Check-Result: Pass`), so a forged From cannot borrow
 * an allowed address.
 */
import type { HeaderLookup } from './mail-headers.ts';

export type SenderVerdict = { ok: true } | { ok: false; reason: 'sender-not-allowed' | 'sender-not-authenticated' };

export interface SenderPolicy {
  allowedSenders: readonly string[];
  /** Require an SPF or DKIM pass from Mailgun's headers. @defaultValue false */
  requireAuth?: boolean;
}

export function isSenderAllowed(address: string, allowed: readonly string[]): boolean {
  const a = address.trim().toLowerCase();
  const domain = a.slice(a.lastIndexOf('@') + 1);
  return allowed.some((entry) => {
    const e = entry.trim().toLowerCase();
    if (e === '*') return true;
    if (e.startsWith('@')) return domain === e.slice(1);
    return a === e;
  });
}

/** Mailgun's verdicts say the sending domain was authenticated (SPF or DKIM pass). */
export function senderAuthenticated(headers: HeaderLookup): boolean {
  const pass = (v: string | undefined) => /^\s*pass\b/i.test(v ?? '');
  return pass(headers.get('x-mailgun-spf')) || pass(headers.get('x-mailgun-dkim-check-result'));
}

export function checkSender(address: string, headers: HeaderLookup, policy: SenderPolicy): SenderVerdict {
  if (policy.requireAuth && !senderAuthenticated(headers)) return { ok: false, reason: 'sender-not-authenticated' };
  if (!isSenderAllowed(address, policy.allowedSenders)) return { ok: false, reason: 'sender-not-allowed' };
  return { ok: true };
}
