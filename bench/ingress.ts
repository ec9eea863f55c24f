/**
 * `npm run bench -- ingress`: signed Mailgun store() posts against the worker's webhook on the
 * real Pub/Sub emulator, side by side with a minimal hand-written reference (`ingress/server.ts`
 * explains both). Each side runs in its own process; the load comes from this one over keep-alive
 * connections (undici). Every post is unique (token, Message-ID, sender) and pre-signed.
 *
 * Per side, alternating which goes first: a discarded 2 s warm-up, then
 * - flat out: `BENCH_INGRESS_CONCURRENCY` (32) posts in flight for `BENCH_INGRESS_SECONDS` (8 s),
 *   `BENCH_INGRESS_ROUNDS` (3) rounds, medians compared;
 * - fixed rates 100 and 200 posts/s for `BENCH_INGRESS_SECONDS` each, latency measured from each
 *   post's scheduled send time (so a stall counts against the server, no coordinated omission).
 * Reported: sustained posts/s, p50/p99 latency to the 200, server CPU ms per post, errors.
 * Targets: worker ≥ 0.8 × the reference's sustained rate; p99 < 50 ms at 100 posts/s.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { PubSub } from '@google-cloud/pubsub';
import { startEmulator } from '../src/dev/emulator.ts';
import { storePost } from '../src/ingress/mailgun-post.ts';
import { median, num, PROJECT, round } from './pipeline/common.ts';

const SIGNING_KEY = 'bench-ingress-signing-key';
type Side = 'worker' | 'reference';

interface Running {
  url: string;
  child: ChildProcess;
  cpuMs(): Promise<number>;
  stop(): Promise<void>;
}

async function startSide(side: Side, topic: string): Promise<Running> {
  // BENCH_INGRESS_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=prof") goes to both server processes.
  const execArgv = (process.env.BENCH_INGRESS_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = fork(join(import.meta.dirname, 'ingress', 'server.ts'), ['--side', side, '--topic', topic], { env: process.env, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { url: string }) => resolve(m.url));
    child.once('exit', (code) => reject(new Error(`${side} server exited with ${code}`)));
  });
  return {
    url,
    child,
    cpuMs: () => new Promise((resolve) => {
      child.once('message', (m: { cpuMs: number }) => resolve(m.cpuMs));
      child.send('cpu');
    }),
    stop: () => new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.send('stop');
    }),
  };
}

function bodies(n: number): string[] {
  const now = Math.floor(Date.now() / 1000);
  return Array.from({ length: n }, (_, i) =>
    storePost({
      signingKey: SIGNING_KEY,
      timestamp: now,
      from: `sender${i}-${randomUUID().slice(0, 6)}@example.com`,
      recipient: 'ask@mg.bench.localhost',
      subject: `Question ${i}`,
      text: `Benchmark question ${i}: what is the answer?\n\n${'Some quoted history. '.repeat(40)}`,
      messageId: `<bench-${randomUUID()}@example.com>`,
    }).toString(),
  );
}

const pct = (xs: number[], p: number) => {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

async function post(agent: Agent, url: string, body: string): Promise<number> {
  const res = await request(`${url}/inbound/mailgun`, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' }, dispatcher: agent });
  await res.body.dump();
  return res.statusCode;
}

interface PhaseResult {
  posts: number;
  postsPerS: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  cpuMsPerPost: number;
}

async function measure(server: Running, fn: (agent: Agent) => Promise<{ latencies: number[]; errors: number; seconds: number }>): Promise<PhaseResult> {
  const agent = new Agent({ connections: 64, pipelining: 1 });
  const cpu0 = await server.cpuMs();
  const { latencies, errors, seconds } = await fn(agent);
  const cpu1 = await server.cpuMs();
  await agent.close();
  return {
    posts: latencies.length,
    postsPerS: round(latencies.length / seconds),
    p50Ms: round(pct(latencies, 50), 2),
    p99Ms: round(pct(latencies, 99), 2),
    errors,
    cpuMsPerPost: round((cpu1 - cpu0) / Math.max(1, latencies.length + errors), 3),
  };
}

function flatOut(url: string, concurrency: number, seconds: number) {
  return async (agent: Agent) => {
    // Enough pre-signed posts for 8,000 posts/s; signing is not part of what is measured.
    const pool = bodies(Math.ceil(seconds * 8000) + concurrency);
    const latencies: number[] = [];
    let errors = 0;
    let next = 0;
    const start = performance.now();
    const end = start + seconds * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          if (next >= pool.length) throw new Error('the pre-signed posts ran out: raise the pool size');
          const body = pool[next++]!;
          const t = performance.now();
          const status = await post(agent, url, body).catch(() => 0);
          if (status === 200) latencies.push(performance.now() - t);
          else errors++;
        }
      }),
    );
    return { latencies, errors, seconds: (performance.now() - start) / 1000 };
  };
}

function fixedRate(url: string, rate: number, seconds: number) {
  return async (agent: Agent) => {
    const total = Math.round(rate * seconds);
    const pool = bodies(total);
    const latencies: number[] = [];
    let errors = 0;
    const start = performance.now();
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const scheduled = start + (i * 1000) / rate;
      const wait = scheduled - performance.now();
      if (wait > 1) await sleep(wait);
      inflight.push(
        post(agent, url, pool[i]!).then(
          (status) => (status === 200 ? void latencies.push(performance.now() - scheduled) : void errors++),
          () => void errors++,
        ),
      );
    }
    await Promise.all(inflight);
    return { latencies, errors, seconds: (performance.now() - start) / 1000 };
  };
}

export async function run(): Promise<object> {
  process.env.METADATA_SERVER_DETECTION = 'none';
  const emulator = process.env.PUBSUB_EMULATOR_HOST ? undefined : await startEmulator('pubsub', { project: PROJECT });
  if (emulator) process.env.PUBSUB_EMULATOR_HOST = emulator.host;
  const seconds = num('BENCH_INGRESS_SECONDS', 8);
  const rounds = num('BENCH_INGRESS_ROUNDS', 3);
  const concurrency = num('BENCH_INGRESS_CONCURRENCY', 32);
  const rates = [100, 200];
  const admin = new PubSub({ projectId: PROJECT });
  const servers: Partial<Record<Side, Running>> = {};
  try {
    for (const side of ['worker', 'reference'] as const) {
      const topic = `ingress-${side}-${randomUUID().slice(0, 8)}`;
      const [t] = await admin.createTopic(topic);
      // A subscription, so the emulator keeps (and pays for) every message as in production.
      await t.createSubscription(`${topic}-sub`);
      servers[side] = await startSide(side, topic);
    }
    const both = (r: number): Side[] => (r % 2 ? ['reference', 'worker'] : ['worker', 'reference']);
    for (const side of both(0)) await measure(servers[side]!, flatOut(servers[side]!.url, concurrency, 2));

    const flat: Record<Side, PhaseResult[]> = { worker: [], reference: [] };
    for (let r = 0; r < rounds; r++) {
      for (const side of both(r)) {
        const result = await measure(servers[side]!, flatOut(servers[side]!.url, concurrency, seconds));
        flat[side].push(result);
        console.error(`  flat out round ${r + 1}/${rounds} ${side}: ${result.postsPerS} posts/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, ${result.errors} errors`);
      }
    }
    const fixed: Record<string, Record<Side, PhaseResult>> = {};
    for (const [i, rate] of rates.entries()) {
      fixed[`${rate}PerS`] = {} as Record<Side, PhaseResult>;
      for (const side of both(i)) {
        const result = await measure(servers[side]!, fixedRate(servers[side]!.url, rate, seconds));
        fixed[`${rate}PerS`]![side] = result;
        console.error(`  ${rate} posts/s ${side}: p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, ${result.errors} errors`);
      }
    }
    const sustained = (side: Side) => median(flat[side].map((x) => x.postsPerS));
    const ratio = round(sustained('worker') / sustained('reference'), 2);
    const p99At100 = fixed['100PerS']!.worker.p99Ms;
    return {
      setup: { seconds, rounds, concurrency, rates, postBytes: bodies(1)[0]!.length },
      flatOut: {
        worker: { medianPostsPerS: sustained('worker'), rounds: flat.worker },
        reference: { medianPostsPerS: sustained('reference'), rounds: flat.reference },
        ratio,
      },
      fixedRate: fixed,
      targets: { ratio: '>= 0.8', p99MsAt100PerS: '< 50' },
      pass: { ratio: ratio >= 0.8, p99At100: p99At100 < 50 },
    };
  } finally {
    for (const s of Object.values(servers)) await s.stop().catch(() => {});
    await admin.close();
    await emulator?.stop();
    if (emulator) delete process.env.PUBSUB_EMULATOR_HOST;
  }
}
