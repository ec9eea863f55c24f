/**
 * `POST /inbound/mailgun` (SPEC §4): Mailgun route actions store(notify=…) (urlencoded) and
 * forward(…) (multipart). Order of checks, and the answer of each:
 *
 * 1. method (405), content type (415), body size (413, the rest is not read), body parse;
 * 2. signature and timestamp (401), token seen before (401 — replay);
 * 3. the post must become a job (406 with the reason: Mailgun stops retrying);
 * 4. loop guard (200 `{ignored}`), sender policy (406), reply caps (200 `{ignored}`);
 * 5. publish to Pub/Sub; 200 `{id}` only once the publish is confirmed, else 503 and the token is
 *    released so Mailgun's retry (same token) is accepted.
 *
 * Retries and duplicate posts of one mail get the same job id (from its Message-ID); the ledger
 * makes that one reply.
 */
import express, { Router, type Request, type Response } from 'express';
import type { Logger } from 'winston';
import { ErrorCodes, describeError, isWorkerError, permanent, retryable, type WorkerError } from '../errors.ts';
import { httpStatusForError } from '../errors-outcome.ts';
import type { Job } from '../jobs/schema.ts';
import type { IngressStore } from '../ledger/ingress-store.ts';
import { parseForwardBody, tooLargeError } from './forward-body.ts';
import { inboundMail, type InboundFile } from './inbound-mail.ts';
import type { IngressMetrics } from './ingress-metrics.ts';
import { screenMail, type ScreenPolicy } from './screen.ts';
import { SIGNATURE_CLOCK_SKEW_MS, SIGNATURE_MAX_AGE_MS, verifyMailgunSignature } from './signature.ts';

export const MAILGUN_WEBHOOK_PATH = '/inbound/mailgun';
const TOKEN_SPACE = 'mailgun-token';

export interface MailgunWebhookOptions {
  /** MAILGUN_WEBHOOK_SIGNING_KEY; without it every post is refused with 401. */
  signingKey?: string;
  store: IngressStore;
  policy: ScreenPolicy;
  /** Publishes the job; resolves once Pub/Sub confirmed it (the message id). */
  publish(job: Job): Promise<string>;
  limits: {
    /** store() posts (urlencoded), bytes. */
    storeMaxBytes: number;
    /** forward() posts (multipart), bytes. */
    forwardMaxBytes: number;
    /** Attachment bytes inlined from a forward() post. */
    inlineMaxBytes: number;
  };
  logger: Logger;
  metrics?: IngressMetrics;
  /** Clock for signature ages, for tests. @defaultValue Date.now */
  now?: () => number;
}

function httpError(code: (typeof ErrorCodes)[keyof typeof ErrorCodes], message: string, details: Record<string, unknown> = {}): WorkerError {
  return permanent(code, message, { details });
}

export function createMailgunRouter(options: MailgunWebhookOptions): Router {
  const router = Router();
  const now = options.now ?? Date.now;
  const urlencoded = express.urlencoded({ extended: false, limit: options.limits.storeMaxBytes, parameterLimit: 1000 });

  const readBody = async (req: Request, res: Response): Promise<{ action: string; fields: Record<string, string>; files: InboundFile[] }> => {
    const type = (req.headers['content-type'] ?? '').toLowerCase();
    const multipart = type.startsWith('multipart/form-data');
    if (!multipart && !type.startsWith('application/x-www-form-urlencoded')) {
      throw httpError(ErrorCodes.UNSUPPORTED_MEDIA_TYPE, `unsupported content type "${type.split(';')[0]}"; Mailgun posts urlencoded (store) or multipart (forward)`);
    }
    const limit = multipart ? options.limits.forwardMaxBytes : options.limits.storeMaxBytes;
    if (Number(req.headers['content-length'] ?? 0) > limit) throw tooLargeError(limit);
    if (multipart) {
      const { fields, files } = await parseForwardBody(req, { maxBytes: limit, inlineMaxBytes: options.limits.inlineMaxBytes });
      return { action: 'forward', fields, files };
    }
    await new Promise<void>((resolve, reject) =>
      urlencoded(req, res, (error?: unknown) => {
        if (!error) return resolve();
        const status = (error as { status?: number }).status;
        reject(status === 413 ? tooLargeError(limit) : httpError(ErrorCodes.INBOUND_REJECTED, `unreadable form body: ${(error as Error).message}`));
      }),
    );
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries((req.body ?? {}) as Record<string, unknown>)) fields[k] = Array.isArray(v) ? String(v[0]) : String(v);
    return { action: 'store', fields, files: [] };
  };

  router.all(MAILGUN_WEBHOOK_PATH, async (req, res) => {
    const started = performance.now();
    let action = 'unknown';
    let token: string | undefined;
    let tokenHeld = false;
    const log = options.logger;
    const answer = (status: number, body: Record<string, unknown>) => {
      const json = JSON.stringify(body);
      // Written directly (no ETag, no content negotiation): Mailgun reads only the status.
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(json),
        // A refused body is not read further: close the connection rather than drain it.
        ...(status === 413 ? { connection: 'close' } : {}),
      });
      res.end(json);
      options.metrics?.post(action, status, performance.now() - started);
    };
    try {
      if (req.method !== 'POST') {
        res.setHeader('Allow', 'POST');
        answer(405, { error: 'method not allowed' });
        return;
      }
      const body = await readBody(req, res);
      action = body.action;
      const { fields } = body;
      const verdict = verifyMailgunSignature({ timestamp: fields.timestamp, token: fields.token, signature: fields.signature }, options.signingKey, now());
      if (!verdict.ok) throw httpError(ErrorCodes.INBOUND_UNAUTHORIZED, `signature refused: ${verdict.reason}`, { reason: verdict.reason });
      token = fields.token!;
      // Remembered for its whole validity window; older timestamps are refused as stale anyway.
      tokenHeld = await options.store.createIfAbsent(TOKEN_SPACE, token, { at: now() }, verdict.timestampMs + SIGNATURE_MAX_AGE_MS + SIGNATURE_CLOCK_SKEW_MS);
      if (!tokenHeld) throw httpError(ErrorCodes.INBOUND_UNAUTHORIZED, 'signature refused: replayed token', { reason: 'replayed' });

      const mail = inboundMail(fields, body.files, { inlineMaxBytes: options.limits.inlineMaxBytes });
      // Few fields: every string in a log line goes through redaction, once per post.
      const where = { jobId: mail.job.id, action, sender: mail.sender };
      const screen = await screenMail({ jobId: mail.job.id, sender: mail.sender, subject: mail.job.subject, headers: mail.headers, threadKey: mail.threadKey }, options.policy, options.store);
      if (screen.action === 'ignore') {
        log.info('Inbound mail ignored: it will not be answered', { ...where, reasons: screen.reasons });
        for (const reason of screen.reasons) options.metrics?.ignored('ingress', reason);
        answer(200, { ignored: screen.reasons, id: mail.job.id });
        return;
      }
      if (screen.action === 'reject') {
        options.metrics?.ignored('ingress', screen.reason);
        throw httpError(ErrorCodes.INBOUND_REJECTED, `policy: ${screen.reason}`, { reason: screen.reason, sender: mail.sender });
      }
      let published: string;
      try {
        published = await options.publish(mail.job);
      } catch (error) {
        throw retryable(ErrorCodes.PUBLISH_FAILED, `publishing the job failed: ${describeError(error)}`, { cause: error });
      }
      // debug: the worker logs the same job id when it claims it, and ingress_posts_total counts
      // accepted posts; an info line per post would double the webhook's CPU cost (bench/README.md).
      log.debug('Inbound mail published as a job', { ...where, pubsubMessageId: published });
      answer(200, { id: mail.job.id });
    } catch (thrown) {
      // Anything unexpected (the ingress store down, a bug) is a server-side failure: 5xx, so
      // Mailgun retries and the token is released for that retry.
      const error = isWorkerError(thrown) ? thrown : retryable(ErrorCodes.NETWORK, `internal failure: ${describeError(thrown)}`, { cause: thrown });
      const status = httpStatusForError(error);
      // Nothing was published: let Mailgun's retry (same token) through.
      if (tokenHeld && status >= 500 && token) await options.store.delete(TOKEN_SPACE, token).catch(() => {});
      const level = status >= 500 ? 'error' : 'warn';
      log.log(level, `Inbound post refused (${status})`, { route: MAILGUN_WEBHOOK_PATH, err: error, action, status });
      answer(status, { error: error.code, message: status >= 500 ? 'temporary failure; retry later' : error.message });
    }
  });
  return router;
}
