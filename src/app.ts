/**
 * Wiring: builds the worker from a validated Config — services bound to their settings, the
 * ledger, the HTTP server and the delivery mode — and returns one `stop()` for shutdown.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Message, Subscription } from '@google-cloud/pubsub';
import type { Logger } from 'winston';
import type { Config } from './config.ts';
import { ErrorCodes } from './errors.ts';
import type { JobResult } from './errors-outcome.ts';
import { closeSharedPandocEngine } from './export/pandoc-engine.ts';
import { composeReply, failureReply, newMessageId } from './mail/compose.ts';
import type { MailTransport } from './mail/types.ts';
import { parseJob } from './jobs/schema.ts';
import { createLedger } from './ledger/create-ledger.ts';
import type { Ledger } from './ledger/ledger.ts';
import { closeFirestoreClients } from './ledger/firestore-client.ts';
import { ledgerUsageCounter } from './ledger/ledger-metrics.ts';
import { startHttpServer } from './http/server.ts';
import { createAlertEvaluator } from './observability/alerts.ts';
import { createMetrics, retryObserver, type Metrics } from './observability/metrics.ts';
import { setLevelMetricsSink } from './timeouts/with-timeout.ts';
import { processJob, publicReason, type ProcessJobDeps } from './pipeline/process-job.ts';
import type { PipelineServices } from './pipeline/services.ts';
import { createPubSub, ensureResources } from './worker/pubsub-resources.ts';
import { startPullWorker } from './worker/pull-worker.ts';
import { createPushWorker, type DeliveredMessage } from './worker/push-worker.ts';
import { createPushVerifier } from './worker/push-auth.ts';
import { checkSubscription, inspectSubscription, type SubscriptionWarning } from './worker/subscription-check.ts';
import { expectationsOf } from './worker/subscription-report.ts';
import { pullLeaseExtensionS, pullMaxAckDeadlineS } from './timeouts/chain.ts';
import { Deadline } from './resilience/deadline.ts';
import { getRetryConfig, getTimeouts, scaleMs } from './timeouts/engine.ts';
import { lazy } from './lazy.ts';
import { createIngressStore, type IngressStore } from './ledger/ingress-store.ts';
import { createIngressMetrics } from './ingress/ingress-metrics.ts';
import { INGRESS_PUBLISH_OPTIONS, jobPublisher, mailgunRouterFromConfig } from './ingress/from-config.ts';
import { ingressPolicy, screenJob, type ScreenableJob } from './ingress/screen.ts';
import { createApiJobs } from './api/api-jobs.ts';
import { createJobsRouter } from './api/jobs-router.ts';
import { createAskRouter } from './api/ask-router.ts';

export interface RunningApp {
  url: string;
  ledger: Ledger;
  metrics: Metrics;
  /** Replay tokens, reply caps, API job records (issue 7). */
  ingressStore: IngressStore;
  /** What the start-up subscription check found (also logged and in /readyz details). */
  subscriptionWarnings: SubscriptionWarning[];
  stop(): Promise<void>;
}

/**
 * Binds the product's modules to the configuration: what `processJob` calls. The modules a job
 * needs (downloads, context, Gemini SDK, export engines, Mailgun client) load on first use, not at
 * start-up: a push instance scaled from zero is ready sooner (bench/README.md, startup).
 */
export function createServices(config: Config, metrics: Metrics, logger?: Logger): PipelineServices {
  const gemini = lazy(async () => {
    const { createGeminiClient } = await import('./gemini/client.ts');
    return createGeminiClient({ apiKey: config.gemini.apiKey, model: config.gemini.model, maxOutputTokens: config.geminiMaxOutputTokens, ...(config.gemini.baseUrl ? { baseUrl: config.gemini.baseUrl } : {}) });
  });
  const transport = lazy(async () => {
    const { createTransport } = await import('./mail/transport.ts');
    return createTransport({
      ...(config.mailgun.apiKey ? { mailgunApiKey: config.mailgun.apiKey } : {}),
      mailgunDomain: config.mailgun.domain,
      mailgunApiUrl: config.mailgun.apiUrl,
      outboxDir: config.outboxDir,
      ...(logger ? { logger } : {}),
    });
  });
  const lazyTransport: MailTransport = {
    kind: config.mailgun.apiKey ? 'mailgun' : 'outbox',
    send: async (reply, options) => (await transport()).send(reply, options),
    wasAccepted: async (messageId, options) => (await transport()).wasAccepted(messageId, options),
  };
  return {
    downloadAttachments: async (attachments, options) =>
      (await import('./attachments/download.ts')).downloadAttachments(attachments, {
        ...options,
        maxBytes: config.attachments.maxBytes,
        allowedHosts: config.attachments.allowedHosts,
        allowPrivate: config.attachments.allowPrivate,
        ...(config.mailgun.apiKey ? { mailgunApiKey: config.mailgun.apiKey } : {}),
        mailgunApiUrl: config.mailgun.apiUrl,
      }),
    buildContext: async (input) =>
      (await import('./context/build-context.ts')).buildContext({ ...input, ...(config.knowledgeDir ? { knowledgeDir: config.knowledgeDir } : {}) }),
    gemini: { streamAnswer: async (request, options) => (await gemini()).streamAnswer(request, options) },
    exportAnswer: async (markdown, formats, options) =>
      (await import('./export/export-answer.ts')).exportAnswer(markdown, formats, { ...options, onRender: (e) => metrics.recordExport(e), ...(config.quartoPath ? { quartoPath: config.quartoPath } : {}) }),
    newMessageId: () => newMessageId(config.mailgun.domain),
    composeReply,
    failureReply,
    transport: lazyTransport,
    sendExactlyOnce: async (t, reply, options) => (await import('./mail/send.ts')).sendExactlyOnce(t, reply, options),
    retryObserver: (logger) => retryObserver(logger, metrics),
    metrics,
    mailFrom: config.mailFrom,
    secrets: config.secrets,
    standIn: config.gemini.standIn,
  };
}

/**
 * Handles one Pub/Sub delivery: parse, process, and — for a malformed job — acknowledge with a
 * recorded reason and a short failure email when the sender is known. Never throws.
 */
export function createDeliveryHandler(
  config: Config,
  deps: { services: PipelineServices & Pick<ProcessJobDeps, 'screenJob' | 'apiJobs' | 'onIgnored'>; ledger: Ledger; logger: Logger; owner: string },
  options: {
    /** Messages from the dead-letter notice subscription: tell the sender, run nothing again. @defaultValue false */
    deadLettered?: boolean;
  } = {},
) {
  // An in-doubt reply is looked for this long before it is sent again; the outbox answers at once.
  const inDoubtWindowMs = deps.services.transport.kind === 'outbox' ? 0 : scaleMs(config.mailEventsLagS * 1000, config.timeouts);
  return async (message: Pick<Message, 'id' | 'data' | 'attributes' | 'deliveryAttempt'> | DeliveredMessage, shutdownSignal: AbortSignal): Promise<JobResult> => {
    const parsed = parseJob(message.data);
    if (!parsed.ok && options.deadLettered) {
      // Its first delivery already handled it as invalid (and told a known sender).
      deps.logger.error('Invalid job in the dead letters: acknowledged', { err: parsed.error, pubsubMessageId: message.id });
      return { status: 'failed-silent', code: ErrorCodes.JOB_INVALID };
    }
    if (!parsed.ok) {
      deps.logger.error('Invalid job: acknowledged and not processed', { err: parsed.error, pubsubMessageId: message.id, sender: parsed.sender });
      deps.services.metrics?.recordJob('invalid', 0);
      if (!parsed.sender) return { status: 'failed-silent', code: ErrorCodes.JOB_INVALID };
      try {
        // issue 7: a failure email is a reply like any other: loop guard, sender policy, caps.
        if (deps.services.screenJob) {
          const verdict = await deps.services.screenJob({ id: `invalid-${message.id}`, from: parsed.sender, subject: parsed.subject ?? '' });
          if (verdict.action !== 'accept') {
            deps.logger.warn('No failure email for the invalid job: stopped by the inbound screen', { verdict });
            return { status: 'failed-silent', code: ErrorCodes.JOB_INVALID };
          }
        }
        const timeouts = getTimeouts('email');
        using deadline = Deadline.after(timeouts.mailgunApiMs * 2, { label: 'invalid-job reply', parent: shutdownSignal });
        const reply = deps.services.failureReply({
          parent: { from: parsed.sender, subject: parsed.subject ?? '', ...(parsed.messageId ? { messageId: parsed.messageId } : {}) },
          from: config.mailFrom,
          // One failure email per broken message: the id is stable across redeliveries.
          messageId: `<invalid-${message.id}@${config.mailgun.domain}>`,
          reason: publicReason(parsed.error),
          secrets: config.secrets,
        });
        await deps.services.sendExactlyOnce(deps.services.transport, reply, {
          deadline,
          policy: getRetryConfig('email'),
          attemptTimeoutMs: timeouts.mailgunApiMs,
          // A redelivery of the same broken message must not send a second failure email.
          checkFirst: true,
          logger: deps.logger,
        });
        return { status: 'failed-replied', code: ErrorCodes.JOB_INVALID };
      } catch (error) {
        deps.logger.error('Could not send the failure email for an invalid job', { err: error });
        return { status: 'failed-silent', code: ErrorCodes.JOB_INVALID };
      }
    }
    return processJob(
      parsed.job,
      { messageId: message.id, deliveryAttempt: message.deliveryAttempt || 1, attributes: message.attributes, shutdownSignal, ...(options.deadLettered ? { deadLettered: true } : {}) },
      { ...deps.services, ledger: deps.ledger, owner: deps.owner, logger: deps.logger, maxDeliveryAttempts: config.pubsub.maxDeliveryAttempts, inDoubtWindowMs },
    );
  };
}

export interface StartAppOptions {
  /** Redelivery backoff of a subscription the app creates on the emulator. @defaultValue 10–600 s */
  subscriptionBackoffSeconds?: { min: number; max: number };
}

export async function startApp(config: Config, logger: Logger, options: StartAppOptions = {}): Promise<RunningApp> {
  const metrics = createMetrics({ defaultMetrics: true });
  // T1–T5 outcomes feed the timeout_percentage window; the evaluator logs each threshold crossing once.
  setLevelMetricsSink(metrics);
  const alerts = createAlertEvaluator({ metrics, logger, intervalMs: 30_000 });
  const ledger = await createLedger(config, { onUsage: ledgerUsageCounter(metrics.registry) });
  const services = createServices(config, metrics, logger);
  const owner = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const pubsub = createPubSub(config);
  const { topic, subscription } = await ensureResources(pubsub, config, {
    create: Boolean(config.pubsub.emulatorHost),
    createSubscription: config.workerMode === 'pull',
    ...(options.subscriptionBackoffSeconds ? { backoffSeconds: options.subscriptionBackoffSeconds } : {}),
  });
  const [checked, notice] = await Promise.all([
    config.checkSubscription ? subscriptionCheck(config, subscription, logger) : [],
    config.workerMode === 'pull' ? deadLetterNoticeSubscription(config, pubsub, logger) : { subscription: undefined, warning: undefined },
  ]);
  const subscriptionWarnings = [...checked, ...(notice.warning ? [notice.warning] : [])];
  const noticeSubscription = notice.subscription;

  // issue 7: ingress store, webhook, API routes and the worker-side screen.
  const ingressStore = await createIngressStore(config.ledger, { projectId: config.projectId });
  const ingressMetrics = createIngressMetrics(metrics.registry);
  const policy = ingressPolicy(config);
  const apiJobs = createApiJobs(ingressStore, { allowPrivate: config.attachments.allowPrivate });
  const publish = jobPublisher(pubsub.topic(config.pubsub.topic, INGRESS_PUBLISH_OPTIONS));
  const ingress = {
    screenJob: async (job: ScreenableJob) => ((job.kind === 'api' && (await apiJobs.isApiJob(job.id))) ? { action: 'accept' as const } : screenJob(job, policy, ingressStore)),
    apiJobs,
    onIgnored: (reasons: readonly string[]) => reasons.forEach((r) => ingressMetrics.ignored('worker', r)),
  };
  const routers = [
    mailgunRouterFromConfig(config, { store: ingressStore, publish, logger, metrics: ingressMetrics }),
    createJobsRouter({ keys: config.apiKeys, store: ingressStore, apiJobs, ledger, publish, domain: config.mailgun.domain, caps: config.ingress.caps, allowPrivateCallbacks: config.attachments.allowPrivate, logger }),
    createAskRouter({ keys: config.apiKeys, services, logger }),
  ];

  const handle = createDeliveryHandler(config, { services: { ...services, ...ingress }, ledger, logger, owner });
  const handleDeadLetter = createDeliveryHandler(config, { services: { ...services, ...ingress }, ledger, logger, owner }, { deadLettered: true });
  const pushAuth = config.workerMode === 'push' && config.push.requireAuth
    ? { verify: createPushVerifier({ audience: config.push.audience!, ...(config.push.serviceAccount ? { serviceAccount: config.push.serviceAccount } : {}) }) }
    : {};
  const push =
    config.workerMode === 'push'
      ? createPushWorker({
          path: config.pushPath,
          handle,
          ...pushAuth,
          onMalformed: () => metrics.recordJob('invalid', 0),
          logger,
        })
      : undefined;
  const pushNotices =
    config.workerMode === 'push' && config.deadLetterNotices
      ? createPushWorker({
          path: config.deadLetterNotices.pushPath,
          handle: handleDeadLetter,
          ...pushAuth,
          onMalformed: () => metrics.recordJob('invalid', 0),
          logger,
        })
      : undefined;

  const http = await startHttpServer({
    port: config.port,
    registry: metrics.registry,
    logger,
    projectId: config.projectId,
    routers: [...(push ? [push.router] : []), ...(pushNotices ? [pushNotices.router] : []), ...routers],
    ...(config.metricsToken ? { metricsToken: config.metricsToken } : {}),
    readinessChecks: {
      pubsub: async () => {
        const [exists] = await topic.exists();
        if (!exists) throw new Error(`topic ${config.pubsub.topic} not found`);
      },
      ledger: async () => {
        await ledger.ping();
        await ingressStore.ping();
      },
    },
    ...(subscriptionWarnings.length ? { readinessDetails: () => ({ subscriptionWarnings: subscriptionWarnings.map((w) => w.rule) }) } : {}),
  });
  logger.info('HTTP server listening', { url: http.url, mode: config.workerMode, ledger: config.ledger });

  const worker =
    push ??
    startPullWorker({
      subscription,
      concurrency: config.workerConcurrency,
      maxExtensionS: pullLeaseExtensionS(config.timeouts),
      maxAckDeadlineS: scaleMs(pullMaxAckDeadlineS * 1000, config.timeouts) / 1000,
      handle,
      logger,
    });
  // Dead-letter notices (pull): few and light (one failure email each), so a small concurrency.
  const notices =
    pushNotices ??
    (noticeSubscription
      ? startPullWorker({ subscription: noticeSubscription, concurrency: 2, maxExtensionS: pullLeaseExtensionS(config.timeouts), handle: handleDeadLetter, logger, name: 'dead-letter notices' })
      : undefined);

  let stopping: Promise<void> | undefined;
  const stop = async () => {
    const graceMs = scaleMs(config.timeouts.shutdownGraceS * 1000, config.timeouts);
    await Promise.all([worker.stop(graceMs), notices?.stop(graceMs)]);
    await http.close();
    await pubsub.close();
    if (config.ledger === 'firestore') await closeFirestoreClients();
    await closeSharedPandocEngine();
    alerts.stop();
  };
  return {
    url: http.url,
    ledger,
    metrics,
    ingressStore,
    subscriptionWarnings,
    // Idempotent: a second SIGTERM (or a test's cleanup) waits for the first stop.
    stop: () => (stopping ??= stop()),
  };
}

/**
 * The pull worker's dead-letter notice subscription, or undefined (with a warning) when notices are
 * on but it does not exist: dead-lettered jobs then reach their senders only by `dlq replay`.
 */
async function deadLetterNoticeSubscription(config: Config, pubsub: ReturnType<typeof createPubSub>, logger: Logger): Promise<{ subscription?: Subscription | undefined; warning?: SubscriptionWarning | undefined }> {
  if (!config.deadLetterNotices) return {};
  const subscription = pubsub.subscription(config.deadLetterNotices.subscription);
  try {
    const [exists] = await subscription.exists();
    if (exists) return { subscription };
  } catch (error) {
    logger.warn('Could not look up the dead-letter notice subscription', { err: error });
  }
  const warning: SubscriptionWarning = {
    rule: 'no-dead-letter-notices',
    message: `dead-letter notice subscription ${config.deadLetterNotices.subscription} not found: a job Pub/Sub dead-letters will not tell its sender until it is replayed (email-worker dlq replay); create it on ${config.pubsub.deadLetterTopic} (infra/ does) or set DEAD_LETTER_NOTICES=false`,
  };
  logger.warn(`Subscription check: ${warning.message}`, { rule: warning.rule });
  return { warning };
}

/** Reads the subscription once and logs each setting that breaks the deadline chain; never fatal. */
async function subscriptionCheck(config: Config, subscription: Subscription, logger: Logger): Promise<SubscriptionWarning[]> {
  try {
    const facts = await inspectSubscription(subscription);
    const warnings = checkSubscription(facts, expectationsOf(config));
    for (const w of warnings) logger.warn(`Subscription check: ${w.message}`, { rule: w.rule, subscription: facts.name });
    return warnings;
  } catch (error) {
    // Reading metadata needs pubsub.subscriptions.get (roles/pubsub.viewer); consuming does not.
    logger.warn('Subscription check skipped: could not read the subscription (needs pubsub.subscriptions.get)', { err: error });
    return [];
  }
}
