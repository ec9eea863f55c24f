/**
 * Pull delivery (WORKER_MODE=pull): streaming pull with flow control, lease extension for the
 * whole job, ack/nack from the JobResult (`src/errors-outcome.ts`), and a drain on shutdown.
 */
import type { Message, Subscription } from '@google-cloud/pubsub';
import type { Logger } from 'winston';
import { ErrorCodes, retryable } from '../errors.ts';
import { deliveryOutcome, type JobResult } from '../errors-outcome.ts';
import { Duration } from './pubsub-resources.ts';
import { drainWithGrace } from './drain.ts';
import { pullMaxAckDeadlineS } from '../timeouts/chain.ts';

export interface PullWorkerOptions {
  subscription: Subscription;
  /** Jobs processed at once (WORKER_CONCURRENCY). */
  concurrency: number;
  /** How long the client keeps extending a message's ack deadline; ≥ hardTimeout (chain rule). */
  maxExtensionS: number;
  /**
   * Longest ack deadline one extension asks for, s (10–600): how long a crashed worker's message
   * waits before Pub/Sub redelivers it. @defaultValue 120 (the ledger lease, `pullMaxAckDeadlineS`)
   */
  maxAckDeadlineS?: number;
  /** Handles one delivery; never throws (errors become a JobResult). */
  handle: (message: Message, shutdownSignal: AbortSignal) => Promise<JobResult>;
  logger: Logger;
  /** Names this worker in its log lines. @defaultValue 'jobs' */
  name?: string;
}

export interface PullWorker {
  /** Jobs running now. */
  readonly inFlight: number;
  /**
   * Stops taking work, waits up to `graceMs` for running jobs, then aborts the rest (they release
   * their leases and are nacked, so another instance resumes them) and closes the stream.
   */
  stop(graceMs: number): Promise<void>;
}

export function startPullWorker(options: PullWorkerOptions): PullWorker {
  const { subscription, logger } = options;
  const shutdown = new AbortController();
  const running = new Set<Promise<void>>();
  let draining = false;

  const maxAckDeadlineS = Math.min(600, Math.max(10, Math.ceil(options.maxAckDeadlineS ?? pullMaxAckDeadlineS)));
  subscription.setOptions({
    flowControl: { maxMessages: options.concurrency, allowExcessMessages: false },
    // Always Duration objects: a plain number made the client throw asynchronously (EMULATORS.md).
    maxExtensionTime: Duration.from({ seconds: options.maxExtensionS }),
    maxAckDeadline: Duration.from({ seconds: maxAckDeadlineS }),
    closeOptions: { behavior: 'NACK', timeout: Duration.from({ seconds: 5 }) },
  });

  const onMessage = (message: Message) => {
    if (draining) {
      message.nack();
      return;
    }
    const task = (async () => {
      let result: JobResult;
      try {
        result = await options.handle(message, shutdown.signal);
      } catch (error) {
        // handle() is not supposed to throw; if it does, let Pub/Sub redeliver rather than lose the job.
        logger.error('Job handler threw; nacking for redelivery', { err: error, pubsubMessageId: message.id });
        result = { status: 'retry-later', code: 'EW_ERR_INVALID_ARGUMENT' };
      }
      const outcome = deliveryOutcome(result);
      if (outcome.pubsub === 'ack') message.ack();
      else message.nack();
      logger.debug('Delivery settled', { pubsubMessageId: message.id, result: result.status, outcome: outcome.pubsub });
    })();
    running.add(task);
    void task.finally(() => running.delete(task));
  };
  const onError = (error: Error) => logger.error('Pub/Sub subscriber error', { err: error });

  subscription.on('message', onMessage);
  subscription.on('error', onError);
  const name = options.name ?? 'jobs';
  logger.info(name === 'jobs' ? 'Pull worker started' : `Pull worker started: ${name}`, { subscription: subscription.name, concurrency: options.concurrency, maxExtensionS: options.maxExtensionS, maxAckDeadlineS });

  return {
    get inFlight() {
      return running.size;
    },
    async stop(graceMs) {
      draining = true;
      await drainWithGrace(running, graceMs, () => {
        logger.warn('Shutdown grace over; interrupting running jobs', { inFlight: running.size });
        shutdown.abort(retryable(ErrorCodes.SHUTTING_DOWN, 'worker is shutting down'));
      });
      subscription.removeListener('message', onMessage);
      await subscription.close();
      subscription.removeListener('error', onError);
      logger.info(name === 'jobs' ? 'Pull worker stopped' : `Pull worker stopped: ${name}`);
    },
  };
}
