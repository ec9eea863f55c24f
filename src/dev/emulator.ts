/**
 * Starts and stops the real Google Cloud emulators (Pub/Sub, Firestore) that ship with gcloud.
 * Used by the test suite's global setup, the demo, the dev stack and the benchmarks.
 *
 * gcloud's python starts java in the same process group; stopping only gcloud leaves java
 * listening, so the child is detached (its own group) and the whole group is signalled.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export type EmulatorKind = 'pubsub' | 'firestore';

export interface RunningEmulator {
  kind: EmulatorKind;
  /** `127.0.0.1:PORT`, the value for PUBSUB_EMULATOR_HOST / FIRESTORE_EMULATOR_HOST. */
  host: string;
  pid: number;
  stop(): Promise<void>;
}

export interface StartEmulatorOptions {
  /** @defaultValue 'demo-test' */
  project?: string;
  /** How long to wait for the HTTP probe to answer `Ok`. @defaultValue 60000 */
  startTimeoutMs?: number;
  /** gcloud binary. @defaultValue 'gcloud' */
  gcloud?: string;
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startEmulator(kind: EmulatorKind, options: StartEmulatorOptions = {}): Promise<RunningEmulator> {
  const project = options.project ?? 'demo-test';
  const host = `127.0.0.1:${await freePort()}`;
  const args =
    kind === 'pubsub'
      ? ['beta', 'emulators', 'pubsub', 'start', `--host-port=${host}`, `--project=${project}`]
      : ['emulators', 'firestore', 'start', `--host-port=${host}`];
  const child = spawn(options.gcloud ?? 'gcloud', args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-4000);
  });
  let failed: Error | undefined;
  child.once('error', (e) => (failed = new Error(`cannot run gcloud for the ${kind} emulator: ${e.message}`)));
  const pgid = child.pid ?? 0;
  const kill = (signal: NodeJS.Signals = 'SIGTERM') => {
    if (pgid && groupAlive(pgid)) process.kill(-pgid, signal);
  };
  const onExit = () => kill('SIGKILL');
  process.once('exit', onExit);

  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  for (;;) {
    if (failed) throw failed;
    if (child.exitCode !== null || Date.now() > deadline) {
      kill('SIGKILL');
      process.removeListener('exit', onExit);
      throw new Error(`${kind} emulator did not start on ${host}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`);
    }
    const body = await fetch(`http://${host}/`).then((r) => r.text(), () => '');
    if (body.trim() === 'Ok') break;
    await sleep(100);
  }
  // Once up, its chatty stderr is no longer needed.
  child.stderr.removeAllListeners('data');
  child.stderr.resume();

  return {
    kind,
    host,
    pid: pgid,
    async stop() {
      kill('SIGTERM');
      const hardStop = Date.now() + 10_000;
      while (groupAlive(pgid)) {
        if (Date.now() > hardStop) kill('SIGKILL');
        await sleep(50);
      }
      process.removeListener('exit', onExit);
    },
  };
}
