/**
 * `npm run demo` (SPEC §6): the main job, end to end, on a machine with no cloud account.
 *
 * Starts the real Pub/Sub emulator, the local Gemini and Mailgun stand-ins (real wire protocols),
 * a loopback file server for the attachment, and the worker itself (`node src/main.ts`, the
 * production entry point) as a child process. Publishes a sample email job with an attachment,
 * waits for the reply, prints where it is, the time of each step and the active profile, then
 * stops everything it started.
 *
 * With GEMINI_API_KEY set the real Gemini API is used; with MAILGUN_API_KEY (+ MAILGUN_DOMAIN,
 * DEMO_TO) the real Mailgun.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { PubSub } from '@google-cloud/pubsub';
import { freePort, startEmulator, type RunningEmulator } from './emulator.ts';
import { startGeminiStandin } from './gemini-standin.ts';
import { startMailgunStandin } from './mailgun-standin.ts';
import { getTimeouts } from '../timeouts/engine.ts';
import { loadTimeoutSettings } from '../timeouts/settings.ts';

// No metadata server here: without this the Google clients print MetadataLookupWarning.
process.env.METADATA_SERVER_DETECTION ??= 'none';
const root = resolve(import.meta.dirname, '../..');
const demoDir = join(root, '.demo');
const outboxDir = join(demoDir, 'outbox');
const log = (line: string) => process.stdout.write(`${line}\n`);

const SAMPLE_ATTACHMENT = `Quarterly support report (sample)
- Tickets opened: 1,284 (up 9 % on Q2)
- Median first response: 2 h 10 min
- Top topics: billing exports, SSO setup, API rate limits
- Churned accounts citing support: 3
`;

interface Started {
  stop(): Promise<void>;
}

async function main(): Promise<number> {
  const cleanups: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((e: unknown) => log(`cleanup: ${(e as Error).message}`));
    cleanups.length = 0;
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));

  try {
    await rm(demoDir, { recursive: true, force: true });
    await mkdir(outboxDir, { recursive: true });
    const realGemini = Boolean(process.env.GEMINI_API_KEY);
    const realMailgun = Boolean(process.env.MAILGUN_API_KEY);

    log('▶ starting the Pub/Sub emulator (gcloud beta emulators pubsub) …');
    let emulator: RunningEmulator | undefined;
    const project = 'demo-local';
    if (!process.env.PUBSUB_EMULATOR_HOST) {
      emulator = await startEmulator('pubsub', { project });
      cleanups.push(() => emulator!.stop());
    }
    const emulatorHost = process.env.PUBSUB_EMULATOR_HOST ?? emulator!.host;
    log(`  emulator on ${emulatorHost}`);

    const gemini = realGemini ? undefined : await startGeminiStandin({ chunkCount: 6, chunkDelayMs: 40 });
    if (gemini) {
      cleanups.push(() => gemini.close());
      log(`▶ Gemini stand-in on ${gemini.url} (not a real model)`);
    }
    const mailgun = realMailgun ? undefined : await startMailgunStandin({ apiKey: 'demo-mailgun-key', saveDir: outboxDir });
    if (mailgun) {
      cleanups.push(() => mailgun.close());
      log(`▶ Mailgun stand-in on ${mailgun.url} (writes received messages to ${outboxDir})`);
    }
    const files = await startFileServer({ '/attachments/q3-support-report.txt': SAMPLE_ATTACHMENT });
    cleanups.push(() => new Promise<void>((r) => files.server.close(() => r())));

    const port = await freePort();
    const topic = `demo-jobs-${randomUUID().slice(0, 8)}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      EMAIL_PROCESSING_MODE: 'true',
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
      // The attachment is served from loopback: allowed for this local run only.
      ATTACHMENT_ALLOW_PRIVATE: 'true',
      ATTACHMENT_ALLOWED_HOSTS: '127.0.0.1',
      ...(gemini ? { GEMINI_BASE_URL: gemini.url, GEMINI_API_KEY: '' } : {}),
      ...(mailgun ? { MAILGUN_API_KEY: 'demo-mailgun-key', MAILGUN_API_URL: mailgun.url, MAILGUN_DOMAIN: 'mg.demo.localhost' } : {}),
    };
    log('▶ starting the worker (node src/main.ts, WORKER_MODE=pull, EMAIL_PROCESSING_MODE=true) …');
    const worker = startWorker(env);
    cleanups.push(() => worker.stop());
    await worker.ready(`http://127.0.0.1:${port}/readyz`);

    const jobMessageId = `<${randomUUID()}@demo.example.com>`;
    const job = {
      version: 1,
      kind: 'email',
      from: process.env.DEMO_TO ?? 'alice@example.com',
      to: ['ask@mg.demo.localhost'],
      subject: 'Q3 support report — what should we fix first?',
      text: 'Hi! Attached is our Q3 support report. Which two problems should we fix first, and why?\n\nThanks, Alice',
      messageId: jobMessageId,
      references: ['<thread-start@demo.example.com>'],
      attachments: [
        { name: 'q3-support-report.txt', contentType: 'text/plain', url: `${files.url}/attachments/q3-support-report.txt` },
        { name: 'notes.md', contentType: 'text/markdown', base64: Buffer.from('# Notes\nSSO setup docs are out of date.\n').toString('base64') },
      ],
      export: { formats: ['html', 'docx'] },
    };
    process.env.PUBSUB_EMULATOR_HOST = emulatorHost;
    const pubsub = new PubSub({ projectId: project });
    const published = await pubsub.topic(topic).publishMessage({ json: job, attributes: { kind: 'email' } });
    await pubsub.close();
    log(`▶ published job ${published} (Message-ID ${jobMessageId}) with 2 attachments, export html+docx`);

    const finished = await worker.waitFor((entry) => entry.message === 'Job finished: reply sent' || String(entry.message).startsWith('Job failed'), 120_000);
    if (finished.message !== 'Job finished: reply sent') {
      log(`✗ the job did not produce a reply: ${JSON.stringify(finished)}`);
      return 1;
    }
    const timings = (finished.timings ?? {}) as Record<string, number>;
    const saved = mailgun ? (await readdir(outboxDir)).filter((f) => f.endsWith('.eml')) : [];
    log('');
    log('✔ reply sent');
    if (mailgun) {
      const message = mailgun.messages.at(-1);
      log(`  outbox:      ${saved.map((f) => join(outboxDir, f)).join(', ') || '(nothing saved?)'}`);
      log(`  subject:     ${message?.fields.subject ?? '?'}`);
      log(`  In-Reply-To: ${message?.headers['In-Reply-To'] ?? '?'}`);
      log(`  References:  ${message?.headers['References'] ?? '?'}`);
      log(`  attachments: ${message?.attachments.map((a) => `${a.filename} (${a.size} B)`).join(', ') || 'none'}`);
    } else {
      log(`  Mailgun message id: ${String(finished.id)}`);
    }
    log('');
    log('  step       time');
    for (const [step, ms] of Object.entries(timings)) log(`  ${step.padEnd(10)} ${String(ms).padStart(6)} ms`);
    log(`  ${'total'.padEnd(10)} ${String(finished.totalMs).padStart(6)} ms`);
    const t = getTimeouts('email', loadTimeoutSettings(env));
    log('');
    log(`  profile: email (EMAIL_PROCESSING_MODE=true) — stream ${t.streamTimeoutMs / 1000}s, heartbeat ${t.toolHeartbeatMs / 1000}s, ` +
      `hard cap ${t.hardTimeoutMs / 1000}s, genai ${t.genaiTimeoutMs}ms, retries ${t.retryAttempts}× ${t.retryMinMs / 1000}–${t.retryMaxMs / 1000}s, ` +
      `attachment ${t.attachmentDownloadMs / 1000}s, quarto ${t.quartoExportMs / 1000}s, mailgun ${t.mailgunApiMs / 1000}s`);
    log(`  worker log: ${worker.logPath}`);
    return mailgun && saved.length === 0 ? 1 : 0;
  } finally {
    await stopAll();
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

interface LogEntry {
  message?: unknown;
  [key: string]: unknown;
}

function startWorker(env: NodeJS.ProcessEnv): Started & {
  logPath: string;
  ready(url: string): Promise<void>;
  waitFor(match: (e: LogEntry) => boolean, timeoutMs: number): Promise<LogEntry>;
} {
  const logPath = join(demoDir, 'worker.log');
  const child: ChildProcess = spawn(process.execPath, [join(root, 'src/main.ts')], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const entries: LogEntry[] = [];
  const waiters = new Set<{ match: (e: LogEntry) => boolean; resolve: (e: LogEntry) => void }>();
  const lines: string[] = [];
  const onLine = (line: string) => {
    lines.push(line);
    let entry: LogEntry;
    try {
      entry = JSON.parse(line) as LogEntry;
    } catch {
      return;
    }
    entries.push(entry);
    for (const w of waiters) if (w.match(entry)) { waiters.delete(w); w.resolve(entry); }
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  let exited = false;
  child.once('exit', () => (exited = true));
  const flushLog = async () => {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(logPath, lines.join('\n') + '\n');
  };
  return {
    logPath,
    async ready(url) {
      for (const end = Date.now() + 60_000; Date.now() < end; await sleep(100)) {
        if (exited) {
          await flushLog();
          throw new Error(`the worker exited during start-up:\n${lines.slice(-20).join('\n')}`);
        }
        const ok = await fetch(url).then((r) => r.ok, () => false);
        if (ok) return;
      }
      throw new Error('the worker did not become ready within 60 s');
    },
    waitFor(match, timeoutMs) {
      const seen = entries.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolvePromise, reject) => {
        const waiter = { match, resolve: (e: LogEntry) => { clearTimeout(timer); resolvePromise(e); } };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no reply within ${timeoutMs / 1000}s; last worker lines:\n${lines.slice(-15).join('\n')}`));
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

process.exitCode = await main().catch((error: unknown) => {
  log(`✗ demo failed: ${(error as Error).stack ?? String(error)}`);
  return 1;
});
