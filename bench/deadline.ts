/**
 * Deadline benchmark.
 *
 * (a) Timer lateness: 10,000 concurrent timeouts in one process, expiries spread over 200–1000 ms,
 *     each measured from its own creation to its abort event; lateness = fired − configured.
 *     Two shapes: 10,000 independent `Deadline`s, and 10,000 `deadline.child()` timeouts on one job
 *     deadline (the shape of a busy job). Target: p99 ≤ 5 ms.
 * (b) Overhead of `retry()` + `Deadline` on a successful async call against calling it bare, in µs
 *     per call, after warm-up, median of several rounds. Target: ≤ 2 µs.
 *
 * `npx node bench/deadline.ts` writes `bench/results/deadline.json`; `bench/run.ts` calls `run()`.
 */
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Deadline } from '../src/resilience/deadline.ts';
import { retry, type RetryPolicy } from '../src/resilience/retry.ts';

const TIMERS = 10_000;
const MIN_EXPIRY_MS = 200;
const MAX_EXPIRY_MS = 1000;
const LATENESS_TARGET_P99_MS = 5;
const OVERHEAD_TARGET_US = 2;
const WARMUP_CALLS = 100_000;
const ROUND_CALLS = 200_000;
const ROUNDS = 7;
const LATENESS_RUNS = 3;

// A full collection before each measurement, so garbage left by the previous one is not billed to it.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

// Deterministic spread of expiries, so runs are comparable.
function* expiries(count: number): Generator<number> {
  let x = 0x2545f491;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    yield MIN_EXPIRY_MS + ((x >>> 0) % (MAX_EXPIRY_MS - MIN_EXPIRY_MS + 1));
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

function summarize(latenessMs: number[]): Record<string, number> {
  const sorted = [...latenessMs].sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 1000) / 1000;
  return {
    count: sorted.length,
    minMs: round(sorted[0]!),
    p50Ms: round(percentile(sorted, 50)),
    p95Ms: round(percentile(sorted, 95)),
    p99Ms: round(percentile(sorted, 99)),
    maxMs: round(sorted[sorted.length - 1]!),
  };
}

/** Creates one timer per expiry with `make`, and measures how late each abort ran. */
async function lateness(make: (ms: number) => { signal: AbortSignal } & Disposable): Promise<number[]> {
  const late: number[] = [];
  const timers: Disposable[] = [];
  const pending: Promise<void>[] = [];
  for (const ms of expiries(TIMERS)) {
    const created = performance.now();
    const timer = make(ms);
    timers.push(timer);
    pending.push(
      new Promise((resolve) =>
        timer.signal.addEventListener(
          'abort',
          () => {
            late.push(performance.now() - created - ms);
            resolve();
          },
          { once: true },
        ),
      ),
    );
  }
  await Promise.all(pending);
  for (const t of timers) t[Symbol.dispose]();
  return late;
}

/** 10,000 independent deadlines; resolves with each one's lateness. */
const latencyOfDeadlines = () => lateness((ms) => Deadline.after(ms, { label: 'bench' }));

/** 10,000 child timeouts of one job deadline (which itself never fires during the run). */
async function latencyOfChildren(): Promise<number[]> {
  using job = Deadline.after(60_000, { label: 'bench job' });
  return await lateness((ms) => job.child('bench.op', ms));
}

const POLICY: RetryPolicy = { attempts: 5, minDelayMs: 5, maxDelayMs: 300 };

/** Mean µs per call of `body` over `calls` sequential awaited calls. */
async function timeCalls(calls: number, body: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < calls; i++) await body();
  return ((performance.now() - start) * 1000) / calls;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function overhead(): Promise<Record<string, unknown>> {
  let sink = 0;
  const fn = async () => {
    sink++;
    return sink;
  };
  using shared = Deadline.after(3_600_000, { label: 'bench job' });
  const variants: Record<string, () => Promise<unknown>> = {
    bare: () => fn(),
    // One job deadline, many calls: the shape of the pipeline.
    retrySharedDeadline: () => retry(fn, { operation: 'bench.call', policy: POLICY, deadline: shared }),
    // The same with a per-attempt timeout (every remote call in the product sets one).
    retrySharedDeadlineAttemptTimeout: () => retry(fn, { operation: 'bench.call', policy: POLICY, deadline: shared, attemptTimeoutMs: 30_000 }),
    // A fresh Deadline per call: retry() + Deadline together.
    retryNewDeadline: async () => {
      using deadline = Deadline.after(60_000, { label: 'bench call' });
      return retry(fn, { operation: 'bench.call', policy: POLICY, deadline });
    },
  };
  for (const body of Object.values(variants)) await timeCalls(WARMUP_CALLS, body);
  const rounds: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  // Interleaved rounds, so drift (GC, frequency scaling) hits every variant alike.
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, body] of Object.entries(variants)) rounds[name]!.push(await timeCalls(ROUND_CALLS, body));
  }
  const bareUs = median(rounds.bare!);
  const round3 = (n: number) => Math.round(n * 1000) / 1000;
  const result: Record<string, unknown> = {
    callsPerRound: ROUND_CALLS,
    rounds: ROUNDS,
    warmupCalls: WARMUP_CALLS,
    bareUsPerCall: round3(bareUs),
  };
  for (const name of Object.keys(variants)) {
    if (name === 'bare') continue;
    const us = median(rounds[name]!);
    result[name] = { usPerCall: round3(us), overheadUs: round3(us - bareUs), pass: us - bareUs <= OVERHEAD_TARGET_US };
  }
  if (sink < 0) console.log(sink);
  return result;
}

/** Runs a lateness scenario several times; the verdict uses the median run (by p99). */
async function latencyRuns(scenario: () => Promise<number[]>): Promise<Record<string, unknown>> {
  const runs: Record<string, number>[] = [];
  for (let i = 0; i < LATENESS_RUNS; i++) {
    collectGarbage();
    runs.push(summarize(await scenario()));
  }
  const medianRun = [...runs].sort((a, b) => a.p99Ms! - b.p99Ms!)[Math.floor(runs.length / 2)]!;
  return { ...medianRun, pass: medianRun.p99Ms! <= LATENESS_TARGET_P99_MS, runs };
}

export async function run(): Promise<object> {
  const loadBefore = loadavg()[0]!;
  // Deadline timers are unref'd (they never keep a process alive): hold it open while they run.
  const keepAlive = setInterval(() => {}, 1000);
  let deadlines: Record<string, unknown>;
  let children: Record<string, unknown>;
  let over: Record<string, unknown>;
  try {
    deadlines = await latencyRuns(latencyOfDeadlines);
    children = await latencyRuns(latencyOfChildren);
    collectGarbage();
    over = await overhead();
  } finally {
    clearInterval(keepAlive);
  }
  const overheadVariants = Object.values(over).filter((v): v is { pass: boolean } => typeof v === 'object' && v !== null && 'pass' in v);
  return {
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    // Timer lateness is sensitive to other work on the machine; the 1-minute load average says how busy it was.
    loadAverage1m: { before: loadBefore, after: loadavg()[0]! },
    lateness: {
      timers: TIMERS,
      expiriesMs: [MIN_EXPIRY_MS, MAX_EXPIRY_MS],
      targetP99Ms: LATENESS_TARGET_P99_MS,
      runsPerScenario: LATENESS_RUNS,
      deadlines,
      children,
    },
    overhead: { targetUs: OVERHEAD_TARGET_US, ...over },
    pass: deadlines.pass === true && children.pass === true && overheadVariants.every((v) => v.pass),
  };
}

if (import.meta.main) {
  const { writeResult } = await import('./run.ts');
  const result = await run();
  const path = await writeResult('deadline', result);
  console.log(JSON.stringify(result, null, 2));
  console.log(`→ ${path}`);
}
