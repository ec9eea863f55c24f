/**
 * Scenario 1 — throughput with instant stand-ins (no export): the worker vs the reference consumer
 * (`bench/reference-consumer.ts`), plus a bare subscriber that only acks (the ceiling).
 *
 * Fairness: one process runs both consumers, one after the other, on the same emulator and the
 * same stand-ins (in their own process, `standins.ts`); each round gets a fresh topic and
 * subscription of the same shape, is published in full before the consumer starts, and its consumer
 * gets a fresh PubSub client. Both sides use the same flow control (`concurrency` messages, no
 * excess) and the same SDKs. One warm-up round per side is discarded; then `rounds` rounds per
 * side, alternating which side goes first; the medians are compared. A round's clock runs from
 * the consumer's start (after the worker's start-up: resource checks, HTTP server) until the
 * Mailgun stand-in has accepted the round's last reply.
 *
 * Standalone, e.g. to profile only the worker: `BENCH_ROUNDS=3 npx node --cpu-prof
 * bench/pipeline/throughput.ts --only=worker` (starts its own emulator when PUBSUB_EMULATOR_HOST
 * is unset).
 */
import { parseArgs } from 'node:util';
import type { Message, PubSub } from '@google-cloud/pubsub';
import { startApp } from '../../src/app.ts';
import { configureTimeouts } from '../../src/timeouts/settings.ts';
import { startReferenceConsumer } from '../reference-consumer.ts';
import {
  DOMAIN,
  MAILGUN_KEY,
  createResources,
  deleteResources,
  discardingLogger,
  emulatorHost,
  median,
  num,
  publishAll,
  pubsubClient,
  round,
  scenarioMain,
  uniqueName,
  wallNow,
  workerConfig,
} from './common.ts';
import { startStandins, type Standins } from './standins.ts';

type Side = 'reference' | 'worker';

interface RoundResult {
  side: Side;
  jobs: number;
  jobsPerS: number;
  /** CPU time of this process (user + system) per job, ms. */
  cpuMsPerJob: number;
  /** Share of the round the event loop was busy (1 = CPU-bound). */
  eventLoopUtilization: number;
}

const ROUND_TIMEOUT_MS = 300_000;

async function bareRound(admin: PubSub, count: number): Promise<number> {
  const name = uniqueName('bench-bare');
  await createResources(admin, name);
  await publishAll(admin, name, count, (i) => ({ i }));
  const pubsub = pubsubClient();
  const sub = pubsub.subscription(`${name}-sub`, { flowControl: { maxMessages: 1000, allowExcessMessages: false } });
  let acked = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((resolve) => (resolveAll = resolve));
  const start = performance.now();
  let end = start;
  sub.on('message', (m: Message) => {
    m.ack();
    if (++acked === count) {
      end = performance.now();
      resolveAll();
    }
  });
  await all;
  await sub.close();
  await pubsub.close();
  await deleteResources(admin, name);
  return count / ((end - start) / 1000);
}

/** Runs one round of `side` over `jobs` fresh jobs. */
async function consumerRound(side: Side, admin: PubSub, standins: Standins, jobs: number, concurrency: number): Promise<RoundResult> {
  const name = uniqueName(`bench-${side}`);
  await createResources(admin, name);
  await publishAll(admin, name, jobs);
  await standins.reset();
  globalThis.gc?.();
  let stop: () => Promise<void>;
  let cpu: NodeJS.CpuUsage;
  let elu: ReturnType<typeof performance.eventLoopUtilization>;
  let start: number;
  if (side === 'reference') {
    const pubsub = pubsubClient();
    cpu = process.cpuUsage();
    elu = performance.eventLoopUtilization();
    start = wallNow();
    const consumer = startReferenceConsumer({
      subscription: pubsub.subscription(`${name}-sub`),
      concurrency,
      geminiUrl: standins.geminiUrl,
      mailgunUrl: standins.mailgunUrl,
      mailgunKey: MAILGUN_KEY,
      domain: DOMAIN,
    });
    stop = async () => {
      await consumer.stop();
      await pubsub.close();
      if (consumer.failed) throw new Error(`reference consumer: ${consumer.failed} jobs failed`);
    };
  } else {
    const config = workerConfig({ emulatorHost: emulatorHost(), name, concurrency, geminiUrl: standins.geminiUrl, mailgunUrl: standins.mailgunUrl });
    configureTimeouts(config.timeouts);
    const app = await startApp(config, discardingLogger());
    cpu = process.cpuUsage();
    elu = performance.eventLoopUtilization();
    start = wallNow();
    stop = () => app.stop();
  }
  const end = await standins.waitForMessages(jobs, ROUND_TIMEOUT_MS);
  const cpuUsed = process.cpuUsage(cpu);
  const loop = performance.eventLoopUtilization(elu);
  const stats = await standins.stats();
  await stop();
  await deleteResources(admin, name);
  // Every job asked Gemini once and got one reply: no retries, no failure emails hiding in the count.
  if (stats.geminiRequests !== jobs || stats.messages !== jobs) {
    throw new Error(`${side} round: ${stats.geminiRequests} Gemini requests and ${stats.messages} replies for ${jobs} jobs`);
  }
  return {
    side,
    jobs,
    jobsPerS: jobs / ((end - start) / 1000),
    cpuMsPerJob: (cpuUsed.user + cpuUsed.system) / 1000 / jobs,
    eventLoopUtilization: loop.utilization,
  };
}

export interface ThroughputOptions {
  jobs: number;
  concurrency: number;
  rounds: number;
  bareMessages: number;
  /** Run only these sides (profiling). @defaultValue all */
  only?: Array<Side | 'bare'>;
}

export async function throughput(o: ThroughputOptions) {
  const want = (s: Side | 'bare') => !o.only || o.only.includes(s);
  const admin = pubsubClient();
  const standins = await startStandins({ gemini: { chunkCount: 3, chunkDelayMs: 0 }, mailgunKey: MAILGUN_KEY });
  try {
    const bare: number[] = [];
    if (want('bare')) for (let i = 0; i < 3; i++) bare.push(await bareRound(admin, o.bareMessages));

    const sides = (['reference', 'worker'] as const).filter(want);
    // Warm-up: JIT, connection pools, the emulator's first subscription of a kind.
    for (const side of sides) await consumerRound(side, admin, standins, Math.min(o.jobs, 200), o.concurrency);
    const rounds: RoundResult[] = [];
    for (let r = 0; r < o.rounds; r++) {
      // Alternate who goes first, so a drift over the run (emulator state, heap) hits both sides alike.
      for (const side of r % 2 ? [...sides].reverse() : sides) {
        const result = await consumerRound(side, admin, standins, o.jobs, o.concurrency);
        rounds.push(result);
        console.error(`  throughput round ${r + 1}/${o.rounds} ${side}: ${round(result.jobsPerS)} jobs/s, ${round(result.cpuMsPerJob, 2)} ms CPU/job`);
      }
    }
    const of = (side: Side) => rounds.filter((x) => x.side === side);
    const summary = (side: Side) => {
      const rs = of(side);
      return rs.length
        ? {
            jobsPerS: round(median(rs.map((x) => x.jobsPerS))),
            cpuMsPerJob: round(median(rs.map((x) => x.cpuMsPerJob)), 2),
            eventLoopUtilization: round(median(rs.map((x) => x.eventLoopUtilization)), 2),
            rounds: rs.map((x) => round(x.jobsPerS)),
          }
        : undefined;
    };
    const reference = summary('reference');
    const worker = summary('worker');
    const ratio = reference && worker ? worker.jobsPerS / reference.jobsPerS : undefined;
    return {
      jobsPerRound: o.jobs,
      concurrency: o.concurrency,
      roundsPerSide: o.rounds,
      ...(bare.length ? { bareSubscriber: { msgPerS: round(median(bare)), messagesPerRound: o.bareMessages, rounds: bare.map((x) => round(x)) } } : {}),
      ...(reference ? { reference } : {}),
      ...(worker ? { worker } : {}),
      ...(ratio === undefined
        ? {}
        : {
            workerVsReference: round(ratio, 3),
            // The same comparison per pair of neighbouring rounds, to show the spread.
            workerVsReferencePerRound: of('worker').map((w, i) => round(w.jobsPerS / (of('reference')[i]?.jobsPerS ?? Number.NaN), 3)),
            target: 'worker ≥ 0.8 × reference (medians)',
            pass: ratio >= 0.8,
          }),
    };
  } finally {
    await standins.close();
    await admin.close();
  }
}

export const optionsFromEnv = (only?: Array<Side | 'bare'>): ThroughputOptions => ({
  jobs: num('BENCH_JOBS', 1000),
  concurrency: num('BENCH_CONCURRENCY', 50),
  rounds: num('BENCH_ROUNDS', 5),
  bareMessages: num('BENCH_BARE_MESSAGES', 5000),
  ...(only ? { only } : {}),
});

if (import.meta.main) {
  const { values } = parseArgs({ options: { only: { type: 'string' } } });
  const only = values.only?.split(',') as Array<Side | 'bare'> | undefined;
  await scenarioMain(() => throughput(optionsFromEnv(only)), { emulator: true });
}
