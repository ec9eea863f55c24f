/**
 * Start-up benchmark: from spawning a fresh process to its first 200 from `/readyz`.
 *
 * Every round is a new Node process (nothing warm in V8), against a Pub/Sub emulator whose topic
 * and subscriptions already exist (as in production, where Terraform made them) and a Firestore
 * emulator (production's ledger). Readiness is polled every 5 ms. Variants, interleaved per round
 * with a rotating order so drift on the shared machine hits all alike:
 *
 *   floor                  a bare `node:http` server answering 200: what Node itself costs
 *   floor + Firestore read the same after loading @google-cloud/firestore and answering one read
 *                          (the app's client settings): what a push start that waits for the
 *                          ledger costs at the least
 *   push                   `node src/main.ts` (the Dockerfile's command) as the Cloud Run service
 *                          runs it: WORKER_MODE=push, LEDGER=firestore, push auth on, with the
 *                          compile cache the image warms at build time — the start a sender waits for
 *   pull                   the same as the worker pool runs it: WORKER_MODE=pull, LEDGER=firestore
 *   push, no cache         push without NODE_COMPILE_CACHE: what the warmed cache saves
 *   push, memory ledger    push with LEDGER=memory: not production; shows what Firestore costs
 *
 * Result: median and min/max per variant over BENCH_STARTUP_ROUNDS (default 7, at least 5), the
 * 1-minute load average before and after. Target: < 500 ms to ready.
 * BENCH_STARTUP_COMPARE=<checkout> adds that checkout's push, pull and push-without-cache starts
 * ("before: push", …) to the same rounds, interleaved with this one's, so a before/after pair sees
 * the same machine load.
 *
 * `npx node bench/startup.ts` writes `bench/results/startup.json`; `bench/run.ts` calls `run()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { PubSub } from '@google-cloud/pubsub';
import { freePort, startEmulator, type RunningEmulator } from '../src/dev/emulator.ts';
import { createPubSub, ensureResources } from '../src/worker/pubsub-resources.ts';

const ROOT = join(import.meta.dirname, '..');
const COMPARE = process.env.BENCH_STARTUP_COMPARE;
const TARGET_MS = 500;
const ROUNDS = Math.max(5, Number(process.env.BENCH_STARTUP_ROUNDS ?? 7));
const PROJECT = 'demo-startup';
const TOPIC = 'email-worker-jobs';
const PULL_SUBSCRIPTION = `${TOPIC}-worker`;
const PUSH_SUBSCRIPTION = `${TOPIC}-push`;
const FLOOR_SOURCE = "require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1')";
// The floor plus what honest push readiness cannot skip: @google-cloud/firestore loaded and one read
// answered, with the app's client settings (src/ledger/firestore-client.ts), then the bare server.
const FIRESTORE_FLOOR_SOURCE = `
const { Firestore } = require('@google-cloud/firestore');
const { OAuth2Client } = require('google-auth-library');
const authClient = new OAuth2Client();
authClient.setCredentials({ access_token: 'owner' });
const db = new Firestore({ projectId: process.env.GOOGLE_CLOUD_PROJECT, ignoreUndefinedProperties: true, preferRest: true, authClient });
db.collection('email-worker-ledger').doc('_ping').get().then(() => ${FLOOR_SOURCE});
`;

interface Variant {
  name: string;
  /** Environment on top of the common one; undefined for the floors. */
  env?: NodeJS.ProcessEnv;
  /** A floor's script (`node -e`), answering 200 on `/`. */
  script?: string;
  compileCache: boolean;
  /** Checkout whose `src/main.ts` runs. @defaultValue this one */
  root?: string;
}

// The service's env in infra/run.tf (push auth on, audience set) and the pool's (pull).
const PUSH_ENV = { WORKER_MODE: 'push', PUBSUB_SUBSCRIPTION: PUSH_SUBSCRIPTION, REQUIRE_PUSH_AUTH: 'true', PUSH_AUDIENCE: 'email-worker-push', LEDGER: 'firestore' };
const BASE_VARIANTS: Record<string, Variant> = {
  push: { name: 'push', env: PUSH_ENV, compileCache: true },
  pull: { name: 'pull', env: { WORKER_MODE: 'pull', PUBSUB_SUBSCRIPTION: PULL_SUBSCRIPTION, LEDGER: 'firestore' }, compileCache: true },
  'push, no cache': { name: 'push, no cache', env: PUSH_ENV, compileCache: false },
};
const VARIANTS: Variant[] = [
  { name: 'floor', compileCache: false, script: FLOOR_SOURCE },
  { name: 'floor + Firestore read', compileCache: true, script: FIRESTORE_FLOOR_SOURCE },
  ...Object.values(BASE_VARIANTS),
  { name: 'push, memory ledger', env: { ...PUSH_ENV, LEDGER: 'memory' }, compileCache: true },
  ...(COMPARE ? ['push', 'pull', 'push, no cache'] : []).map((name) => ({ ...BASE_VARIANTS[name]!, name: `before: ${name}`, root: COMPARE })),
];
/** The variants the target is about: what production runs. */
const PRODUCTION = ['push', 'pull'];

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
  const childEnv: NodeJS.ProcessEnv = { ...env, ...variant.env, PORT: String(port) };
  // Shared by both checkouts (BENCH_STARTUP_COMPARE): entries are keyed by path and source.
  if (variant.compileCache) childEnv.NODE_COMPILE_CACHE = cacheDir;
  else delete childEnv.NODE_COMPILE_CACHE;
  const args = variant.script ? ['-e', variant.script] : ['--max-semi-space-size=16', 'src/main.ts'];
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: variant.root ?? ROOT, env: childEnv, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    await untilReady(`http://127.0.0.1:${port}${variant.script ? '/' : '/readyz'}`, child);
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

/** Topic, pull subscription, dead-letter topic and a push subscription, as Terraform leaves them. */
async function makeResources(host: string): Promise<void> {
  process.env.PUBSUB_EMULATOR_HOST = host;
  const pubsubConfig = { topic: TOPIC, subscription: PULL_SUBSCRIPTION, deadLetterTopic: `${TOPIC}-dead`, maxDeliveryAttempts: 5 };
  const pubsub = createPubSub({ projectId: PROJECT, pubsub: { ...pubsubConfig, emulatorHost: host } });
  await ensureResources(pubsub, { pubsub: pubsubConfig, deadLetterSubscription: `${TOPIC}-dead-sub` }, { create: true });
  const push = new PubSub({ projectId: PROJECT }).topic(TOPIC);
  // Nothing is published, so nothing is pushed; the endpoint only has to be a URL.
  const [exists] = await push.subscription(PUSH_SUBSCRIPTION).exists();
  if (!exists) await push.createSubscription(PUSH_SUBSCRIPTION, { pushConfig: { pushEndpoint: 'http://127.0.0.1:9/pubsub/push' } });
  await Promise.all([pubsub.close(), push.pubsub.close()]);
}

export async function run(): Promise<object> {
  const started: RunningEmulator[] = [];
  const emulatorHost = async (kind: 'pubsub' | 'firestore', variable: string) => {
    if (process.env[variable]) return process.env[variable]!;
    const emulator = await startEmulator(kind, { project: PROJECT });
    started.push(emulator);
    return emulator.host;
  };
  const cacheDir = await mkdtemp(join(tmpdir(), 'ew-compile-cache-'));
  try {
    const [pubsubHost, firestoreHost] = await Promise.all([emulatorHost('pubsub', 'PUBSUB_EMULATOR_HOST'), emulatorHost('firestore', 'FIRESTORE_EMULATOR_HOST')]);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PUBSUB_EMULATOR_HOST: pubsubHost,
      FIRESTORE_EMULATOR_HOST: firestoreHost,
      GOOGLE_CLOUD_PROJECT: PROJECT,
      METADATA_SERVER_DETECTION: 'none',
      // The worker needs a Gemini endpoint configured, not reachable, to start.
      GEMINI_BASE_URL: 'http://127.0.0.1:9',
      MAILGUN_WEBHOOK_SIGNING_KEY: 'bench-signing-key',
      EMAIL_PROCESSING_MODE: 'true',
      LOG_LEVEL: 'warning',
      OUTBOX_DIR: join(cacheDir, 'outbox'),
    };
    // Resources exist before the first measured start, as in production.
    await makeResources(pubsubHost);
    // One discarded start per variant: fills the compile cache (the image does this at build
    // time) and the OS file cache for all.
    for (const variant of VARIANTS) await once(variant, env, cacheDir);

    const loadBefore = loadavg();
    const results = new Map<string, number[]>(VARIANTS.map((v) => [v.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate who goes first.
      for (let i = 0; i < VARIANTS.length; i++) {
        const variant = VARIANTS[(i + round) % VARIANTS.length]!;
        results.get(variant.name)!.push(await once(variant, env, cacheDir));
      }
    }
    const out = Object.fromEntries([...results].map(([k, v]) => [k, summary(v)]));
    const floor = out.floor!.medianMs;
    return {
      rounds: ROUNDS,
      // 1-minute load average before and after: on a shared 2-core machine every figure scales with it.
      loadAverage1m: { before: Number(loadBefore[0]!.toFixed(2)), after: Number(loadavg()[0]!.toFixed(2)) },
      ...(COMPARE ? { compare: COMPARE } : {}),
      targetMs: TARGET_MS,
      meetsTarget: Object.fromEntries(PRODUCTION.map((name) => [name, out[name]!.medianMs < TARGET_MS])),
      aboveFloorMs: Object.fromEntries(VARIANTS.filter((v) => v.name !== 'floor').map((v) => [v.name, out[v.name]!.medianMs - floor])),
      ...out,
    };
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
    await Promise.all(started.map((e) => e.stop()));
  }
}

if (import.meta.main) {
  const { writeResult } = await import('./run.ts');
  const result = await run();
  console.log(JSON.stringify(result, null, 2));
  console.log(`  → ${await writeResult('startup', result)}`);
}
