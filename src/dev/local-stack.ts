/**
 * The whole product on one machine with no cloud account: the real Pub/Sub emulator, the local
 * Gemini and Mailgun stand-ins (real wire protocols), a loopback file server for attachments, and
 * the worker itself (`node src/main.ts`, the production entry point) as a child process.
 * Used by `npm run demo` (one job, then stop) and `npm run dev` (kept running).
 *
 * With GEMINI_API_KEY set the real Gemini API is used; with MAILGUN_API_KEY the real Mailgun.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, startEmulator } from './emulator.ts';
import { startGeminiStandin, type GeminiStandin } from './gemini-standin.ts';
import { startMailgunStandin, type MailgunStandin } from './mailgun-standin.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
/** The Node flags the worker runs with in production (`npm start`, the Dockerfile). */
export const WORKER_NODE_FLAGS = ['--max-semi-space-size=16'];

export interface LocalStackOptions {
  /** Working folder: outbox, worker log. */
  dir: string;
  /** Topic (subscription and dead-letter topic are derived). @defaultValue PUBSUB_TOPIC or email-worker-jobs */
  topic?: string;
  /** Files the loopback file server serves, by path. */
  files?: Record<string, string>;
  /** Worker log lines also go to this process's stdout. @defaultValue false */
  echoWorkerLog?: boolean;
  /** Where progress lines go. */
  log: (line: string) => void;
  /** Gemini stand-in pacing. @defaultValue 6 chunks, 40 ms apart */
  gemini?: { chunkCount?: number; chunkDelayMs?: number };
}

export interface LogEntry {
  message?: unknown;
  [key: string]: unknown;
}

export interface LocalStack {
  /** The worker's environment (also what `email-worker publish` needs). */
  env: NodeJS.ProcessEnv;
  project: string;
  topic: string;
  outboxDir: string;
  workerUrl: string;
  workerLogPath: string;
  filesUrl: string;
  gemini?: GeminiStandin;
  mailgun?: MailgunStandin;
  /** Resolves with the first worker log entry matching, or rejects after `timeoutMs`. */
  waitForLog(match: (e: LogEntry) => boolean, timeoutMs: number): Promise<LogEntry>;
  /** Stops everything started, in reverse order; leaves no process behind. */
  stop(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const { log } = options;
  const cleanups: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((e: unknown) => log(`cleanup: ${(e as Error).message}`));
    cleanups.length = 0;
  };
  try {
    const outboxDir = join(options.dir, 'outbox');
    await mkdir(outboxDir, { recursive: true });
    const project = process.env.GOOGLE_CLOUD_PROJECT ?? 'demo-local';
    let emulatorHost = process.env.PUBSUB_EMULATOR_HOST;
    if (!emulatorHost) {
      log('▶ starting the Pub/Sub emulator (gcloud beta emulators pubsub) …');
      const emulator = await startEmulator('pubsub', { project });
      cleanups.push(() => emulator.stop());
      emulatorHost = emulator.host;
    }
    log(`  Pub/Sub emulator on ${emulatorHost}`);

    const gemini = process.env.GEMINI_API_KEY ? undefined : await startGeminiStandin({ chunkCount: 6, chunkDelayMs: 40, ...options.gemini });
    if (gemini) {
      cleanups.push(() => gemini.close());
      log(`▶ Gemini stand-in on ${gemini.url} (not a real model)`);
    }
    const mailgun = process.env.MAILGUN_API_KEY ? undefined : await startMailgunStandin({ apiKey: 'local-mailgun-key', saveDir: outboxDir });
    if (mailgun) {
      cleanups.push(() => mailgun.close());
      log(`▶ Mailgun stand-in on ${mailgun.url} (writes received messages to ${outboxDir})`);
    }
    const files = await startFileServer(options.files ?? {});
    cleanups.push(() => new Promise<void>((r) => files.server.close(() => r())));

    const port = await freePort();
    const topic = options.topic ?? process.env.PUBSUB_TOPIC ?? 'email-worker-jobs';
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      EMAIL_PROCESSING_MODE: process.env.EMAIL_PROCESSING_MODE ?? 'true',
      WORKER_MODE: 'pull',
      PORT: String(port),
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      GOOGLE_CLOUD_PROJECT: project,
      PUBSUB_EMULATOR_HOST: emulatorHost,
      PUBSUB_TOPIC: topic,
      PUBSUB_SUBSCRIPTION: `${topic}-worker`,
      PUBSUB_DEAD_LETTER_TOPIC: `${topic}-dead`,
      METADATA_SERVER_DETECTION: 'none',
      OUTBOX_DIR: outboxDir,
      // Attachments are served from loopback: allowed for this local run only.
      ATTACHMENT_ALLOW_PRIVATE: 'true',
      ATTACHMENT_ALLOWED_HOSTS: process.env.ATTACHMENT_ALLOWED_HOSTS ?? '127.0.0.1',
      ...(gemini ? { GEMINI_BASE_URL: gemini.url, GEMINI_API_KEY: '' } : {}),
      ...(mailgun ? { MAILGUN_API_KEY: 'local-mailgun-key', MAILGUN_API_URL: mailgun.url, MAILGUN_DOMAIN: 'mg.demo.localhost' } : {}),
      // issue 7: the inbound webhook verifies posts with this key (`email-worker send` signs with it).
      MAILGUN_WEBHOOK_SIGNING_KEY: process.env.MAILGUN_WEBHOOK_SIGNING_KEY ?? `local-signing-key-${randomUUID()}`,
    };
    log(`▶ starting the worker (node src/main.ts, WORKER_MODE=pull, EMAIL_PROCESSING_MODE=${env.EMAIL_PROCESSING_MODE}) …`);
    const worker = startWorker(env, join(options.dir, 'worker.log'), options.echoWorkerLog ?? false);
    cleanups.push(() => worker.stop());
    const workerUrl = `http://127.0.0.1:${port}`;
    await worker.ready(`${workerUrl}/readyz`);
    return {
      env,
      project,
      topic,
      outboxDir,
      workerUrl,
      workerLogPath: worker.logPath,
      filesUrl: files.url,
      ...(gemini ? { gemini } : {}),
      ...(mailgun ? { mailgun } : {}),
      waitForLog: worker.waitFor,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function startFileServer(routes: Record<string, string>): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const body = routes[req.url ?? ''];
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  return { server, url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}` };
}

function startWorker(env: NodeJS.ProcessEnv, logPath: string, echo: boolean) {
  // Detached: the worker leads its own process group, so stopping it stops anything it started.
  const child = spawn(process.execPath, [...WORKER_NODE_FLAGS, join(ROOT, 'src/main.ts')], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const entries: LogEntry[] = [];
  const lines: string[] = [];
  const waiters = new Set<{ match: (e: LogEntry) => boolean; resolve: (e: LogEntry) => void }>();
  const onLine = (line: string) => {
    lines.push(line);
    if (echo) process.stdout.write(`${line}\n`);
    let entry: LogEntry;
    try {
      entry = JSON.parse(line) as LogEntry;
    } catch {
      return;
    }
    entries.push(entry);
    for (const w of waiters) {
      if (w.match(entry)) {
        waiters.delete(w);
        w.resolve(entry);
      }
    }
  };
  createInterface({ input: child.stdout }).on('line', onLine);
  createInterface({ input: child.stderr }).on('line', onLine);
  let exited = false;
  child.once('exit', () => (exited = true));
  const flushLog = () => writeFile(logPath, lines.join('\n') + '\n');
  return {
    logPath,
    async ready(url: string) {
      for (const end = Date.now() + 60_000; Date.now() < end; await sleep(100)) {
        if (exited) {
          await flushLog();
          throw new Error(`the worker exited during start-up:\n${lines.slice(-20).join('\n')}`);
        }
        if (await fetch(url).then((r) => r.ok, () => false)) return;
      }
      throw new Error('the worker did not become ready within 60 s');
    },
    waitFor(match: (e: LogEntry) => boolean, timeoutMs: number): Promise<LogEntry> {
      const seen = entries.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolvePromise, reject) => {
        const waiter = {
          match,
          resolve: (e: LogEntry) => {
            clearTimeout(timer);
            resolvePromise(e);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no such worker log line within ${timeoutMs / 1000}s; last lines:\n${lines.slice(-15).join('\n')}`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    async stop() {
      if (!exited && child.pid) {
        process.kill(-child.pid, 'SIGTERM');
        for (const end = Date.now() + 15_000; !exited && Date.now() < end; ) await sleep(50);
        if (!exited) process.kill(-child.pid, 'SIGKILL');
      }
      await flushLog();
    },
  };
}
