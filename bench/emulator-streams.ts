/**
 * `npm run bench -- emulator-streams`: does the Pub/Sub emulator forget a SIGKILLed subscriber?
 *
 * For K = 0, 1, 3 killed subscribers: each one (a separate process, streaming pull as the worker
 * does it) receives one message, holds it, and is SIGKILLed. After BENCH_EMU_AFTER_KILL_MS a live
 * subscriber starts and N new messages are published. Measured: how many of them reach the live
 * subscriber at once (< 1 s), when the last one arrives, and when the killed subscribers' held
 * messages come back. On real Pub/Sub a closed stream gets nothing more; a message it held comes
 * back after its ack deadline. The crash benchmark (`crash`) depends on the answer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { PubSub } from '@google-cloud/pubsub';
import { startEmulator } from '../src/dev/emulator.ts';
import { startGrpcCancelProxy } from '../test/helpers/grpc-cancel-proxy.ts';

const N = Number(process.env.BENCH_EMU_MESSAGES ?? 10);
const AFTER_KILL_MS = Number(process.env.BENCH_EMU_AFTER_KILL_MS ?? 30_000);
const WAIT_MS = Number(process.env.BENCH_EMU_WAIT_MS ?? 90_000);
const KS = (process.env.BENCH_EMU_KILLED ?? '0,1,3').split(',').map(Number);
/** Also run each K > 0 with the subscribers behind the cancel proxy (test/helpers/grpc-cancel-proxy.ts). */
const VIA_PROXY = (process.env.BENCH_EMU_VIA_PROXY ?? 'both') as 'both' | 'only' | 'no';

interface Received { at: number; data: string }

function subscriber(name: string, mode: 'hold' | 'ack', env: NodeJS.ProcessEnv) {
  const child: ChildProcess = spawn(process.execPath, [new URL('./emulator-streams/subscriber.ts', import.meta.url).pathname, name, mode], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const got: Received[] = [];
  const ready = new Promise<void>((resolve) =>
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const e = JSON.parse(line) as Received & { ready?: boolean };
      if (e.ready) resolve();
      else got.push(e);
    }),
  );
  return { child, got, ready };
}

async function scenario(killed: number, viaProxy: boolean) {
  const project = `demo-streams-${killed}`;
  const emulator = await startEmulator('pubsub', { project });
  const proxy = viaProxy ? await startGrpcCancelProxy(emulator.host) : undefined;
  const env = { ...process.env, PUBSUB_EMULATOR_HOST: proxy?.host ?? emulator.host, GOOGLE_CLOUD_PROJECT: project, METADATA_SERVER_DETECTION: 'none' };
  process.env.PUBSUB_EMULATOR_HOST = emulator.host;
  const pubsub = new PubSub({ projectId: project });
  try {
    const [topic] = await pubsub.createTopic('streams');
    await topic.createSubscription('streams-sub', { ackDeadlineSeconds: 10 });
    const start = Date.now();
    for (let i = 0; i < killed; i++) {
      const s = subscriber('streams-sub', 'hold', env);
      await s.ready;
      await sleep(1000); // its streams are open
      await topic.publishMessage({ data: Buffer.from(`held-${i}`) });
      for (let w = 0; w < 100 && !s.got.length; w++) await sleep(100);
      s.child.kill('SIGKILL');
      await new Promise((r) => s.child.once('exit', r));
    }
    await sleep(killed ? AFTER_KILL_MS : 0);
    const live = subscriber('streams-sub', 'ack', env);
    await live.ready;
    await sleep(1000);
    const published = Date.now();
    for (let i = 0; i < N; i++) await topic.publishMessage({ data: Buffer.from(`new-${i}`) });
    const expected = N + killed;
    for (const end = Date.now() + WAIT_MS; Date.now() < end && new Set(live.got.map((g) => g.data)).size < expected; ) await sleep(100);
    live.child.kill('SIGKILL');
    const firstArrival = new Map<string, number>();
    for (const g of live.got) if (!firstArrival.has(g.data)) firstArrival.set(g.data, g.at - published);
    const fresh = [...firstArrival].filter(([d]) => d.startsWith('new-')).map(([, ms]) => ms);
    const held = [...firstArrival].filter(([d]) => d.startsWith('held-')).map(([, ms]) => ms);
    return {
      killedSubscribers: killed,
      subscribersBehindCancelProxy: viaProxy,
      ...(proxy ? { proxyCancelledStreams: proxy.cancelled.streams } : {}),
      secondsFromFirstKillToPublish: killed ? Math.round((published - start) / 1000) : 0,
      newMessages: N,
      newReceivedWithin1s: fresh.filter((ms) => ms < 1000).length,
      newReceived: fresh.length,
      newLastArrivalMs: fresh.length ? Math.max(...fresh) : null,
      heldReceived: held.length,
      heldLastArrivalMs: held.length ? Math.max(...held) : null,
    };
  } finally {
    await pubsub.close();
    await proxy?.close();
    await emulator.stop();
  }
}

export async function run(): Promise<object> {
  const scenarios = [];
  for (const k of KS) {
    for (const viaProxy of VIA_PROXY === 'only' ? [true] : VIA_PROXY === 'both' && k > 0 ? [false, true] : [false]) {
      const r = await scenario(k, viaProxy);
      console.error(JSON.stringify(r));
      scenarios.push(r);
    }
  }
  return { settings: { messages: N, afterKillMs: AFTER_KILL_MS, waitMs: WAIT_MS, ackDeadlineS: 10, streamsPerSubscriber: 5 }, scenarios };
}

if (import.meta.main) console.log(JSON.stringify(await run(), null, 2));
