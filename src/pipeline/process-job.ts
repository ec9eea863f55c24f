/**
 * The main job (SPEC §3.2): one Job in, one threaded reply out, every step under the job's
 * deadline with its own timeouts and retries. Returns a JobResult; the delivery layer maps it to
 * ack/nack in `src/errors-outcome.ts`.
 *
 * Budget: the job deadline is the profile's hardTimeout counted from the job's FIRST claim in the
 * ledger, so a redelivered or taken-over job runs only in what is left, and a job with nothing
 * left goes straight to its failure email (which has a short budget of its own). The answer
 * (download, context, Gemini) must leave room for the export and the reply, so it runs under a child deadline that reserves
 * mailgunApi (+ quartoExport when formats are requested), at most 30 % of the hard timeout.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'winston';
import { ErrorCodes, describeError, isWorkerError, permanent, type WorkerError } from '../errors.ts';
import type { JobResult } from '../errors-outcome.ts';
import type { Job } from '../jobs/schema.ts';
import type { Ledger } from '../ledger/ledger.ts';
import { serializeLedger } from '../ledger/serial-ledger.ts';
import { Deadline } from '../resilience/deadline.ts';
import type { RetryEvent, GiveUpEvent } from '../resilience/retry.ts';
import { detectRequestContext } from '../timeouts/context.ts';
import { logContextTimeoutsOnce } from '../timeouts/context-log.ts';
import { getHttpTimeouts, getRetryConfig, getTimeouts, scaleMs } from '../timeouts/engine.ts';
import { ledgerHeartbeatS, ledgerLeaseS } from '../timeouts/chain.ts';
import type { RequestContext, Timeouts } from '../timeouts/types.ts';
import type { PipelineServices } from './services.ts';
import { StepTimer } from './step-timer.ts';
import { renderReplyBody } from './reply-body.ts';
import { cutBy } from '../gemini/response.ts';
import type { ScreenVerdict, ScreenableJob } from '../ingress/screen.ts';
import type { ApiJobs } from '../api/api-jobs.ts';

export interface DeliveryInfo {
  /** Pub/Sub message id, for logs. */
  messageId?: string;
  /** 1-based delivery attempt (pull with dead-lettering reports it). */
  deliveryAttempt?: number;
  /** Pub/Sub attributes (may carry `context`). */
  attributes?: Record<string, string>;
  /** Aborted on shutdown: the job stops, releases its lease and is redelivered elsewhere. */
  shutdownSignal?: AbortSignal;
  /**
   * The message came from the dead-letter topic: Pub/Sub gave up on it, maybe before any worker
   * saw it. Nothing is run again; an unfinished job's sender gets the failure email (once).
   */
  deadLettered?: boolean;
}

export interface ProcessJobDeps extends PipelineServices {
  ledger: Ledger;
  /** This worker's identity in the ledger. */
  owner: string;
  logger: Logger;
  /**
   * Deliveries after which a retryable failure is answered with a failure email instead of nack.
   * Counted by the ledger (Pub/Sub's `deliveryAttempt` is only a hint: it exists only with a
   * dead-letter policy).
   */
  maxDeliveryAttempts: number;
  /**
   * How long a reply whose earlier send is in doubt is looked for at the provider before it is
   * sent again, ms (MAILGUN_EVENTS_LAG_S, scaled; 0 for the outbox). @defaultValue the retry policy's minDelayMs
   */
  inDoubtWindowMs?: number;
  env?: NodeJS.ProcessEnv;
  // issue 7: loop guard + sender policy + reply caps before any model call (jobs published
  // directly skip the webhook), and API jobs whose result goes to their record, not by email.
  screenJob?(job: ScreenableJob): Promise<ScreenVerdict>;
  apiJobs?: Pick<ApiJobs, 'complete' | 'fail'>;
  onIgnored?(reasons: readonly string[]): void;
}

export async function processJob(job: Job, delivery: DeliveryInfo, deps: ProcessJobDeps): Promise<JobResult> {
  const context = detectRequestContext({ job, attributes: delivery.attributes ?? {}, env: deps.env ?? process.env });
  const timeouts = getTimeouts(context);
  const log = deps.logger.child({ jobId: job.id, context, pubsubMessageId: delivery.messageId, deliveryAttempt: delivery.deliveryAttempt });
  logContextTimeoutsOnce(context, log);
  const steps = new StepTimer();
  const leaseMs = scaleMs(ledgerLeaseS * 1000);

  const claim = await deps.ledger.claim(job.id, deps.owner, leaseMs, deps.newMessageId());
  if (claim.status === 'done') {
    log.info('Job already finished; acknowledging duplicate delivery', { state: claim.record.state });
    return { status: 'duplicate' };
  }
  if (claim.status === 'busy') {
    log.info('Job is leased by another live worker; refusing this delivery', { holder: claim.record.owner });
    return { status: 'busy' };
  }
  const replyMessageId = claim.record.replyMessageId;
  // The job's own clock and count, whatever Pub/Sub reports for this delivery.
  const leftMs = Math.max(0, claim.record.firstClaimedAt + timeouts.hardTimeoutMs - Date.now());
  const lastDelivery = delivery.deadLettered === true || Math.max(claim.record.deliveries, delivery.deliveryAttempt ?? 1) >= deps.maxDeliveryAttempts;
  // A reply_pending record means a send may have reached the provider: in doubt from now on.
  const inDoubtSince = claim.record.state === 'reply_pending' ? Date.now() : undefined;
  log.info(claim.status === 'claimed' ? 'Job claimed' : 'Job taken over from an expired lease', {
    state: claim.record.state,
    replyMessageId,
    deliveries: claim.record.deliveries,
    leftMs,
    lastDelivery,
  });
  const screened = await screen(job, deps, log);
  if (screened) return screened;

  // From here on this job's ledger calls run one at a time (heartbeat vs. transitions).
  deps = { ...deps, ledger: serializeLedger(deps.ledger) };
  using deadline = Deadline.after(leftMs, { label: `job ${context}`, ...(delivery.shutdownSignal ? { parent: delivery.shutdownSignal } : {}) });
  const heartbeat = startHeartbeat(deps, job.id, leaseMs, deadline, log);
  const workDir = lazyWorkDir();
  const hooks = retryHooks(deps, log);
  const fail = (error: unknown) => failJob(job, error, { deps, log, deadline, delivery, replyMessageId, timeouts, context, steps, lastDelivery, inDoubtSince });
  try {
    // A crash after the reply was handed to the provider must not become a second reply. One look
    // now (it may spare a whole Gemini run); the send below keeps looking for the rest of the window.
    if (inDoubtSince !== undefined && (await deps.transport.wasAccepted(replyMessageId, { signal: delivery.shutdownSignal ?? AbortSignal.timeout(timeouts.mailgunApiMs), timeoutMs: timeouts.mailgunApiMs }))) {
      log.warn('Reply was already accepted by the provider before a restart; not sending again', { replyMessageId });
      await deps.ledger.finish(job.id, deps.owner, 'sent', 'replied');
      return { status: 'replied', duplicate: true };
    }
    // Given up by Pub/Sub: the failure email, without running anything again (a job whose every
    // delivery crashed a worker would crash this one too).
    if (delivery.deadLettered) throw permanent(ErrorCodes.JOB_DEAD_LETTERED, 'Pub/Sub dead-lettered the job before it was answered');
    // Nothing left of the job's hard cap (earlier deliveries used it): straight to the failure email.
    deadline.throwIfExpired();

    const answerBudget = Math.max(0, deadline.remainingMs() - replyReserveMs(timeouts, job));
    using answerDeadline = Deadline.after(answerBudget, { label: 'answer', parent: deadline.signal });

    const http = getHttpTimeouts(context);
    // Most jobs have no attachments: no step then, and no temp dir (mkdtemp + rm cost ~0.4 ms CPU per job).
    const attachments = job.attachments.length
      ? await steps.time('download', async () =>
          deps.downloadAttachments(job.attachments, {
            dir: await workDir.path(),
            deadline: answerDeadline,
            policy: getRetryConfig(context),
            perFileTimeoutMs: timeouts.attachmentDownloadMs,
            headersTimeoutMs: http.headersTimeoutMs,
            bodyTimeoutMs: http.bodyTimeoutMs,
            connectTimeoutMs: http.connectTimeoutMs,
            logger: log,
            ...hooks,
          }),
        )
      : [];

    const built = await steps.time('context', () =>
      deps.buildContext({ job, attachments, logger: log, signal: answerDeadline.signal }),
    );

    let answer;
    try {
      answer = await steps.time('gemini', () =>
        deps.gemini.streamAnswer(
          { systemInstruction: built.systemInstruction, parts: built.parts },
          {
            deadline: answerDeadline,
            policy: getRetryConfig(context),
            firstChunkMs: timeouts.genaiTimeoutMs,
            idleMs: timeouts.toolHeartbeatMs,
            totalMs: timeouts.streamTimeoutMs,
            ...hooks,
          },
        ),
      );
    } catch (error) {
      return await fail(error);
    }
    if (!answer.complete) {
      log.warn('Answer is partial: the stream was stopped before it finished', { reason: answer.stoppedBy && describeError(answer.stoppedBy), chars: answer.text.length });
    }
    if (answer.complete && cutBy(answer.finishReason)) {
      log.warn('Answer was cut by the model; the reply says so', { finishReason: answer.finishReason, chars: answer.text.length, usage: answer.usage });
    }

    const formats = job.export?.formats ?? [];
    let exported: Awaited<ReturnType<PipelineServices['exportAnswer']>> = { files: [], failures: [] };
    if (formats.length) {
      const exportBudget = Math.max(0, deadline.remainingMs() - timeouts.mailgunApiMs);
      using exportDeadline = Deadline.after(exportBudget, { label: 'export', parent: deadline.signal });
      exported = await steps.time('export', async () =>
        deps.exportAnswer(answer.text, formats, {
          workDir: await workDir.path(),
          timeoutMs: timeouts.quartoExportMs,
          // A Quarto failure is retried by the built-in engine in what is left of this budget.
          budgetMs: exportBudget,
          signal: exportDeadline.signal,
          title: job.subject ? `Re: ${job.subject}` : 'Answer',
          logger: log,
        }),
      );
    }

    // issue 7: an API job made by POST /v1/jobs keeps its result for GET /v1/jobs/:id (and its callback) instead of a reply.
    const notes = [...built.notes, ...(job.notes ?? [])];
    if (job.kind === 'api' && deps.apiJobs && (await deps.apiJobs.complete(job, { text: answer.text, complete: answer.complete, notes, exported }, { deadline, logger: log }))) {
      await deps.ledger.finish(job.id, deps.owner, 'sent', 'api-result');
      deps.metrics?.recordJob(answer.complete ? 'replied' : 'replied-partial', deadline.elapsedMs());
      log.info('Job finished: API result stored', { complete: answer.complete, timings: steps.summary(), totalMs: deadline.elapsedMs() });
      return { status: 'replied' };
    }
    const body = renderReplyBody({ answer, attachments, notes, exported, standIn: deps.standIn });
    const reply = deps.composeReply({
      parent: threadParent(job),
      from: deps.mailFrom,
      messageId: replyMessageId,
      text: body.text,
      html: body.html,
      attachments: exported.files.map((f) => ({ filename: f.filename, path: f.path, contentType: f.contentType })),
    });
    if (!(await deps.ledger.markReplyPending(job.id, deps.owner))) {
      log.warn('Lost the job lease before replying; another worker owns it now. Not sending.');
      return { status: 'busy' };
    }
    const sent = await steps.time('reply', () =>
      deps.sendExactlyOnce(deps.transport, reply, {
        deadline,
        policy: getRetryConfig(context),
        attemptTimeoutMs: timeouts.mailgunApiMs,
        // After a takeover the previous owner may have sent it already.
        checkFirst: claim.status === 'taken-over',
        ...inDoubtOptions(inDoubtSince, deps),
        logger: log,
        ...hooks,
      }),
    );
    await deps.ledger.finish(job.id, deps.owner, 'sent', answer.complete ? 'replied' : 'replied-partial');
    deps.metrics?.recordJob(answer.complete ? 'replied' : 'replied-partial', deadline.elapsedMs());
    log.info('Job finished: reply sent', {
      replyMessageId,
      delivery: sent.status,
      id: sent.id,
      path: sent.path,
      complete: answer.complete,
      attempts: answer.attempts,
      timings: steps.summary(),
      totalMs: deadline.elapsedMs(),
    });
    return { status: 'replied' };
  } catch (error) {
    return await fail(error);
  } finally {
    heartbeat.stop();
    await workDir.remove();
  }
}

/** The job's temp dir, made on first use: a job without attachments or export needs none. */
function lazyWorkDir(): { path(): Promise<string>; remove(): Promise<void> } {
  let made: Promise<string> | undefined;
  return {
    path: () => (made ??= mkdtemp(join(tmpdir(), 'email-worker-job-'))),
    remove: async () => {
      if (made) await made.then((dir) => rm(dir, { recursive: true, force: true })).catch(() => {});
    },
  };
}

/** The message a reply (answer or failure email) threads under. */
function threadParent(job: Job) {
  return { from: job.from, subject: job.subject, messageId: job.messageId, ...(job.inReplyTo ? { inReplyTo: job.inReplyTo } : {}), ...(job.references ? { references: job.references } : {}) };
}

/** Time kept back from the answer for the export and the reply. */
function replyReserveMs(timeouts: Timeouts, job: Job): number {
  const wanted = timeouts.mailgunApiMs + (job.export?.formats.length ? timeouts.quartoExportMs : 0);
  return Math.min(wanted, timeouts.hardTimeoutMs * 0.3);
}

interface FailContext {
  deps: ProcessJobDeps;
  log: Logger;
  deadline: Deadline;
  delivery: DeliveryInfo;
  replyMessageId: string;
  timeouts: Timeouts;
  context: RequestContext;
  steps: StepTimer;
  /** This delivery is the last one (ledger count or Pub/Sub's hint): no nack, tell the sender. */
  lastDelivery: boolean;
  /** Set when an earlier send under the reply's Message-ID may have been accepted. */
  inDoubtSince: number | undefined;
}

/**
 * A job that could not produce an answer. Shutdown → release the lease, redeliver elsewhere.
 * Retryable, and more deliveries remain → nack. Otherwise → one failure email, recorded as failed.
 */
async function failJob(job: Job, thrown: unknown, c: FailContext): Promise<JobResult> {
  const error: WorkerError = isWorkerError(thrown)
    ? thrown
    : permanent(ErrorCodes.INVALID_ARGUMENT, `unexpected failure: ${describeError(thrown)}`, { cause: thrown });
  if (error.code === ErrorCodes.JOB_BUSY) {
    // The lease went to another worker: it owns the job and its one reply now.
    c.log.warn('Stopped: another worker holds this job now', { err: error });
    return { status: 'busy' };
  }
  const shuttingDown = c.delivery.shutdownSignal?.aborted === true;
  if (shuttingDown) {
    await c.deps.ledger.release(job.id, c.deps.owner);
    c.log.warn('Job interrupted by shutdown; lease released for another instance', { err: error });
    return { status: 'retry-later', code: ErrorCodes.SHUTTING_DOWN };
  }
  if (error.retryable && error.code !== ErrorCodes.DEADLINE_EXCEEDED && !c.lastDelivery && !c.deadline.expired) {
    await c.deps.ledger.release(job.id, c.deps.owner);
    c.log.warn('Job failed with a retryable error; leaving it for redelivery', { err: error, timings: c.steps.summary() });
    return { status: 'retry-later', code: error.code };
  }
  c.log.error('Job failed; sending a failure email', { err: error, timings: c.steps.summary() });
  try {
    // issue 7: an API job records its failure instead of a failure email.
    if (job.kind === 'api' && c.deps.apiJobs && (await c.deps.apiJobs.fail(job, publicReason(error), { deadline: c.deadline, logger: c.log }))) {
      await c.deps.ledger.finish(job.id, c.deps.owner, 'failed', error.code);
      return { status: 'failed-replied', code: error.code };
    }
    const reply = c.deps.failureReply({
      parent: threadParent(job),
      from: c.deps.mailFrom,
      messageId: c.replyMessageId,
      reason: publicReason(error),
      secrets: c.deps.secrets,
    });
    if (!(await c.deps.ledger.markReplyPending(job.id, c.deps.owner))) return { status: 'busy' };
    // The answer may have reached the provider under this Message-ID (an earlier delivery's send,
    // or this one's whose outcome is unknown): look for it through the window before sending.
    const inDoubtSince = c.inDoubtSince ?? (error.code === ErrorCodes.SEND_OUTCOME_UNKNOWN ? Date.now() : undefined);
    // The job deadline may be spent: the failure email gets a fresh, short budget of its own
    // (plus the in-doubt window when it applies).
    const ownBudgetMs = c.timeouts.mailgunApiMs * 2 + (inDoubtSince !== undefined ? (c.deps.inDoubtWindowMs ?? 0) : 0);
    using mailDeadline = Deadline.after(Math.max(c.deadline.remainingMs(), ownBudgetMs), { label: 'failure email', ...(c.delivery.shutdownSignal ? { parent: c.delivery.shutdownSignal } : {}) });
    // checkFirst: the answer itself may have reached the provider under this Message-ID (a send
    // whose outcome was unknown); then that answer stands and no failure email follows.
    const sent = await c.deps.sendExactlyOnce(c.deps.transport, reply, {
      deadline: mailDeadline,
      policy: getRetryConfig(c.context),
      attemptTimeoutMs: c.timeouts.mailgunApiMs,
      checkFirst: true,
      ...inDoubtOptions(inDoubtSince, c.deps),
      logger: c.log,
    });
    if (sent.status === 'already-sent' && error.code === ErrorCodes.SEND_OUTCOME_UNKNOWN) {
      await c.deps.ledger.finish(job.id, c.deps.owner, 'sent', 'replied');
      c.log.info('The reply had been accepted after all; no failure email sent', { replyMessageId: c.replyMessageId });
      return { status: 'replied' };
    }
    await c.deps.ledger.finish(job.id, c.deps.owner, 'failed', error.code);
    c.deps.metrics?.recordJob('failed-replied', c.deadline.elapsedMs());
    return { status: 'failed-replied', code: error.code };
  } catch (sendError) {
    c.log.error('Failure email could not be sent', { err: sendError });
    if (isWorkerError(sendError) && sendError.retryable && !c.lastDelivery) {
      await c.deps.ledger.release(job.id, c.deps.owner);
      return { status: 'retry-later', code: sendError.code };
    }
    await c.deps.ledger.finish(job.id, c.deps.owner, 'failed', error.code);
    c.deps.metrics?.recordJob('failed-silent', c.deadline.elapsedMs());
    return { status: 'failed-silent', code: error.code };
  }
}

/**
 * issue 7: the inbound screen in the worker. A job it stops is finished as failed with the reasons
 * and never reaches the model or a reply; a screen that cannot run (store down) leaves the job for
 * redelivery. Returns undefined when the job may go on.
 */
async function screen(job: Job, deps: ProcessJobDeps, log: Logger): Promise<JobResult | undefined> {
  if (!deps.screenJob) return undefined;
  let verdict: ScreenVerdict;
  try {
    verdict = await deps.screenJob(job);
  } catch (error) {
    log.warn('Inbound screen unavailable; leaving the job for redelivery', { err: error });
    await deps.ledger.release(job.id, deps.owner);
    return { status: 'retry-later', code: isWorkerError(error) ? error.code : ErrorCodes.NETWORK };
  }
  if (verdict.action === 'accept') return undefined;
  const reasons = verdict.action === 'ignore' ? verdict.reasons : [verdict.reason];
  log.warn('Job not answered: stopped by the loop guard, sender policy or reply caps', { reasons, sender: job.from });
  deps.onIgnored?.(reasons);
  await deps.ledger.finish(job.id, deps.owner, 'failed', `ignored: ${reasons.join(', ')}`);
  deps.metrics?.recordJob('ignored', 0);
  return { status: 'failed-silent', code: ErrorCodes.INBOUND_IGNORED };
}

/** The send options for a reply whose Message-ID may already have reached the provider. */
function inDoubtOptions(inDoubtSince: number | undefined, deps: ProcessJobDeps): { inDoubtSince?: number; acceptanceLagMs?: number } {
  return {
    ...(inDoubtSince !== undefined ? { inDoubtSince } : {}),
    ...(deps.inDoubtWindowMs !== undefined ? { acceptanceLagMs: deps.inDoubtWindowMs } : {}),
  };
}

/** What the sender is told: plain words by error family, no internals. */
export function publicReason(error: WorkerError): string {
  switch (error.code) {
    case ErrorCodes.DEADLINE_EXCEEDED:
    case ErrorCodes.TIMEOUT:
      return 'the answer took longer than the time this service allows for one message';
    case ErrorCodes.GEMINI_BLOCKED:
      return 'the question could not be answered because the model declined it for safety reasons';
    case ErrorCodes.GEMINI_EMPTY:
      return 'the model returned an empty answer';
    case ErrorCodes.UPSTREAM_HTTP:
    case ErrorCodes.NETWORK:
    case ErrorCodes.STREAM_BROKEN:
      return 'the answering service was unavailable, even after several retries';
    case ErrorCodes.JOB_INVALID:
      return 'the message could not be read as a request';
    case ErrorCodes.JOB_DEAD_LETTERED:
      return 'the message could not be processed, even after several attempts';
    default:
      return 'an internal error stopped the answer';
  }
}

function startHeartbeat(deps: ProcessJobDeps, jobId: string, leaseMs: number, deadline: Deadline, log: Logger) {
  let renewing = false;
  const timer = setInterval(() => {
    // A renewal still under way (slow ledger) is not queued behind: the next tick tries again.
    if (renewing) return;
    renewing = true;
    deps.ledger
      .renew(jobId, deps.owner, leaseMs)
      .then(
        async (held) => {
          if (held) return;
          // A renewal queued behind this run's own finish sees the job done: not a lost lease.
          const record = await deps.ledger.get(jobId).catch(() => undefined);
          if (record && record.owner === deps.owner && (record.state === 'sent' || record.state === 'failed')) return;
          log.error('Job lease lost (taken over or finished elsewhere); stopping this run');
          deadline.abort(permanent(ErrorCodes.JOB_BUSY, 'job lease lost to another worker'));
        },
        (error: unknown) => log.warn('Lease renewal failed; will retry at the next heartbeat', { err: error }),
      )
      .finally(() => (renewing = false));
  }, scaleMs(ledgerHeartbeatS * 1000));
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

function retryHooks(deps: ProcessJobDeps, log: Logger): { onRetry: (e: RetryEvent) => void; onGiveUp: (e: GiveUpEvent) => void } {
  const observer = deps.retryObserver(log);
  return { onRetry: observer.onRetry, onGiveUp: observer.onGiveUp };
}
