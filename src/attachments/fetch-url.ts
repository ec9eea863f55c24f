/**
 * One attempt at fetching one URL to one file, with undici. The address is checked before the
 * connection and pinned for it; redirects are followed by hand (same host only, re-checked);
 * credentials go only to Mailgun origins; the body streams through the size cap to disk.
 *
 * Timeouts: undici's `connect.timeout`, `headersTimeout` and `bodyTimeout` per phase, plus the
 * caller's `signal` (per-attempt / per-file / job) passed into the request: cooperative, the
 * socket is torn down when it aborts.
 */
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Agent, request } from 'undici';
import { ErrorCodes, permanent, retryable, type WorkerError } from '../errors.ts';
import { isRetryableStatus } from '../resilience/classify.ts';
import { parseRetryAfter } from '../resilience/retry-after.ts';
import { CappedFileWriter, tooLarge } from './size-limit.ts';
import type { HostResolver } from './types.ts';
import { checkUrl, isMailgunOrigin, normalizeHost, pinnedLookup, refused, resolveAllowed, type UrlPolicy } from './url-policy.ts';

/** Redirects followed per attempt. */
export const MAX_REDIRECTS = 3;

export interface FetchToFileOptions extends UrlPolicy {
  /** Aborts the attempt (attempt timeout, per-file timeout, job deadline). */
  signal: AbortSignal;
  /** Time to the response headers, ms. */
  headersTimeoutMs: number;
  /** Longest silence between body chunks, ms. */
  bodyTimeoutMs: number;
  /** TCP/TLS connect limit, ms. @defaultValue undici's 10 000 */
  connectTimeoutMs?: number;
  /** Size cap; more bytes than this and the file is cut and removed. */
  maxBytes: number;
  /** Sent as Basic auth `api:<key>` to Mailgun origins only. */
  mailgunApiKey?: string;
  /** The configured Mailgun API origin. */
  mailgunApiUrl?: string;
  /** DNS resolution. @defaultValue the system resolver */
  resolve?: HostResolver;
}

export interface FetchedFile {
  bytes: number;
  /** Content-Type the server sent, if any. */
  contentType?: string;
  /** The URL the body finally came from (after same-host redirects). */
  finalUrl: string;
}

/**
 * GETs `rawUrl` into `target` (created exclusively). Throws a WorkerError for policy refusals
 * and size (permanent), HTTP statuses (408/429/5xx retryable, with the server's Retry-After), or
 * the raw undici/socket error (the retry layer classifies it). A partial file is removed.
 */
export async function fetchToFile(rawUrl: string, target: string, options: FetchToFileOptions): Promise<FetchedFile> {
  const policy: UrlPolicy = { allowedHosts: options.allowedHosts, allowPrivate: options.allowPrivate };
  let url = checkUrl(rawUrl, policy);
  const originalHost = normalizeHost(url.hostname);

  for (let redirects = 0; ; redirects++) {
    const addresses = await resolveAllowed(url.hostname, options.allowPrivate, options.resolve);
    // One agent per hop: its connector can only reach the addresses just checked.
    const agent = new Agent({
      connect: { lookup: pinnedLookup(addresses), ...(options.connectTimeoutMs === undefined ? {} : { timeout: options.connectTimeoutMs }) },
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.bodyTimeoutMs,
    });
    try {
      const headers: Record<string, string> = { accept: '*/*', 'user-agent': 'email-worker' };
      // Decided per hop from the URL being requested: a redirect never carries the key further.
      if (options.mailgunApiKey && isMailgunOrigin(url, options.mailgunApiUrl)) {
        headers.authorization = `Basic ${Buffer.from(`api:${options.mailgunApiKey}`).toString('base64')}`;
      }
      const response = await request(url, {
        method: 'GET',
        headers,
        dispatcher: agent,
        signal: options.signal,
        headersTimeout: options.headersTimeoutMs,
        bodyTimeout: options.bodyTimeoutMs,
      });
      const { statusCode } = response;

      if (statusCode >= 300 && statusCode < 400 && statusCode !== 304) {
        await response.body.dump();
        const location = header(response.headers, 'location');
        if (!location) throw permanent(ErrorCodes.ATTACHMENT_FAILED, `attachment redirect without a Location`, { status: statusCode, details: { reason: 'the server sent an invalid redirect' } });
        if (redirects >= MAX_REDIRECTS) throw refused(`more than ${MAX_REDIRECTS} redirects`, { host: originalHost });
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          throw permanent(ErrorCodes.ATTACHMENT_FAILED, 'attachment redirect to an invalid URL', { status: statusCode, details: { reason: 'the server sent an invalid redirect' } });
        }
        if (normalizeHost(next.hostname) !== originalHost) {
          throw refused('redirected to another host', { host: originalHost, redirectHost: normalizeHost(next.hostname) });
        }
        url = checkUrl(next.href, policy);
        continue;
      }

      if (statusCode < 200 || statusCode >= 300) {
        await response.body.dump();
        throw httpError(statusCode, header(response.headers, 'retry-after'));
      }

      const declared = Number(header(response.headers, 'content-length'));
      if (Number.isFinite(declared) && declared > options.maxBytes) {
        response.body.destroy();
        throw tooLarge(options.maxBytes, { declaredBytes: declared, phase: 'content-length' });
      }

      const file = new CappedFileWriter(target, options.maxBytes);
      try {
        await pipeline(response.body, file, { signal: options.signal });
      } catch (error) {
        await rm(target, { force: true });
        throw error;
      }
      const contentType = header(response.headers, 'content-type');
      return { bytes: file.bytes, finalUrl: url.href, ...(contentType ? { contentType } : {}) };
    } finally {
      await agent.destroy().catch(() => {});
    }
  }
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function httpError(status: number, retryAfter: string | undefined): WorkerError {
  const message = `attachment download: HTTP ${status}`;
  if (!isRetryableStatus(status)) return permanent(ErrorCodes.UPSTREAM_HTTP, message, { status, details: { operation: 'attachment.download' } });
  const retryAfterMs = parseRetryAfter(retryAfter);
  return retryable(ErrorCodes.UPSTREAM_HTTP, message, { status, details: { operation: 'attachment.download' }, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
}
