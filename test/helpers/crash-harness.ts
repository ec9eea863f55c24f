/**
 * Real worker processes (`src/main.ts`, as production runs it) against the real Pub/Sub and
 * Firestore emulators, with the Gemini and Mailgun stand-ins and an attachment server in this
 * process — so a test or benchmark can SIGKILL a worker at a chosen point, start another, and count
 * the replies the Mailgun stand-in accepted. Used by `test/crash.test.ts` and `bench/crash.ts`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { PubSub } from '@google-cloud/pubsub';
import { startGeminiStandin, type GeminiStandin } from '../../src/dev/gemini-standin.ts';
import { startMailgunStandin, type MailgunStandin } from '../../src/dev/mailgun-standin.ts';
import { startGrpcCancelProxy, type GrpcCancelProxy } from './grpc-cancel-proxy.ts';

export const CRASH_MAILGUN_KEY = 'key-crash-mailgun-0123456789abcdef';

export interface WorkerProcess {
  child: ChildProcess;
  logs: Array<Record<string, unknown>>;
  /** Resolves with the first log entry matching, or rejects after `timeoutMs` or when the process exits. */
  waitForLog(match: (entry: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface CrashHarness {
  ledger: 'memory' | 'firestore';
  gemini: GeminiStandin;
  mailgun: MailgunStandin;
  /** Attachment routes on the loopback file server. */
  files: { url: string; routes: Map<string, (req: IncomingMessage, res: ServerResponse) => void> };
  /** Starts a worker on the current lane, or on `lane`. */
  startWorker(lane?: string): Promise<WorkerProcess>;
  /** Publishes to the current lane's topic. */
  publish(job: Record<string, unknown>): Promise<string>;
  /** The topic (lane) workers and publishes use now. */
  readonly lane: string;
  /**
   * Switches to a fresh topic, subscription and dead-letter topic. The emulator keeps a SIGKILLed
   * subscriber's streams and keeps delivering to them (bench/README.md, emulator-streams): a
   * benchmark trial on a fresh lane sees only its own dead worker, as on real Pub/Sub it would see none.
   */
  newLane(): Promise<string>;
  /** Replies accepted by the Mailgun stand-in for a parent Message-ID. */
  repliesTo(parentMessageId: string): number;
  /** Of those, failure emails (`failureReply`'s wording). */
  failureEmailsTo(parentMessageId: string): number;
  stop(): Promise<void>;
}

export interface CrashHarnessOptions {
  ledger: 'memory' | 'firestore';
  /** @defaultValue '0.02' (lease 2.4 s, heartbeat 0.6 s, hard cap 60 s: room for the emulator's 10 s+ redelivery) */
  timeoutScale?: string;
  /** Extra environment for the workers. */
  env?: Record<string, string>;
  /** Dead-letter limit of the subscription (and PUBSUB_MAX_DELIVERY_ATTEMPTS). @defaultValue 10 */
  maxDeliveryAttempts?: number;
  /**
   * Workers reach the Pub/Sub emulator through `grpc-cancel-proxy.ts`, which ends a killed
   * worker's streaming pulls on the emulator as real Pub/Sub does; without it the emulator (0.8.20)
   * keeps delivering to the dead worker's streams. @defaultValue true
   */
  cancelStreamsOnKill?: boolean;
}

export async function startCrashHarness(options: CrashHarnessOptions): Promise<CrashHarness> {
  const gemini = await startGeminiStandin({ chunkCount: 4, chunkDelayMs: 5 });
  const mailgun = await startMailgunStandin({ apiKey: CRASH_MAILGUN_KEY });
  const routes = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>();
  const fileServer: Server = createServer((req, res) => {
    const route = routes.get(req.url ?? '');
    if (route) route(req, res);
    else res.writeHead(404).end('not found');
  });
  await new Promise<void>((r) => fileServer.listen(0, '127.0.0.1', r));
  const filesUrl = `http://127.0.0.1:${(fileServer.address() as { port: number }).port}`;

  const id = randomUUID().slice(0, 8);
  const projectId = `demo-${id}`;
  const pubsub = new PubSub({ projectId });
  let lanes = 0;
  let topic = '';
  const newLane = async () => {
    const name = `crash-${id}-${++lanes}`;
    // Made here so every worker process finds it: a 10 s ack deadline (the emulator's minimum) so a
    // killed worker's message comes back soon, and a short backoff.
    const [t] = await pubsub.createTopic(name);
    const [dead] = await pubsub.createTopic(`${name}-dead`);
    await t.createSubscription(`${name}-sub`, {
      ackDeadlineSeconds: 10,
      deadLetterPolicy: { deadLetterTopic: dead.name, maxDeliveryAttempts: options.maxDeliveryAttempts ?? 10 },
      retryPolicy: { minimumBackoff: { seconds: 1 }, maximumBackoff: { seconds: 2 } },
    });
    topic = name;
    return name;
  };
  await newLane();

  const proxy: GrpcCancelProxy | undefined = options.cancelStreamsOnKill === false ? undefined : await startGrpcCancelProxy(process.env.PUBSUB_EMULATOR_HOST!);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    METADATA_SERVER_DETECTION: 'none',
    GOOGLE_CLOUD_PROJECT: projectId,
    PUBSUB_EMULATOR_HOST: proxy?.host ?? process.env.PUBSUB_EMULATOR_HOST,
    FIRESTORE_EMULATOR_HOST: process.env.FIRESTORE_EMULATOR_HOST,
    PUBSUB_MAX_DELIVERY_ATTEMPTS: String(options.maxDeliveryAttempts ?? 10),
    LEDGER: options.ledger,
    LEDGER_COLLECTION: `ledger-${id}`,
    EMAIL_PROCESSING_MODE: 'true',
    PORT: '0',
    GEMINI_API_KEY: 'AIzaCrashGeminiKey0123456789abcdefghijk',
    GEMINI_BASE_URL: gemini.url,
    MAILGUN_API_KEY: CRASH_MAILGUN_KEY,
    MAILGUN_API_URL: mailgun.url,
    MAILGUN_DOMAIN: 'mg.crash.localhost',
    ATTACHMENT_ALLOW_PRIVATE: 'true',
    ATTACHMENT_ALLOWED_HOSTS: '127.0.0.1',
    TIMEOUT_SCALE: options.timeoutScale ?? '0.02',
    // 100 s × 0.02 = 2 s of looking for an in-doubt reply before resending it.
    MAILGUN_EVENTS_LAG_S: '100',
    LOG_LEVEL: 'info',
    ...options.env,
  };
  const workers = new Set<WorkerProcess>();

  const startWorker = async (lane = topic): Promise<WorkerProcess> => {
    const laneEnv = { ...env, PUBSUB_TOPIC: lane, PUBSUB_SUBSCRIPTION: `${lane}-sub`, PUBSUB_DEAD_LETTER_TOPIC: `${lane}-dead` };
    const child = spawn(process.execPath, ['src/main.ts'], { env: laneEnv, stdio: ['ignore', 'pipe', 'pipe'], cwd: new URL('../..', import.meta.url).pathname });
    const logs: Array<Record<string, unknown>> = [];
    const waiters = new Set<{ match: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void; reject: (e: Error) => void }>();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
      for (const w of waiters) w.reject(new Error(`worker exited (${code}) before the log line; last: ${logs.slice(-5).map((l) => l.message).join(' | ')}`));
      waiters.clear();
      resolve(code);
    }));
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(entry);
      if (process.env.CRASH_DEBUG) process.stderr.write(`[worker ${child.pid}] ${line.slice(0, 600)}\n`);
      for (const w of waiters) if (w.match(entry)) { waiters.delete(w); w.resolve(entry); }
    });
    const worker: WorkerProcess = {
      child,
      logs,
      waitForLog(match, timeoutMs = 30_000) {
        const seen = logs.find(match);
        if (seen) return Promise.resolve(seen);
        if (child.exitCode !== null || child.signalCode !== null) return Promise.reject(new Error(`worker has exited; stderr: ${stderr}`));
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => {
            waiters.delete(waiter);
            reject(new Error(`log line not seen within ${timeoutMs}ms; last: ${logs.slice(-5).map((l) => l.message).join(' | ')}`));
          }, timeoutMs);
          const waiter = { match, resolve: (e: Record<string, unknown>) => { clearTimeout(timer); resolve(e); }, reject: (e: Error) => { clearTimeout(timer); reject(e); } };
          waiters.add(waiter);
        });
      },
      async kill(signal = 'SIGKILL') {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        const code = await exited;
        workers.delete(worker);
        return code;
      },
    };
    workers.add(worker);
    await worker.waitForLog((e) => e.message === 'Pull worker started', 60_000);
    return worker;
  };

  return {
    ledger: options.ledger,
    gemini,
    mailgun,
    files: { url: filesUrl, routes },
    startWorker,
    publish: (job) => pubsub.topic(topic).publishMessage({ data: Buffer.from(JSON.stringify(job)) }),
    get lane() {
      return topic;
    },
    newLane,
    repliesTo: (parent) => mailgun.messages.filter((m) => m.headers['In-Reply-To'] === parent).length,
    failureEmailsTo: (parent) => mailgun.messages.filter((m) => m.headers['In-Reply-To'] === parent && /^We could not answer your message/m.test(m.fields.text ?? '')).length,
    async stop() {
      await Promise.all([...workers].map((w) => w.kill('SIGKILL')));
      await proxy?.close();
      await pubsub.close();
      await gemini.close();
      await mailgun.close();
      fileServer.closeAllConnections();
      await new Promise<void>((r) => fileServer.close(() => r()));
    },
  };
}

/** Waits until `check()` holds, polling every 50 ms, up to `timeoutMs`; false if it never did. */
export async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await sleep(50)) if (check()) return true;
  return check();
}
