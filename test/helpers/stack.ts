/**
 * A whole worker for integration tests: the real app (`startApp`) on the real Pub/Sub emulator
 * (from the global setup), the Gemini and Mailgun stand-ins on loopback, a loopback file server
 * for attachments, and a unique topic per test (bullmq's "unique queue per test").
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { PubSub } from '@google-cloud/pubsub';
import { loadConfig, type Config } from '../../src/config.ts';
import { startApp, type RunningApp } from '../../src/app.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { configureTimeouts, resetTimeoutSettings } from '../../src/timeouts/settings.ts';
import { resetContextLog } from '../../src/timeouts/context-log.ts';
import { startGeminiStandin } from '../../src/dev/gemini-standin.ts';
import { startMailgunStandin } from '../../src/dev/mailgun-standin.ts';

export type FileRoute = (req: IncomingMessage, res: ServerResponse) => void;

export interface Stack {
  config: Config;
  app: RunningApp;
  /** Stops the worker (SIGTERM path: drain, grace, release) and starts a fresh one on the same subscription. */
  restartApp(): Promise<void>;
  gemini: Awaited<ReturnType<typeof startGeminiStandin>>;
  mailgun: Awaited<ReturnType<typeof startMailgunStandin>>;
  files: { url: string; routes: Map<string, FileRoute> };
  logs: Array<Record<string, unknown>>;
  publish(job: Record<string, unknown>, attributes?: Record<string, string>): Promise<string>;
  /** Resolves with the first log entry matching, or rejects after `timeoutMs`. */
  waitForLog(match: (entry: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export const MAILGUN_KEY = 'key-test-mailgun-0123456789abcdef';
export const GEMINI_KEY = 'AIzaTestGeminiKey0123456789abcdefghijk';

export interface StackOptions {
  env?: Record<string, string>;
  maxDeliveryAttempts?: number;
  /** Runs before the worker starts, e.g. to make the subscription by hand. @defaultValue none */
  beforeStart?: (config: Config, pubsub: PubSub) => Promise<void>;
  /**
   * Push mode's delay before it loads Pub/Sub. Given, the stack does not wait for that deferred
   * start (to test the app before it). @defaultValue 0, waited for
   */
  deferredStartMs?: number;
  /** How long start-up waits for its readiness checks (src/app.ts). @defaultValue 120 s */
  readyBudgetMs?: number;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const gemini = await startGeminiStandin({ chunkCount: 4, chunkDelayMs: 5 });
  const mailgun = await startMailgunStandin({ apiKey: MAILGUN_KEY });
  const routes = new Map<string, FileRoute>();
  const fileServer: Server = createServer((req, res) => {
    const route = routes.get(req.url ?? '');
    if (route) route(req, res);
    else res.writeHead(404).end('not found');
  });
  await new Promise<void>((r) => fileServer.listen(0, '127.0.0.1', r));
  const port = (fileServer.address() as { port: number }).port;

  const topic = `test-${randomUUID()}`;
  const env: NodeJS.ProcessEnv = {
    GOOGLE_CLOUD_PROJECT: process.env.GOOGLE_CLOUD_PROJECT ?? 'demo-test',
    PUBSUB_EMULATOR_HOST: process.env.PUBSUB_EMULATOR_HOST,
    PUBSUB_TOPIC: topic,
    PUBSUB_SUBSCRIPTION: `${topic}-sub`,
    PUBSUB_DEAD_LETTER_TOPIC: `${topic}-dead`,
    EMAIL_PROCESSING_MODE: 'true',
    PORT: '0',
    GEMINI_API_KEY: GEMINI_KEY,
    GEMINI_BASE_URL: gemini.url,
    MAILGUN_API_KEY: MAILGUN_KEY,
    MAILGUN_API_URL: mailgun.url,
    MAILGUN_DOMAIN: 'mg.test.localhost',
    // Required in push mode (the same service takes the Mailgun webhook).
    MAILGUN_WEBHOOK_SIGNING_KEY: 'test-webhook-signing-key',
    ATTACHMENT_ALLOW_PRIVATE: 'true',
    ATTACHMENT_ALLOWED_HOSTS: '127.0.0.1',
    // 1/1000 of the real durations: hard cap 3 s, stream 1.8 s, heartbeat 300 ms, genai 300 ms…
    TIMEOUT_SCALE: '0.001',
    WORKER_CONCURRENCY: '4',
    ...options.env,
  };
  let config;
  try {
    config = loadConfig(env);
  } catch (error) {
    // A refused configuration must fail the test, not leave the stand-ins holding the process open.
    await Promise.all([gemini.close(), mailgun.close(), new Promise((r) => fileServer.close(r))]);
    throw error;
  }
  if (options.maxDeliveryAttempts !== undefined) config.pubsub.maxDeliveryAttempts = options.maxDeliveryAttempts;
  resetTimeoutSettings();
  resetContextLog();
  configureTimeouts(config.timeouts);

  const logs: Array<Record<string, unknown>> = [];
  const waiters = new Set<{ match: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }>();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          for (const w of waiters) if (w.match(entry)) { waiters.delete(w); w.resolve(entry); }
        } catch {
          // not a log line
        }
      }
      done();
    },
  });
  const logger = createLogger({ level: 'debug', stream: sink, secrets: config.secrets });
  // Push mode loads Pub/Sub after ready; tests wait for it so the topic exists before they publish.
  const start = async () => {
    const app = await startApp(config, logger, {
      subscriptionBackoffSeconds: { min: 1, max: 2 },
      deferredStartMs: options.deferredStartMs ?? 0,
      ...(options.readyBudgetMs !== undefined ? { readyBudgetMs: options.readyBudgetMs } : {}),
    });
    if (options.deferredStartMs === undefined) await app.deferredStart;
    return app;
  };
  const publisher = new PubSub({ projectId: config.projectId });
  await options.beforeStart?.(config, publisher);

  let app: RunningApp;
  try {
    app = await start();
  } catch (error) {
    // A start that failed (e.g. never ready) must fail the test, not hold the process open.
    await Promise.all([publisher.close(), gemini.close(), mailgun.close(), new Promise((r) => fileServer.close(r))]);
    throw error;
  }
  const stack: Stack = {
    config,
    app,
    async restartApp() {
      await stack.app.stop();
      stack.app = await start();
    },
    gemini,
    mailgun,
    files: { url: `http://127.0.0.1:${port}`, routes },
    logs,
    async publish(job, attributes = {}) {
      return await publisher.topic(topic).publishMessage({ data: Buffer.from(JSON.stringify(job)), attributes });
    },
    waitForLog(match, timeoutMs = 15_000) {
      const seen = logs.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = { match, resolve: (e: Record<string, unknown>) => { clearTimeout(timer); resolve(e); } };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`log line not seen within ${timeoutMs}ms; last: ${logs.slice(-8).map((l) => l.message).join(' | ')}`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    async stop() {
      await stack.app.stop();
      await publisher.close();
      await gemini.close();
      await mailgun.close();
      fileServer.closeAllConnections();
      await new Promise<void>((r) => fileServer.close(() => r()));
      resetTimeoutSettings();
    },
  };
  return stack;
}

export function sampleJob(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: 1,
    kind: 'email',
    from: 'alice@example.com',
    to: ['ask@mg.test.localhost'],
    subject: 'Budget question',
    text: 'What is in the attached budget?',
    messageId: `<${randomUUID()}@mail.example.com>`,
    references: ['<root@mail.example.com>'],
    ...overrides,
  };
}

/** Polls until `check()` is truthy (for state that has no log line), up to `timeoutMs`. */
export async function eventually<T>(check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await sleep(20)) {
    const v = check();
    if (v) return v;
  }
  throw new Error(`condition not met within ${timeoutMs}ms`);
}
