/**
 * `npm run bench -- crash`: kill -9 trials with real worker processes on the real Pub/Sub and
 * Firestore emulators (test/helpers/crash-harness.ts), for each ledger backend.
 *
 * Crash phase: per trial, worker A takes BENCH_JOBS_PER_TRIAL jobs published 250 ms apart (each
 * with a slow attachment and a slow Gemini stream, so they are spread over download, stream and
 * reply), is SIGKILLed at a uniformly random moment in [0, BENCH_KILL_WINDOW_MS] after its first
 * claim, and worker B starts at once. Counted per job: replies the Mailgun stand-in accepted (target
 * exactly 1, 0 lost) and, for jobs A had claimed, time from the kill to B's claim/takeover.
 *
 * Cost phase: BENCH_COST_JOBS jobs one after another on one worker: job time (`totalMs` of the
 * finished log line) per backend, and Firestore reads/writes/transactions per job read from the
 * worker's /metrics (`ledger_firestore_ops_total`).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEmulator, type RunningEmulator } from '../src/dev/emulator.ts';
import { startCrashHarness, until, type CrashHarness, type WorkerProcess } from '../test/helpers/crash-harness.ts';

const TRIALS = Number(process.env.BENCH_TRIALS ?? 30);
const JOBS_PER_TRIAL = Number(process.env.BENCH_JOBS_PER_TRIAL ?? 5);
const KILL_WINDOW_MS = Number(process.env.BENCH_KILL_WINDOW_MS ?? 2500);
const COST_JOBS = Number(process.env.BENCH_COST_JOBS ?? 20);
const MAX_DELIVERIES = Number(process.env.BENCH_MAX_DELIVERY_ATTEMPTS ?? 10);
const BACKENDS = (process.env.BENCH_LEDGERS ?? 'firestore,memory').split(',') as Array<'firestore' | 'memory'>;
/** `0`: workers talk to the emulator directly, and it keeps delivering to killed workers' streams. */
const CANCEL_PROXY = process.env.BENCH_CANCEL_PROXY !== '0';

const claimedBy = (w: WorkerProcess, jobId: string) =>
  w.logs.find((e) => e.jobId === jobId && (e.message === 'Job claimed' || e.message === 'Job taken over from an expired lease'));

function newJob(h: CrashHarness) {
  const id = `job-${randomUUID()}`;
  h.files.routes.set(`/${id}.txt`, (_req, res) => {
    setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('attachment text'), 300);
  });
  return {
    version: 1,
    kind: 'email',
    id,
    // One sender per job, as real traffic: the per-sender reply cap (20 an hour by default) would
    // otherwise stop every job after the 20th, by design and silently (the first runs' "lost" jobs).
    from: `sender-${id.slice(4, 12)}@example.com`,
    to: ['ask@mg.crash.localhost'],
    subject: 'Crash trial',
    text: 'A question [standin:slow:250]',
    messageId: `<${randomUUID()}@mail.example.com>`,
    attachments: [{ name: 'a.txt', contentType: 'text/plain', url: `${h.files.url}/${id}.txt` }],
  };
}

async function crashTrial(h: CrashHarness) {
  // A fresh topic per trial: the emulator never drops a SIGKILLed subscriber's streams, so earlier
  // trials' dead workers would keep taking this trial's messages (see emulator-streams).
  const lane = await h.newLane();
  const a = await h.startWorker();
  const jobs: Array<ReturnType<typeof newJob>> = [];
  for (let i = 0; i < JOBS_PER_TRIAL; i++) {
    const job = newJob(h);
    jobs.push(job);
    await h.publish(job);
    await sleep(250);
  }
  await until(() => a.logs.some((e) => e.message === 'Job claimed'), 30_000);
  const killAfterMs = Math.random() * KILL_WINDOW_MS;
  await sleep(killAfterMs);
  const claimedByA = jobs.filter((j) => claimedBy(a, j.id)).map((j) => j.id);
  const repliedBeforeKill = jobs.filter((j) => h.repliesTo(j.messageId) > 0).length;
  await a.kill('SIGKILL');
  const killedAt = Date.now();
  const b = await h.startWorker();
  await until(() => jobs.every((j) => h.repliesTo(j.messageId) >= 1), 60_000);
  await sleep(3000); // a late duplicate would show up here
  const takeoverMs = claimedByA
    .map((id) => {
      const e = claimedBy(b, id);
      return e ? Date.parse(String(e.time)) - killedAt : undefined;
    })
    .filter((x): x is number => x !== undefined);
  // A clean stop: a SIGKILLed subscriber's stream keeps receiving deliveries on the emulator for a
  // while, which would delay the next trial's jobs for reasons that are not this trial's.
  await b.kill('SIGTERM');
  return {
    lane,
    killAfterMs: Math.round(killAfterMs),
    claimedByA: claimedByA.length,
    repliedBeforeKill,
    repliesAfterTrial: jobs.map((j) => h.repliesTo(j.messageId)),
    failureEmails: jobs.map((j) => h.failureEmailsTo(j.messageId)),
    takeoverMs,
    parents: jobs.map((j) => j.messageId),
    jobIds: jobs.map((j) => j.id),
    // Whether Pub/Sub handed the job (or its dead-letter notice) to a live worker after the kill.
    seenByB: jobs.map((j) => b.logs.some((e) => e.jobId === j.id)),
    // Stopped on purpose by the inbound screen (loop guard, sender policy, reply caps): no reply by design.
    ignoredByScreen: jobs.map((j) => [a, b].some((w) => w.logs.some((e) => e.jobId === j.id && String(e.message).startsWith('Job not answered: stopped by')))).filter(Boolean).length,
  };
}

async function costPhase(h: CrashHarness) {
  const w = await h.startWorker();
  const url = String(w.logs.find((e) => e.message === 'HTTP server listening')?.url);
  const ops = async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const totals = { read: 0, write: 0, transaction: 0 };
    for (const m of text.matchAll(/^ledger_firestore_ops_total\{[^}]*kind="(\w+)"[^}]*\} (\d+)/gm)) totals[m[1] as keyof typeof totals] += Number(m[2]);
    return totals;
  };
  const before = await ops();
  const times: number[] = [];
  for (let i = 0; i < COST_JOBS; i++) {
    const job = { ...newJob(h), text: 'A short question', attachments: [] };
    await h.publish(job);
    const done = await w.waitForLog((e) => e.jobId === job.id && e.message === 'Job finished: reply sent', 120_000);
    times.push(Number(done.totalMs));
  }
  const after = await ops();
  await w.kill('SIGTERM');
  times.sort((x, y) => x - y);
  return {
    jobs: COST_JOBS,
    jobMs: { median: times[Math.floor(times.length / 2)], p90: times[Math.floor(times.length * 0.9)], mean: Math.round(times.reduce((s, x) => s + x, 0) / times.length) },
    perJob: { reads: (after.read - before.read) / COST_JOBS, writes: (after.write - before.write) / COST_JOBS, transactions: (after.transaction - before.transaction) / COST_JOBS },
  };
}

export async function run(): Promise<object> {
  const started: RunningEmulator[] = [];
  process.env.METADATA_SERVER_DETECTION = 'none';
  if (!process.env.PUBSUB_EMULATOR_HOST) started.push(await startEmulator('pubsub', { project: 'demo-bench' }).then((e) => ((process.env.PUBSUB_EMULATOR_HOST = e.host), e)));
  if (!process.env.FIRESTORE_EMULATOR_HOST) started.push(await startEmulator('firestore', { project: 'demo-bench' }).then((e) => ((process.env.FIRESTORE_EMULATOR_HOST = e.host), e)));
  const results: Record<string, unknown> = {};
  try {
    for (const ledger of BACKENDS) {
      const h = await startCrashHarness({ ledger, maxDeliveryAttempts: MAX_DELIVERIES, cancelStreamsOnKill: CANCEL_PROXY });
      try {
        const trials = [];
        for (let t = 0; t < TRIALS; t++) {
          const trial = await crashTrial(h);
          console.error(`${ledger} trial ${t + 1}/${TRIALS}: kill at ${trial.killAfterMs} ms, A had claimed ${trial.claimedByA}, replies ${trial.repliesAfterTrial.join(',')}, takeover ${trial.takeoverMs.join(',')} ms`);
          trials.push(trial);
        }
        // A job not answered within its trial (Pub/Sub had not redelivered it yet) gets a last
        // worker and up to BENCH_FINAL_WAIT_MS; only then is a job with no reply counted lost.
        const parents = trials.flatMap((t) => t.parents);
        const late = parents.filter((p) => h.repliesTo(p) === 0).length;
        const lateLanes = trials.filter((t) => t.parents.some((p) => h.repliesTo(p) === 0)).map((t) => t.lane);
        const seenByLast = new Set<string>();
        if (lateLanes.length) {
          const last = await Promise.all(lateLanes.map((lane) => h.startWorker(lane)));
          await until(() => parents.every((p) => h.repliesTo(p) >= 1), Number(process.env.BENCH_FINAL_WAIT_MS ?? 180_000));
          await sleep(3000);
          await Promise.all(last.map((w) => w.kill('SIGTERM')));
          for (const w of last) for (const e of w.logs) if (typeof e.jobId === 'string') seenByLast.add(e.jobId);
        }
        // An unanswered job no live worker ever received is Pub/Sub's (the emulator's) doing; one a
        // live worker received and did not answer would be the product's.
        const unanswered = trials.flatMap((t) => t.jobIds.map((id, i) => ({ id, parent: t.parents[i]!, seenAlive: t.seenByB[i]! || seenByLast.has(id) }))).filter((j) => h.repliesTo(j.parent) === 0);
        const replies = parents.map((p) => h.repliesTo(p));
        const takeovers = trials.flatMap((t) => t.takeoverMs).sort((x, y) => x - y);
        results[ledger] = {
          trials: TRIALS,
          jobTrials: replies.length,
          exactlyOne: replies.filter((r) => r === 1).length,
          duplicates: replies.filter((r) => r > 1).length,
          lost: replies.filter((r) => r === 0).length,
          ignoredByScreen: trials.reduce((n, t) => n + t.ignoredByScreen, 0),
          lostAfterALiveWorkerReceivedThem: unanswered.filter((j) => j.seenAlive).length,
          lostNeverRedeliveredToALiveWorker: unanswered.filter((j) => !j.seenAlive).length,
          // Of the replies, failure emails (the hard cap ran out, or a dead-letter notice).
          failureEmails: parents.filter((p) => h.failureEmailsTo(p) > 0).length,
          answeredAfterTheirTrial: late,
          takeoverMs: takeovers.length
            ? { min: takeovers[0], median: takeovers[Math.floor(takeovers.length / 2)], max: takeovers.at(-1), samples: takeovers.length }
            : {},
          // On a fresh subscription: no deliveries left over from the killed workers.
          cost: await startCrashHarness({ ledger }).then(async (fresh) => {
            try {
              return await costPhase(fresh);
            } finally {
              await fresh.stop();
            }
          }),
          detail: trials.map(({ parents: _p, jobIds: _j, ...t }) => t),
        };
      } finally {
        await h.stop();
      }
    }
  } finally {
    await Promise.all(started.map((e) => e.stop()));
  }
  return {
    settings: { cancelProxy: CANCEL_PROXY, maxDeliveryAttempts: MAX_DELIVERIES, trials: TRIALS, jobsPerTrial: JOBS_PER_TRIAL, killWindowMs: KILL_WINDOW_MS, timeoutScale: 0.02, leaseMs: 2400, heartbeatMs: 600, ackDeadlineS: 10 },
    ...results,
  };
}

if (import.meta.main) console.log(JSON.stringify(await run(), null, 2));
