/**
 * `npm run bench -- pipeline`: the worker's cost and footprint, on the real Pub/Sub emulator with
 * loopback stand-ins, all in one run.
 *
 * 1. Throughput with instant stand-ins (no export): bare subscriber (ack only, the ceiling) vs the
 *    reference consumer (`reference-consumer.ts`, the same work by hand) vs the worker. Target:
 *    worker ≥ 0.8 × reference.
 * 2. 1,000 concurrent slow jobs (each Gemini stream lasts BENCH_SLOW_STREAM_MS, default 30 s) in one
 *    process: peak RSS (target < 400 MB) and event-loop lag p99 (target < 50 ms).
 * 3. One 200 MB attachment from a loopback server: RSS growth (target < 64 MB) and speed vs curl
 *    from the same server (target ≥ 0.8 × curl).
 *
 * Sizes can be reduced for a quick look: BENCH_JOBS, BENCH_SLOW_JOBS, BENCH_ATTACHMENT_MB.
 */
import { createServer } from 'node:http';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { PubSub, type Message } from '@google-cloud/pubsub';
import { startEmulator } from '../src/dev/emulator.ts';
import { startGeminiStandin } from '../src/dev/gemini-standin.ts';
import { startMailgunStandin } from '../src/dev/mailgun-standin.ts';
import { loadConfig } from '../src/config.ts';
import { startApp } from '../src/app.ts';
import { createLogger } from '../src/observability/logger.ts';
import { configureTimeouts } from '../src/timeouts/settings.ts';
import { downloadAttachments } from '../src/attachments/download.ts';
import { Deadline } from '../src/resilience/deadline.ts';
import { startReferenceConsumer } from './reference-consumer.ts';

const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const JOBS = num('BENCH_JOBS', 1000);
const CONCURRENCY = num('BENCH_CONCURRENCY', 50);
const SLOW_JOBS = num('BENCH_SLOW_JOBS', 1000);
const SLOW_STREAM_MS = num('BENCH_SLOW_STREAM_MS', 30_000);
const ATTACHMENT_MB = num('BENCH_ATTACHMENT_MB', 200);
const MAILGUN_KEY = 'bench-mailgun-key';
const DOMAIN = 'mg.bench.localhost';

const nullLog = () => createLogger({ level: 'info', stream: new Writable({ write: (_c, _e, done) => done() }) });

function job(i: number) {
  return {
    version: 1,
    kind: 'email',
    from: `user${i}@example.com`,
    to: [`ask@${DOMAIN}`],
    subject: `Question ${i}`,
    text: `Benchmark question number ${i}: what is the answer?`,
    messageId: `<bench-${i}-${randomUUID()}@example.com>`,
  };
}

async function publishAll(pubsub: PubSub, topicName: string, count: number, make: (i: number) => object = job): Promise<void> {
  const topic = pubsub.topic(topicName, { batching: { maxMessages: 500, maxMilliseconds: 10 } });
  const pending: Promise<string>[] = [];
  for (let i = 0; i < count; i++) pending.push(topic.publishMessage({ json: make(i) }));
  await Promise.all(pending);
}

async function createTopicAndSub(pubsub: PubSub, name: string): Promise<void> {
  const [topic] = await pubsub.createTopic(name);
  await topic.createSubscription(`${name}-sub`, { ackDeadlineSeconds: 60 });
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  for (const end = Date.now() + timeoutMs; !check(); await sleep(5)) if (Date.now() > end) throw new Error('benchmark step timed out');
}

async function bareSubscriber(pubsub: PubSub, count: number): Promise<number> {
  const name = `bench-bare-${randomUUID().slice(0, 8)}`;
  await createTopicAndSub(pubsub, name);
  await publishAll(pubsub, name, count, (i) => ({ i }));
  const sub = pubsub.subscription(`${name}-sub`, { flowControl: { maxMessages: 1000, allowExcessMessages: false } });
  let acked = 0;
  const start = performance.now();
  sub.on('message', (m: Message) => {
    m.ack();
    acked++;
  });
  await waitUntil(() => acked >= count, 120_000);
  const seconds = (performance.now() - start) / 1000;
  await sub.close();
  return count / seconds;
}

async function throughput(pubsub: PubSub, emulatorHost: string) {
  const gemini = await startGeminiStandin({ chunkCount: 3, chunkDelayMs: 0 });
  const mailgun = await startMailgunStandin({ apiKey: MAILGUN_KEY });
  try {
    const bare = await bareSubscriber(pubsub, Math.max(JOBS * 5, 5000));

    const refName = `bench-ref-${randomUUID().slice(0, 8)}`;
    await createTopicAndSub(pubsub, refName);
    await publishAll(pubsub, refName, JOBS);
    let refDone = 0;
    const refStart = performance.now();
    const ref = startReferenceConsumer({
      subscription: pubsub.subscription(`${refName}-sub`),
      concurrency: CONCURRENCY,
      geminiUrl: gemini.url,
      mailgunUrl: mailgun.url,
      mailgunKey: MAILGUN_KEY,
      domain: DOMAIN,
      onDone: () => refDone++,
    });
    await waitUntil(() => refDone >= JOBS, 300_000);
    const refRate = JOBS / ((performance.now() - refStart) / 1000);
    await ref.stop();

    const name = `bench-worker-${randomUUID().slice(0, 8)}`;
    const config = loadConfig({
      GOOGLE_CLOUD_PROJECT: 'demo-bench',
      PUBSUB_EMULATOR_HOST: emulatorHost,
      PUBSUB_TOPIC: name,
      PUBSUB_SUBSCRIPTION: `${name}-sub`,
      PUBSUB_DEAD_LETTER_TOPIC: `${name}-dead`,
      EMAIL_PROCESSING_MODE: 'true',
      WORKER_CONCURRENCY: String(CONCURRENCY),
      PORT: '0',
      GEMINI_API_KEY: 'bench-key',
      GEMINI_BASE_URL: gemini.url,
      MAILGUN_API_KEY: MAILGUN_KEY,
      MAILGUN_API_URL: mailgun.url,
      MAILGUN_DOMAIN: DOMAIN,
    });
    configureTimeouts(config.timeouts);
    const before = mailgun.messages.length;
    // Create the resources, publish, then start consuming: same order as the reference.
    const app = await startApp(config, nullLog());
    await app.stop();
    await publishAll(pubsub, name, JOBS);
    const workerStart = performance.now();
    const worker = await startApp(config, nullLog());
    await waitUntil(() => mailgun.messages.length - before >= JOBS, 300_000);
    const workerRate = JOBS / ((performance.now() - workerStart) / 1000);
    await worker.stop();
    return {
      jobs: JOBS,
      concurrency: CONCURRENCY,
      bareSubscriberMsgPerS: round(bare),
      referenceJobsPerS: round(refRate),
      workerJobsPerS: round(workerRate),
      workerVsReference: round(workerRate / refRate, 3),
      target: 'worker ≥ 0.8 × reference',
      pass: workerRate / refRate >= 0.8,
    };
  } finally {
    await gemini.close();
    await mailgun.close();
  }
}

async function slowJobs(emulatorHost: string) {
  const gemini = await startGeminiStandin({ chunkCount: 10, streamDurationMs: SLOW_STREAM_MS });
  const mailgun = await startMailgunStandin({ apiKey: MAILGUN_KEY });
  const pubsub = new PubSub({ projectId: 'demo-bench' });
  const name = `bench-slow-${randomUUID().slice(0, 8)}`;
  try {
    const config = loadConfig({
      GOOGLE_CLOUD_PROJECT: 'demo-bench',
      PUBSUB_EMULATOR_HOST: emulatorHost,
      PUBSUB_TOPIC: name,
      PUBSUB_SUBSCRIPTION: `${name}-sub`,
      PUBSUB_DEAD_LETTER_TOPIC: `${name}-dead`,
      EMAIL_PROCESSING_MODE: 'true',
      WORKER_CONCURRENCY: String(SLOW_JOBS),
      PORT: '0',
      GEMINI_API_KEY: 'bench-key',
      GEMINI_BASE_URL: gemini.url,
      MAILGUN_API_KEY: MAILGUN_KEY,
      MAILGUN_API_URL: mailgun.url,
      MAILGUN_DOMAIN: DOMAIN,
    });
    configureTimeouts(config.timeouts);
    globalThis.gc?.();
    const rssBefore = process.memoryUsage().rss;
    const app = await startApp(config, nullLog());
    await publishAll(pubsub, name, SLOW_JOBS);
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    let peakRss = 0;
    let peakInFlight = 0;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      peakInFlight = Math.max(peakInFlight, gemini.openStreams ?? 0);
    }, 100);
    const start = performance.now();
    await waitUntil(() => mailgun.messages.length >= SLOW_JOBS, SLOW_STREAM_MS * 4 + 120_000);
    const seconds = (performance.now() - start) / 1000;
    clearInterval(sampler);
    lag.disable();
    await app.stop();
    return {
      jobs: SLOW_JOBS,
      streamMs: SLOW_STREAM_MS,
      allRepliedAfterS: round(seconds, 1),
      peakConcurrentStreams: peakInFlight,
      rssBeforeMB: mb(rssBefore),
      peakRssMB: mb(peakRss),
      eventLoopLagP99Ms: round(lag.percentile(99) / 1e6, 2),
      eventLoopLagMaxMs: round(lag.max / 1e6, 2),
      targets: { peakRssMB: '< 400', eventLoopLagP99Ms: '< 50' },
      pass: mb(peakRss) < 400 && lag.percentile(99) / 1e6 < 50,
    };
  } finally {
    await pubsub.close();
    await gemini.close();
    await mailgun.close();
  }
}

async function bigAttachment() {
  const size = ATTACHMENT_MB * 1024 * 1024;
  const block = Buffer.alloc(64 * 1024, 0x61);
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        const n = Math.min(block.length, size - sent);
        sent += n;
        if (!res.write(n === block.length ? block : block.subarray(0, n))) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/big.bin`;
  const dir = await mkdtemp(join(tmpdir(), 'bench-attach-'));
  try {
    const curlTimes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      await promisify(execFile)('curl', ['-sS', '-o', join(dir, `curl-${i}.bin`), url]);
      curlTimes.push(performance.now() - t);
      await rm(join(dir, `curl-${i}.bin`));
    }
    globalThis.gc?.();
    const ours: number[] = [];
    let peakGrowth = 0;
    for (let i = 0; i < 3; i++) {
      const rssBefore = process.memoryUsage().rss;
      let peak = rssBefore;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
      const sub = join(dir, `ours-${i}`);
      await (await import('node:fs/promises')).mkdir(sub);
      const deadline = Deadline.after(600_000);
      const t = performance.now();
      const [result] = await downloadAttachments([{ name: 'big.bin', url }], {
        dir: sub,
        deadline,
        policy: { attempts: 1, minDelayMs: 0, maxDelayMs: 0 },
        perFileTimeoutMs: 300_000,
        headersTimeoutMs: 30_000,
        bodyTimeoutMs: 30_000,
        maxBytes: size + 1,
        allowedHosts: ['127.0.0.1'],
        allowPrivate: true,
      });
      ours.push(performance.now() - t);
      clearInterval(sampler);
      deadline.dispose();
      if (!result?.ok) throw new Error(`download failed: ${result && !result.ok ? result.reason : 'no result'}`);
      if ((await stat(result.path)).size !== size) throw new Error('downloaded size differs');
      peakGrowth = Math.max(peakGrowth, peak - rssBefore);
      await rm(sub, { recursive: true });
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const curlMBs = ATTACHMENT_MB / (median(curlTimes) / 1000);
    const oursMBs = ATTACHMENT_MB / (median(ours) / 1000);
    return {
      sizeMB: ATTACHMENT_MB,
      curlMBPerS: round(curlMBs),
      workerMBPerS: round(oursMBs),
      vsCurl: round(oursMBs / curlMBs, 3),
      rssGrowthMB: mb(peakGrowth),
      targets: { vsCurl: '≥ 0.8', rssGrowthMB: '< 64' },
      pass: oursMBs / curlMBs >= 0.8 && mb(peakGrowth) < 64,
    };
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const mb = (bytes: number) => round(bytes / 2 ** 20, 1);

export async function run(): Promise<object> {
  process.env.METADATA_SERVER_DETECTION = 'none';
  const emulator = process.env.PUBSUB_EMULATOR_HOST ? undefined : await startEmulator('pubsub', { project: 'demo-bench' });
  const host = process.env.PUBSUB_EMULATOR_HOST ?? emulator!.host;
  process.env.PUBSUB_EMULATOR_HOST = host;
  const pubsub = new PubSub({ projectId: 'demo-bench' });
  try {
    const results: Record<string, unknown> = {};
    results.throughput = await throughput(pubsub, host);
    console.log(JSON.stringify(results.throughput));
    results.attachment = await bigAttachment();
    console.log(JSON.stringify(results.attachment));
    results.slowJobs = await slowJobs(host);
    console.log(JSON.stringify(results.slowJobs));
    return results;
  } finally {
    await pubsub.close();
    await emulator?.stop();
  }
}

if (import.meta.main) {
  const { writeResult } = await import('./run.ts');
  const result = await run();
  console.log(JSON.stringify(result, null, 2));
  console.log(`→ ${await writeResult('pipeline', result)}`);
}
