/**
 * `npm run bench -- pipeline`: the worker's cost and footprint on the real Pub/Sub emulator with
 * loopback stand-ins. What each scenario does, and why, is at the top of its module:
 *
 * 1. `pipeline/throughput.ts` — jobs/s of the worker vs the reference consumer
 *    (`reference-consumer.ts`), plus a bare ack-only subscriber. Target: worker ≥ 0.8 × reference.
 * 2. `pipeline/attachment.ts` — one 200 MB attachment from a loopback server vs curl. Targets:
 *    ≥ 0.8 × curl's speed, RSS growth < 64 MB.
 * 3. `pipeline/slow-jobs.ts` — 1,000 concurrent 30 s jobs in one process. Targets: peak RSS
 *    < 400 MB, event-loop lag p99 < 50 ms, 1,000 streams open at once.
 *
 * Scenarios 3 and 1 are repeated with the worker's production Node flags (`WORKER_NODE_FLAGS`:
 * `--max-semi-space-size=16`, a young generation of at most 2 × 16 MB instead of V8's 2 × 64 MB on
 * this 24 GiB machine), which `npm start` and the Dockerfile use: what they save in RSS, what they
 * cost in throughput. See bench/README.md.
 *
 * Every scenario runs in a fresh Node process, so that none inherits another's heap, JIT state or
 * connection pools; the stand-ins run in a process of their own. One emulator serves all.
 *
 * Quick look: BENCH_SCENARIOS=throughput,attachment,slow,semispace (any subset), BENCH_JOBS, BENCH_ROUNDS,
 * BENCH_CONCURRENCY, BENCH_SLOW_JOBS, BENCH_SLOW_STREAM_MS, BENCH_ATTACHMENT_MB.
 */
import { join } from 'node:path';
import { startEmulator } from '../src/dev/emulator.ts';
import { WORKER_NODE_FLAGS } from '../src/dev/local-stack.ts';
import { PROJECT, runInChild } from './pipeline/common.ts';

const scenario = (file: string) => join(import.meta.dirname, 'pipeline', file);

/** The flags scenarios 3 and 1 are repeated with: the worker's production flags. */
export const PRODUCTION_FLAGS = WORKER_NODE_FLAGS;

export async function run(): Promise<object> {
  process.env.METADATA_SERVER_DETECTION = 'none';
  const wanted = new Set((process.env.BENCH_SCENARIOS ?? 'throughput,attachment,slow,semispace').split(',').map((s) => s.trim()));
  const emulator = process.env.PUBSUB_EMULATOR_HOST ? undefined : await startEmulator('pubsub', { project: PROJECT });
  if (emulator) process.env.PUBSUB_EMULATOR_HOST = emulator.host;
  const results: Record<string, unknown> = {};
  const step = async (name: string, file: string, execArgv?: string[]) => {
    const started = performance.now();
    console.error(`▶ pipeline: ${name}`);
    const result = await runInChild(scenario(file), [], execArgv);
    results[name] = { ...(execArgv ? { nodeFlags: execArgv.filter((f) => f !== '--expose-gc') } : {}), ...result };
    console.error(`  ${name} done in ${Math.round((performance.now() - started) / 1000)} s: ${JSON.stringify({ pass: result.pass })}`);
  };
  try {
    if (wanted.has('throughput')) await step('throughput', 'throughput.ts');
    if (wanted.has('attachment')) await step('attachment', 'attachment.ts');
    if (wanted.has('slow')) await step('slowJobs', 'slow-jobs.ts');
    if (wanted.has('semispace')) {
      await step('slowJobsSemiSpace16', 'slow-jobs.ts', ['--expose-gc', ...PRODUCTION_FLAGS]);
      await step('throughputSemiSpace16', 'throughput.ts', ['--expose-gc', ...PRODUCTION_FLAGS]);
    }
  } finally {
    await emulator?.stop();
    if (emulator) delete process.env.PUBSUB_EMULATOR_HOST;
  }
  return results;
}

if (import.meta.main) {
  const { writeResult } = await import('./run.ts');
  const result = await run();
  console.log(JSON.stringify(result, null, 2));
  console.log(`→ ${await writeResult('pipeline', result)}`);
}
