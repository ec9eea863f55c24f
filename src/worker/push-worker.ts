/**
 * Push delivery (WORKER_MODE=push, a Cloud Run service): `POST /pubsub/push` holds the request
 * while the job runs and answers with the status from `src/errors-outcome.ts`:
 *
 * - finished (replied, failed and told, duplicate of a finished job) → 204: Pub/Sub acks;
 * - the job is running elsewhere, or on this instance (a redelivery after the ack deadline while
 *   the first request is still open) → 409, nothing changed: the running delivery answers;
 * - retryable failure, shutdown → 503: Pub/Sub redelivers after its backoff;
 * - malformed envelope, unreadable body or undecodable data → 204 and a recorded error: a 4xx
 *   would only be redelivered until the dead-letter limit, and the message can never become a job;
 * - missing or invalid OIDC token (when required) → 401, before anything is read or run.
 *
 * Shutdown (SIGTERM) as in pull: new pushes get 503; running jobs get the grace period, then they
 * are aborted, release their leases and answer 503 so another instance resumes them.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'winston';
import { z } from 'zod';
import { ErrorCodes, retryable } from '../errors.ts';
import { deliveryOutcome, httpStatusForError, type JobResult } from '../errors-outcome.ts';
import type { PushVerifier } from './push-auth.ts';
import { drainWithGrace } from './drain.ts';

/** One delivery as the job handler sees it, whichever mode it came by. */
export interface DeliveredMessage {
  id: string;
  data: Buffer;
  attributes: Record<string, string>;
  /** Pub/Sub's count; present only with a dead-letter policy. The ledger's count decides. */
  deliveryAttempt: number;
}

export interface PushWorkerOptions {
  /** Route path. @defaultValue '/pubsub/push' */
  path?: string;
  /** Handles one delivery; never throws (errors become a JobResult). */
  handle: (message: DeliveredMessage, shutdownSignal: AbortSignal) => Promise<JobResult>;
  /** OIDC check; undefined when REQUIRE_PUSH_AUTH is off. */
  verify?: PushVerifier;
  /** Called for every push that cannot become a job (recorded, acknowledged). @defaultValue none */
  onMalformed?: (reason: string) => void;
  /** Body limit: a 10 MB Pub/Sub message in base64 plus the envelope. @defaultValue '16mb' */
  bodyLimit?: string;
  logger: Logger;
}

export interface PushWorker {
  router: Router;
  readonly inFlight: number;
  /** Refuses new pushes (503), waits up to `graceMs` for running jobs, then aborts the rest. */
  stop(graceMs: number): Promise<void>;
}

// Pub/Sub's push body: https://cloud.google.com/pubsub/docs/push#receive_push
const Envelope = z.object({
  subscription: z.string().optional(),
  deliveryAttempt: z.number().int().positive().optional(),
  message: z.object({
    data: z.string().optional(),
    attributes: z.record(z.string(), z.string()).optional(),
    messageId: z.string().optional(),
    message_id: z.string().optional(),
  }),
});

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function createPushWorker(options: PushWorkerOptions): PushWorker {
  const { logger } = options;
  const path = options.path ?? '/pubsub/push';
  const shutdown = new AbortController();
  const running = new Set<Promise<unknown>>();
  let draining = false;

  const malformed = (res: Response, reason: string, extra: Record<string, unknown> = {}) => {
    logger.error('Malformed push acknowledged and not processed', { reason, ...extra });
    options.onMalformed?.(reason);
    res.status(204).end();
  };

  const router = express.Router();
  router.post(
    path,
    async (req: Request, res: Response, next: NextFunction) => {
      if (draining) {
        res.status(503).json({ error: ErrorCodes.SHUTTING_DOWN });
        return;
      }
      if (!options.verify) return next();
      try {
        await options.verify(req.headers.authorization);
        next();
      } catch (error) {
        logger.warn('Push refused: authentication failed', { err: error });
        res.status(httpStatusForError(error)).json({ error: ErrorCodes.PUSH_UNAUTHENTICATED });
      }
    },
    express.json({ limit: options.bodyLimit ?? '16mb', type: () => true }),
    async (req: Request, res: Response) => {
      const parsed = Envelope.safeParse(req.body);
      if (!parsed.success) return malformed(res, `not a Pub/Sub push envelope: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
      const { message, deliveryAttempt } = parsed.data;
      const id = message.messageId ?? message.message_id ?? '';
      const data = message.data ?? '';
      if (!BASE64.test(data)) return malformed(res, 'message data is not base64', { pubsubMessageId: id });
      const task = options.handle(
        { id, data: Buffer.from(data, 'base64'), attributes: message.attributes ?? {}, deliveryAttempt: deliveryAttempt ?? 0 },
        shutdown.signal,
      );
      running.add(task);
      let result: JobResult;
      try {
        result = await task;
      } catch (error) {
        // handle() is not supposed to throw; if it does, let Pub/Sub redeliver rather than lose the job.
        logger.error('Job handler threw; answering 503 for redelivery', { err: error, pubsubMessageId: id });
        result = { status: 'retry-later', code: ErrorCodes.INVALID_ARGUMENT };
      } finally {
        running.delete(task);
      }
      const status = deliveryOutcome(result).http;
      logger.debug('Push settled', { pubsubMessageId: id, result: result.status, status });
      if (status === 204) res.status(204).end();
      else res.status(status).json({ result: result.status });
    },
  );
  // Body errors (bad JSON, wrong encoding, over the limit) never reach the handler. Such a push can
  // never become a job and a 4xx would only be redelivered: acknowledge it and record why.
  router.use(path, (error: { type?: string; status?: number; message?: string }, _req: Request, res: Response, next: NextFunction) => {
    if (typeof error.status === 'number' && error.status >= 400 && error.status < 500) {
      return malformed(res, `push body unreadable (${error.type ?? error.status}): ${error.message ?? 'parse error'}`);
    }
    next(error);
  });

  return {
    router,
    get inFlight() {
      return running.size;
    },
    async stop(graceMs) {
      draining = true;
      await drainWithGrace(running, graceMs, () => {
        logger.warn('Shutdown grace over; interrupting running pushed jobs', { inFlight: running.size });
        shutdown.abort(retryable(ErrorCodes.SHUTTING_DOWN, 'worker is shutting down'));
      });
      logger.info('Push worker stopped');
    },
  };
}
