/**
 * Where attachments may be fetched from (SPEC §3.2 step 3). Pure checks, no I/O except the DNS
 * lookup in {@link resolveAllowed}; each refusal is a permanent `EW_ERR_ATTACHMENT_REFUSED` whose
 * `details.reason` is the short text the reply shows.
 */
import { lookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';
import { ErrorCodes, permanent, type WorkerError } from '../errors.ts';
import type { HostResolver, ResolvedAddress } from './types.ts';

/**
 * Mailgun's message storage: `store()` notifications link attachments on regional storage hosts
 * such as `storage-us-east4.api.mailgun.net` (EU: `…api.eu.mailgun.net`), older ones on
 * `sw.api.mailgun.net`/`se.api.mailgun.net`, and the Messages API on `api(.eu).mailgun.net`.
 */
export const DEFAULT_ALLOWED_HOSTS: readonly string[] = Object.freeze([
  'api.mailgun.net',
  '*.api.mailgun.net',
  'api.eu.mailgun.net',
  '*.api.eu.mailgun.net',
  'storage.mailgun.net',
  '*.storage.mailgun.net',
]);

export interface UrlPolicy {
  /** `host` (exact) or `*.suffix` (any subdomain of suffix, not suffix itself). */
  allowedHosts: readonly string[];
  /** Permit plain http and loopback/private addresses (local runs and tests). */
  allowPrivate: boolean;
}

export function refused(reason: string, details: Record<string, unknown> = {}): WorkerError {
  return permanent(ErrorCodes.ATTACHMENT_REFUSED, `attachment refused: ${reason}`, { details: { ...details, reason } });
}

/** Lower case, no brackets around IPv6 literals, no trailing dot. */
export function normalizeHost(host: string): string {
  return host.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
}

export function isHostAllowed(hostname: string, allowedHosts: readonly string[]): boolean {
  const host = normalizeHost(hostname);
  return allowedHosts.some((entry) => {
    const e = normalizeHost(entry.trim());
    if (e.startsWith('*.')) return host.endsWith(e.slice(1)) && host.length > e.length - 1;
    return e !== '' && host === e;
  });
}

/**
 * Checks the URL itself (scheme, credentials, host allowlist). Throws a refusal; returns the
 * parsed URL when it may be fetched.
 */
export function checkUrl(raw: string, policy: UrlPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refused('not a valid URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowPrivate)) {
    throw refused(url.protocol === 'http:' ? 'plain http is not allowed (https only)' : `${url.protocol.replace(':', '')} URLs are not allowed`, {
      protocol: url.protocol,
    });
  }
  // Credentials in a URL would travel to whoever the URL names; Mailgun never sends such links.
  if (url.username || url.password) throw refused('URL carries credentials');
  if (!isHostAllowed(url.hostname, policy.allowedHosts)) throw refused('host not allowed', { host: normalizeHost(url.hostname) });
  return url;
}

export type AddressVerdict = { ok: true } | { ok: false; reason: string; range: string };

// Never a file server, whatever the mode: the metadata server (link-local) and non-unicast targets.
const ALWAYS_REFUSED = new Set(['linkLocal', 'unspecified', 'multicast', 'broadcast']);

/**
 * Whether one resolved address may be connected to. Public unicast only, unless `allowPrivate`
 * (loopback, RFC 1918, unique-local, CGNAT, reserved…); link-local (169.254.0.0/16, fe80::/10),
 * unspecified, multicast and broadcast are refused always. IPv4 embedded in IPv6 (mapped,
 * NAT64) is judged as the IPv4 address it names.
 */
export function checkAddress(address: string, allowPrivate: boolean): AddressVerdict {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address);
  } catch {
    return { ok: false, reason: 'address not understood', range: 'invalid' };
  }
  if (parsed.kind() === 'ipv6') {
    const v6 = parsed as ipaddr.IPv6;
    const range6 = v6.range();
    if (range6 === 'ipv4Mapped' || range6 === 'rfc6145' || range6 === 'rfc6052') {
      const bytes = v6.toByteArray().slice(-4);
      const inner = checkAddress(ipaddr.fromByteArray(bytes).toString(), allowPrivate);
      // A translated address is never "public" in its own right.
      if (!inner.ok || allowPrivate) return inner;
      return { ok: false, reason: 'private or internal address', range: range6 };
    }
  }
  const range = parsed.range();
  if (ALWAYS_REFUSED.has(range)) {
    return { ok: false, reason: range === 'linkLocal' ? 'link-local address (never allowed)' : `${range} address`, range };
  }
  if (range === 'unicast' || allowPrivate) return { ok: true };
  return { ok: false, reason: 'private or internal address', range };
}

const systemResolve: HostResolver = (hostname) => lookup(hostname, { all: true, verbatim: true });

/**
 * Resolves `hostname` and checks every address; one bad address refuses the host (a name that
 * mixes public and internal addresses is not trusted). Returns the checked addresses, which the
 * connection must then use (see `pinnedLookup`) so a second DNS answer cannot swap them.
 */
export async function resolveAllowed(hostname: string, allowPrivate: boolean, resolve: HostResolver = systemResolve): Promise<ResolvedAddress[]> {
  const host = normalizeHost(hostname);
  let addresses: ResolvedAddress[];
  if (ipaddr.isValid(host)) {
    addresses = [{ address: host, family: ipaddr.parse(host).kind() === 'ipv6' ? 6 : 4 }];
  } else {
    try {
      addresses = await resolve(host);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      // A temporary DNS failure is worth another attempt; an unknown name is not.
      if (code === 'EAI_AGAIN') throw error;
      throw permanent(ErrorCodes.ATTACHMENT_FAILED, `attachment host ${host} could not be resolved`, { cause: error, details: { host, reason: 'host name could not be resolved' } });
    }
  }
  if (addresses.length === 0) {
    throw permanent(ErrorCodes.ATTACHMENT_FAILED, `attachment host ${host} has no address`, { details: { host, reason: 'host name could not be resolved' } });
  }
  for (const { address } of addresses) {
    const verdict = checkAddress(address, allowPrivate);
    if (!verdict.ok) throw refused(verdict.reason, { host, address, range: verdict.range });
  }
  return addresses;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | ResolvedAddress[], family?: number) => void;

/**
 * A `net.connect` lookup that answers only with the addresses checked before: the socket goes
 * where the check looked, while the URL's host name still drives SNI, certificate checks and Host.
 */
export function pinnedLookup(addresses: readonly ResolvedAddress[]) {
  return (_hostname: string, options: { all?: boolean }, callback: LookupCallback): void => {
    if (options.all) callback(null, addresses.map((a) => ({ ...a })));
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  };
}

/**
 * Whether `url` may receive the Mailgun key: https on a Mailgun host (`mailgun.net` and its
 * subdomains), or exactly the configured `MAILGUN_API_URL` origin. Nothing else, ever.
 */
export function isMailgunOrigin(url: URL, mailgunApiUrl?: string): boolean {
  const host = normalizeHost(url.hostname);
  if (url.protocol === 'https:' && (host === 'mailgun.net' || host.endsWith('.mailgun.net'))) return true;
  if (!mailgunApiUrl) return false;
  try {
    return new URL(mailgunApiUrl).origin === url.origin;
  } catch {
    return false;
  }
}
