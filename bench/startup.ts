/**
 * Start-up benchmark: from spawning a fresh process to its first 200 from `/readyz`.
 *
 * Every round is a new Node process (nothing warm in V8), against a Pub/Sub emulator whose topic
 * and subscription already exist (as in production, where Terraform made them). Readiness is
 * polled every 5 ms. Variants, interleaved per round so drift on the shared machine hits all alike:
 *
 *   floor          a bare `node:http` server answering 200: what Node itself costs
 *   worker         `node src/main.ts` (the Dockerfile's command), no compile cache
 *   worker+cache   the same with NODE_COMPILE_CACHE pointing at a cache warmed once beforehand
 *                  (what the image does at build time)
 *
 * Result: median and min/max per variant over BENCH_STARTUP_ROUNDS (default 7, at least 5).
 * Target: worker+cache < 500 ms to ready.
 *
 * `npx node bench/startup.ts` writes `bench/results/startup.json`; `bench/run.ts` calls `run()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, startEmulator } from '../src/dev/emulator.ts';
import { createPubSub, ensureResources } from '../src/worker/pubsub-resources.ts';

const ROOT = join(import.meta.dirname, '..');
const TARGET_MS = 500;
const ROUNDS = Math.max(5, Number(process.env.BENCH_STARTUP_ROUNDS ?? 7));
const PROJECT = 'demo-startup';
const FLOOR_SOURCE = "require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1')";

type Variant = 'floor' | 'worker' | 'worker+cache';

async function untilReady(url: string, child: ChildProcess, limitMs = 30_000): Promise<void> {
  const end = performance.now() + limitMs;
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? -1));
  while (performance.now() < end) {
    if (exited !== null) throw new Error(`process exited with ${exited} before it was ready`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(5);
  }
  throw new Error(`not ready within ${limitMs} ms`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(15_000).then(() => child.kill('SIGKILL'))]);
}

async function once(variant: Variant, env: NodeJS.ProcessEnv, cacheDir: string): Promise<number> {
  const port = await freePort();
  const childEnv: NodeJS.ProcessEnv = { ...env, PORT: String(port) };
  if (variant === 'worker+cache') childEnv.NODE_COMPILE_CACHE = cacheDir;
  else delete childEnv.NODE_COMPILE_CACHE;
  const args = variant === 'floor' ? ['-e', FLOOR_SOURCE] : ['--max-semi-space-size=16', 'src/main.ts'];
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: ROOT, env: childEnv, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    await untilReady(`http://127.0.0.1:${port}${variant === 'floor' ? '/' : '/readyz'}`, child);
    return performance.now() - started;
  } finally {
    await stop(child);
  }
}

function summary(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const r = (n: number) => Math.round(n);
  return { medianMs: r(median), minMs: r(sorted[0]!), maxMs: r(sorted.at(-1)!), samplesMs: values.map(r) };
}

export async function run(): Promise<object> {
  const emulator = process.env.PUBSUB_EMULATOR_HOST ? undefined : await startEmulator('pubsub', { project: PROJECT });
  const host = process.env.PUBSUB_EMULATOR_HOST ?? emulator!.host;
  const cacheDir = await mkdtemp(join(tmpdir(), 'ew-compile-cache-'));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PUBSUB_EMULATOR_HOST: host,
    GOOGLE_CLOUD_PROJECT: PROJECT,
    METADATA_SERVER_DETECTION: 'none',
    // The worker needs a Gemini endpoint configured, not reachable, to start.
    GEMINI_BASE_URL: 'http://127.0.0.1:9',
    EMAIL_PROCESSING_MODE: 'true',
    LOG_LEVEL: 'warning',
    OUTBOX_DIR: join(cacheDir, 'outbox'),
  };
  try {
    // Resources exist before the first measured start, as in production.
    process.env.PUBSUB_EMULATOR_HOST = host;
    const pubsub = createPubSub({ projectId: PROJECT, pubsub: { topic: 'email-worker-jobs', subscription: 'email-worker-jobs-worker', deadLetterTopic: 'email-worker-jobs-dead', maxDeliveryAttempts: 5, emulatorHost: host } });
    await ensureResources(pubsub, { pubsub: { topic: 'email-worker-jobs', subscription: 'email-worker-jobs-worker', deadLetterTopic: 'email-worker-jobs-dead', maxDeliveryAttempts: 5 }, deadLetterSubscription: 'email-worker-jobs-dead-sub' }, { create: true });
    await pubsub.close();
    // Warm the compile cache once (the image does this at build time), and the OS file cache for all.
    await once('worker+cache', env, cacheDir);
    await once('worker', env, cacheDir);

    const loadBefore = loadavg();
    const results: Record<Variant, number[]> = { floor: [], worker: [], 'worker+cache': [] };
    const order: Variant[] = ['floor', 'worker', 'worker+cache'];
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate who goes first.
      for (let i = 0; i < order.length; i++) {
        const variant = order[(i + round) % order.length]!;
        results[variant].push(await once(variant, env, cacheDir));
      }
    }
    const out = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, summary(v)])) as Record<Variant, ReturnType<typeof summary>>;
    return {
      rounds: ROUNDS,
      // 1-minute load average before and after: on a shared 2-core machine every figure scales with it.
      loadAverage1m: { before: Number(loadBefore[0]!.toFixed(2)), after: Number(loadavg()[0]!.toFixed(2)) },
      targetMs: TARGET_MS,
      meetsTarget: out['worker+cache'].medianMs < TARGET_MS,
      aboveFloorMs: { worker: out.worker.medianMs - out.floor.medianMs, 'worker+cache': out['worker+cache'].medianMs - out.floor.medianMs },
      ...out,
    };
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
    await emulator?.stop();
  }
}

if (import.meta.main) {
  const { writeResult } = await import('./run.ts');
  const result = await run();
  console.log(JSON.stringify(result, null, 2));
  console.log(`  → ${await writeResult('startup', result)}`);
}
