/**
 * Wiring: builds the worker from a validated Config — services bound to their settings, the
 * ledger, the HTTP server and the delivery mode — and returns one `stop()` for shutdown.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
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
import { waitUntilReady, type ReadinessChecks } from './http/readiness.ts';
import { createAlertEvaluator } from './observability/alerts.ts';
import { createMetrics, retryObserver, type Metrics } from './observability/metrics.ts';
import { setLevelMetricsSink } from './timeouts/with-timeout.ts';
import { processJob, publicReason, type ProcessJobDeps } from './pipeline/process-job.ts';
import type { PipelineServices } from './pipeline/services.ts';
import { pubsubOnDemand } from './worker/pubsub-on-demand.ts';
import { createPushWorker, type DeliveredMessage } from './worker/push-worker.ts';
import { checkSubscription, inspectSubscription, type SubscriptionWarning } from './worker/subscription-check.ts';
import { pullLeaseExtensionS, pullMaxAckDeadlineS, startupReadyBudgetS } from './timeouts/chain.ts';
import { Deadline } from './resilience/deadline.ts';
import { getRetryConfig, getTimeouts, scaleMs } from './timeouts/engine.ts';
import { lazy } from './lazy.ts';
import { createIngressStore, type IngressStore } from './ledger/ingress-store.ts';
import { createIngressMetrics } from './ingress/ingress-metrics.ts';
import { ingressPolicy, screenJob, type ScreenableJob } from './ingress/screen.ts';
import type { Job } from './jobs/schema.ts';
import { createApiJobs } from './api/api-jobs.ts';
import { lazyRouter } from './http/lazy-router.ts';

export interface RunningApp {
  url: string;
  ledger: Ledger;
  metrics: Metrics;
  /** Replay tokens, reply caps, API job records (issue 7). */
  ingressStore: IngressStore;
  /**
   * What the subscription check found (also logged and in /readyz details). The check runs after
   * ready, so the array fills once `deferredStart` has settled.
   */
  subscriptionWarnings: SubscriptionWarning[];
  /**
   * The work deferred past readiness: the subscription check, and in push mode the Pub/Sub client
   * and (on the emulator) its resources. Never rejects: a failure is logged, and in push mode the
   * first publish tries again.
   */
  deferredStart: Promise<void>;
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
  /**
   * Push mode: how long after ready the Pub/Sub client is loaded and the subscription checked.
   * Loading it blocks the event loop for ~0.2 s; by then the push that woke the instance is
   * already waiting on Gemini. Pull mode checks right after ready. Tests use 0. @defaultValue 5000
   */
  deferredStartMs?: number;
  /**
   * How long the readiness checks may keep failing before start-up fails with `EW_ERR_NOT_READY`
   * (the port stays closed meanwhile). Tests shorten it. @defaultValue startupReadyBudgetS (120 s)
   */
  readyBudgetMs?: number;
}

/**
 * Starts the worker. Ready means a delivery can be processed at once: pull mode — subscribed, the
 * topic and the ledger (and the ingress store) answer; push mode — the ledger and the ingress store
 * answer; the Pub/Sub client loads after ready (`deferredStart`). The port opens only once they do
 * (`/readyz` then answers 200 as long as they still do); start-up fails with `EW_ERR_NOT_READY` when
 * they have not within `readyBudgetMs`.
 */
export async function startApp(config: Config, logger: Logger, options: StartAppOptions = {}): Promise<RunningApp> {
  const metrics = createMetrics({ defaultMetrics: true });
  // T1–T5 outcomes feed the timeout_percentage window; the evaluator logs each threshold crossing once.
  setLevelMetricsSink(metrics);
  const alerts = createAlertEvaluator({ metrics, logger, intervalMs: 30_000 });
  const ledger = await createLedger(config, { onUsage: ledgerUsageCounter(metrics.registry) });
  const services = createServices(config, metrics, logger);
  const owner = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const pull = config.workerMode === 'pull';
  const pubsub = pubsubOnDemand(config, {
    create: Boolean(config.pubsub.emulatorHost),
    createSubscription: pull,
    ...(options.subscriptionBackoffSeconds ? { backoffSeconds: options.subscriptionBackoffSeconds } : {}),
  });
  const subscriptionWarnings: SubscriptionWarning[] = [];
  const checkSubscriptionOnce = async () => {
    if (config.checkSubscription) subscriptionWarnings.push(...(await subscriptionCheck(config, (await pubsub.get()).subscription, logger)));
  };

  // issue 7: ingress store, webhook, API routes and the worker-side screen.
  const ingressStore = await createIngressStore(config.ledger, { projectId: config.projectId });
  const ingressMetrics = createIngressMetrics(metrics.registry);
  const policy = ingressPolicy(config);
  const apiJobs = createApiJobs(ingressStore, { allowPrivate: config.attachments.allowPrivate });
  const publisher = lazy(async () => {
    const [{ jobPublisher, INGRESS_PUBLISH_OPTIONS }, { client }] = await Promise.all([import('./ingress/from-config.ts'), pubsub.get()]);
    return jobPublisher(client.topic(config.pubsub.topic, INGRESS_PUBLISH_OPTIONS));
  });
  const publish = async (job: Job) => (await publisher())(job);
  const ingress = {
    screenJob: async (job: ScreenableJob) => ((job.kind === 'api' && (await apiJobs.isApiJob(job.id))) ? { action: 'accept' as const } : screenJob(job, policy, ingressStore)),
    apiJobs,
    onIgnored: (reasons: readonly string[]) => reasons.forEach((r) => ingressMetrics.ignored('worker', r)),
  };
  // issue 9: the webhook (busboy, address parser) and the API load on their first request.
  const routers = [
    lazyRouter({
      name: 'Mailgun webhook',
      prefixes: ['/inbound/'],
      load: async () => (await import('./ingress/from-config.ts')).mailgunRouterFromConfig(config, { store: ingressStore, publish, logger, metrics: ingressMetrics }),
      logger,
    }),
    lazyRouter({
      name: 'API',
      prefixes: ['/v1/'],
      load: async () => {
        const [{ createJobsRouter }, { createAskRouter }, { Router }] = await Promise.all([import('./api/jobs-router.ts'), import('./api/ask-router.ts'), import('express')]);
        return Router().use(
          createJobsRouter({ keys: config.apiKeys, store: ingressStore, apiJobs, ledger, publish, domain: config.mailgun.domain, caps: config.ingress.caps, allowPrivateCallbacks: config.attachments.allowPrivate, logger }),
          createAskRouter({ keys: config.apiKeys, services, logger }),
        );
      },
      logger,
    }),
  ];

  const deliveryDeps = { services: { ...services, ...ingress }, ledger, logger, owner };
  const handle = createDeliveryHandler(config, deliveryDeps);
  const handleDeadLetter = createDeliveryHandler(config, deliveryDeps, { deadLettered: true });
  // Pushes need it at once: loaded before ready, and only in push mode.
  const pushCommon = {
    ...(!pull && config.push.requireAuth
      ? { verify: (await import('./worker/push-auth.ts')).createPushVerifier({ audience: config.push.audience!, ...(config.push.serviceAccount ? { serviceAccount: config.push.serviceAccount } : {}) }) }
      : {}),
    onMalformed: () => metrics.recordJob('invalid', 0),
    logger,
  };
  const push = pull
    ? undefined
    : createPushWorker({
        path: config.pushPath,
        handle,
        ...pushCommon,
      });
  const pushNotices =
    !pull && config.deadLetterNotices
      ? createPushWorker({
          path: config.deadLetterNotices.pushPath,
          handle: handleDeadLetter,
          ...pushCommon,
        })
      : undefined;

  // Pull: subscribed before the port opens, so ready means consuming.
  const pullWorker = pull ? { ...(await import('./worker/pull-worker.ts')), ...(await pubsub.get()) } : undefined;
  const ledgerReady = async () => {
    await Promise.all([ledger.ping(), ingressStore.ping()]);
  };
  const readinessChecks: ReadinessChecks = pull
    ? {
        pubsub: async () => {
          const [exists] = await (await pubsub.get()).topic.exists();
          if (!exists) throw new Error(`topic ${config.pubsub.topic} not found`);
        },
        ledger: ledgerReady,
      }
    : // Push: a push needs the ledger at once; Pub/Sub only to publish, so it is a detail here.
      { ledger: ledgerReady };
  // The port opens only once a delivery can be processed (src/http/readiness.ts): Cloud Run's TCP
  // startup probe then routes the first request the moment the instance is ready.
  try {
    await waitUntilReady(readinessChecks, {
      budgetMs: options.readyBudgetMs ?? startupReadyBudgetS * 1000,
      onNotReady: (report, event) => logger.warn('Not ready yet: port stays closed; checking again', { checks: report.checks, attempt: event.attemptNumber, retryInMs: event.delayMs }),
    });
  } catch (error) {
    // Nothing was served: close what start-up opened. Not the Firestore client: terminated while
    // its calls are still retrying, @google-cloud/firestore 9.4.1 rejects them unhandled, which
    // would end the process before it logs why it did not start (it exits next anyway).
    alerts.stop();
    await pubsub.close();
    throw error;
  }
  const http = await startHttpServer({
    port: config.port,
    registry: metrics.registry,
    logger,
    projectId: config.projectId,
    routers: [...(push ? [push.router] : []), ...(pushNotices ? [pushNotices.router] : []), ...routers],
    ...(config.metricsToken ? { metricsToken: config.metricsToken } : {}),
    readinessChecks,
    readinessDetails: () => ({
      ...(pull ? {} : { pubsub: pubsub.state }),
      ...(subscriptionWarnings.length ? { subscriptionWarnings: subscriptionWarnings.map((w) => w.rule) } : {}),
    }),
  });
  logger.info('HTTP server listening', { url: http.url, mode: config.workerMode, ledger: config.ledger });

  // Both pull workers (jobs, notices) hold a message for the whole job, each extension ≤ the lease.
  const pullLease = { maxExtensionS: pullLeaseExtensionS(config.timeouts), maxAckDeadlineS: scaleMs(pullMaxAckDeadlineS * 1000, config.timeouts) / 1000 };
  const worker =
    push ??
    pullWorker!.startPullWorker({
      subscription: pullWorker!.subscription,
      concurrency: config.workerConcurrency,
      ...pullLease,
      handle,
      logger,
    });
  // Dead-letter notices: push takes them on their route; pull reads their subscription, started
  // after ready with the subscription check (few and light: one failure email each).
  let notices: { stop(graceMs: number): Promise<void> } | undefined = pushNotices;
  const startPullNotices = async () => {
    const found = await deadLetterNoticeSubscription(config, (await pubsub.get()).client, logger);
    if (found.warning) subscriptionWarnings.push(found.warning);
    if (found.subscription) {
      notices = pullWorker!.startPullWorker({ subscription: found.subscription, concurrency: 2, ...pullLease, handle: handleDeadLetter, logger, name: 'dead-letter notices' });
    }
  };

  // The subscription check only warns, so it runs after ready in both modes (pull: at once, the
  // client is loaded; push: later, with the client).
  const deferred = deferUntilAfterReady(pull ? 0 : (options.deferredStartMs ?? 5000), async () => {
    try {
      await pubsub.get();
      await checkSubscriptionOnce();
      if (pull && config.deadLetterNotices) await startPullNotices();
    } catch (error) {
      logger.warn('Pub/Sub client not ready after start-up; the first publish tries again', { err: error });
    }
  });

  let stopping: Promise<void> | undefined;
  const stop = async () => {
    deferred.cancel();
    // A deferred start under way may still start the notice worker: let it finish first.
    await deferred.done;
    const graceMs = scaleMs(config.timeouts.shutdownGraceS * 1000, config.timeouts);
    await Promise.all([worker.stop(graceMs), notices?.stop(graceMs)]);
    await http.close();
    await deferred.done;
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
    deferredStart: deferred.done,
    // Idempotent: a second SIGTERM (or a test's cleanup) waits for the first stop.
    stop: () => (stopping ??= stop()),
  };
}

/**
 * The pull worker's dead-letter notice subscription, or undefined (with a warning) when notices are
 * on but it does not exist: dead-lettered jobs then reach their senders only by `dlq replay`.
 */
async function deadLetterNoticeSubscription(config: Config, pubsub: PubSub, logger: Logger): Promise<{ subscription?: Subscription | undefined; warning?: SubscriptionWarning | undefined }> {
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
    // Loaded here, not at start-up: it imports the Pub/Sub client, which push mode loads after ready.
    const { expectationsOf } = await import('./worker/subscription-report.ts');
    const warnings = checkSubscription(facts, expectationsOf(config));
    for (const w of warnings) logger.warn(`Subscription check: ${w.message}`, { rule: w.rule, subscription: facts.name });
    return warnings;
  } catch (error) {
    // Reading metadata needs pubsub.subscriptions.get (roles/pubsub.viewer); consuming does not.
    logger.warn('Subscription check skipped: could not read the subscription (needs pubsub.subscriptions.get)', { err: error });
    return [];
  }
}

/** Runs `work` `delayMs` after now unless cancelled first; `done` settles when it has run or was cancelled. */
function deferUntilAfterReady(delayMs: number, work: () => Promise<void>): { done: Promise<void>; cancel(): void } {
  let cancel = () => {};
  const done = new Promise<void>((resolve) => {
    // unref: a pending check never keeps a stopping process alive.
    const timer = setTimeout(() => {
      cancel = () => {};
      void work().finally(resolve);
    }, delayMs).unref();
    cancel = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  return { done, cancel: () => cancel() };
}
