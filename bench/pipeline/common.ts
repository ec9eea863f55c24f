/**
 * Helpers shared by the pipeline benchmark's scenarios: jobs, Pub/Sub set-up, the worker's
 * configuration, statistics, and running a scenario in a fresh child process.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { PubSub } from '@google-cloud/pubsub';
import { loadConfig, type Config } from '../../src/config.ts';
import { createLogger } from '../../src/observability/logger.ts';
import type { AppLogger } from '../../src/observability/logger.ts';

export const PROJECT = 'demo-bench';
export const MAILGUN_KEY = 'bench-mailgun-key';
export const DOMAIN = 'mg.bench.localhost';

export const num = (name: string, fallback: number): number => {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`Expected \`${name}\` to be a number > 0, got '${raw}'.`);
  return value;
};

export const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;
export const mb = (bytes: number): number => round(bytes / 2 ** 20, 1);

export function median(xs: readonly number[]): number {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Wall-clock time in ms with sub-ms resolution, comparable between processes on one machine. */
export const wallNow = (): number => performance.timeOrigin + performance.now();

/**
 * A logger that does all of the product's work per line (Cloud Run JSON, redaction) and drops the
 * result: the cost of logging is measured, the terminal is not.
 */
export const discardingLogger = (): AppLogger =>
  createLogger({ level: 'info', stream: new Writable({ write: (_chunk, _encoding, done) => done() }) });

/** One email job, as the ingress publishes it. */
export function job(i: number): Record<string, unknown> {
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

export const pubsubClient = (): PubSub => new PubSub({ projectId: PROJECT });

export const uniqueName = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

/**
 * Topic, dead-letter topic and subscription as the worker would create them on the emulator, so
 * that its start-up only finds them (both sides of a comparison get the same subscription shape).
 */
export async function createResources(pubsub: PubSub, name: string): Promise<void> {
  const [topic] = await pubsub.createTopic(name);
  const [dead] = await pubsub.createTopic(`${name}-dead`);
  await topic.createSubscription(`${name}-sub`, {
    ackDeadlineSeconds: 60,
    deadLetterPolicy: { deadLetterTopic: dead.name, maxDeliveryAttempts: 5 },
    retryPolicy: { minimumBackoff: { seconds: 10 }, maximumBackoff: { seconds: 600 } },
  });
}

export async function deleteResources(pubsub: PubSub, name: string): Promise<void> {
  await pubsub.subscription(`${name}-sub`).delete().catch(() => {});
  await pubsub.topic(name).delete().catch(() => {});
  await pubsub.topic(`${name}-dead`).delete().catch(() => {});
}

export async function publishAll(pubsub: PubSub, topicName: string, count: number, make: (i: number) => object = job): Promise<void> {
  const topic = pubsub.topic(topicName, { batching: { maxMessages: 500, maxMilliseconds: 10 } });
  const pending: Promise<string>[] = [];
  for (let i = 0; i < count; i++) pending.push(topic.publishMessage({ json: make(i) }));
  await Promise.all(pending);
  await topic.flush();
}

/** The worker's configuration for one benchmark subscription, against the stand-ins. */
export function workerConfig(options: { emulatorHost: string; name: string; concurrency: number; geminiUrl: string; mailgunUrl: string }): Config {
  return loadConfig({
    GOOGLE_CLOUD_PROJECT: PROJECT,
    PUBSUB_EMULATOR_HOST: options.emulatorHost,
    PUBSUB_TOPIC: options.name,
    PUBSUB_SUBSCRIPTION: `${options.name}-sub`,
    PUBSUB_DEAD_LETTER_TOPIC: `${options.name}-dead`,
    EMAIL_PROCESSING_MODE: 'true',
    WORKER_CONCURRENCY: String(options.concurrency),
    PORT: '0',
    GEMINI_API_KEY: 'bench-key',
    GEMINI_BASE_URL: options.geminiUrl,
    MAILGUN_API_KEY: MAILGUN_KEY,
    MAILGUN_API_URL: options.mailgunUrl,
    MAILGUN_DOMAIN: DOMAIN,
    // The benchmark measures the pipeline, not the cost caps: a round publishes more than a day's default.
    DAILY_JOB_CAP: '0',
  });
}

/** The emulator every scenario uses; set by the parent, or by a scenario run on its own. */
export function emulatorHost(): string {
  const host = process.env.PUBSUB_EMULATOR_HOST;
  if (!host) throw new Error('PUBSUB_EMULATOR_HOST is not set');
  return host;
}

/**
 * Runs `file` (a scenario module whose `import.meta.main` block calls {@link scenarioMain}) in a
 * fresh Node process, so that memory and JIT state of one scenario do not colour the next.
 * Resolves with the object the child sent.
 */
export async function runInChild(file: string, args: string[] = [], execArgv: string[] = ['--expose-gc']): Promise<Record<string, unknown>> {
  const child = fork(file, args, { execArgv, env: process.env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let result: Record<string, unknown> | undefined;
  let failure: string | undefined;
  child.on('message', (m: { result?: Record<string, unknown>; error?: string }) => {
    if (m.result) result = m.result;
    if (m.error) failure = m.error;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c) => resolve(c));
  });
  if (failure) throw new Error(`${file} failed: ${failure}`);
  if (!result) throw new Error(`${file} exited with ${code} without a result`);
  return result;
}

/**
 * The child's side of {@link runInChild}: runs `fn`, sends its result (or error) to the parent and
 * exits. Run directly (no parent), it starts a Pub/Sub emulator when none is configured and prints
 * the result: `npx node bench/pipeline/throughput.ts`.
 */
export async function scenarioMain(fn: () => Promise<object>, options: { emulator?: boolean } = {}): Promise<void> {
  process.env.METADATA_SERVER_DETECTION = 'none';
  const { startEmulator } = await import('../../src/dev/emulator.ts');
  const emulator = options.emulator && !process.env.PUBSUB_EMULATOR_HOST ? await startEmulator('pubsub', { project: PROJECT }) : undefined;
  if (emulator) process.env.PUBSUB_EMULATOR_HOST = emulator.host;
  let message: { result: object } | { error: string };
  try {
    message = { result: await fn() };
  } catch (error) {
    message = { error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  } finally {
    await emulator?.stop();
  }
  const code = 'error' in message ? 1 : 0;
  if (process.send) {
    // Sockets of SDK clients may linger; the result is out, so end here.
    process.send(message, () => process.exit(code));
  } else {
    if ('error' in message) console.error(message.error);
    else console.log(JSON.stringify(message.result, null, 2));
    process.exit(code);
  }
}
