/**
 * Scenario 2 — many concurrent slow jobs in one worker process: BENCH_SLOW_JOBS jobs (default
 * 1,000) published at once, WORKER_CONCURRENCY = that many, and every Gemini stream lasting
 * BENCH_SLOW_STREAM_MS (default 30 s, 10 chunks spread over it). Measures the process's peak RSS
 * (target < 400 MB) and event-loop lag p99 (target < 50 ms), and proves the jobs really ran at
 * once by the stand-in's count of open streams.
 *
 * Runs in a fresh process (`runInChild`) so that nothing measured here was left by an earlier
 * scenario; the stand-ins run in their own process. The jobs are published before the worker
 * starts and the publishing client is closed, so the process holds the worker and the sampling.
 *
 * Standalone: `npx node --expose-gc bench/pipeline/slow-jobs.ts`.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startApp } from '../../src/app.ts';
import { configureTimeouts } from '../../src/timeouts/settings.ts';
import { MAILGUN_KEY, createResources, discardingLogger, emulatorHost, mb, num, publishAll, pubsubClient, round, scenarioMain, uniqueName, workerConfig } from './common.ts';
import { startStandins } from './standins.ts';

export async function slowJobs(o: { jobs: number; streamMs: number }) {
  const standins = await startStandins({ gemini: { chunkCount: 10, streamDurationMs: o.streamMs }, mailgunKey: MAILGUN_KEY });
  const name = uniqueName('bench-slow');
  try {
    const admin = pubsubClient();
    await createResources(admin, name);
    await publishAll(admin, name, o.jobs);
    await admin.close();

    const config = workerConfig({ emulatorHost: emulatorHost(), name, concurrency: o.jobs, geminiUrl: standins.geminiUrl, mailgunUrl: standins.mailgunUrl });
    configureTimeouts(config.timeouts);
    globalThis.gc?.();
    const rssBefore = process.memoryUsage().rss;
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    let peakRss = rssBefore;
    let peakHeap = 0;
    // BENCH_VERBOSE=1: one line per second (RSS, heap, worst loop delay), to see which phase peaks.
    const verbose = process.env.BENCH_VERBOSE === '1';
    let tick = 0;
    let lastLagMax = 0;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
      if (verbose && ++tick % 10 === 0) {
        const worst = lag.max / 1e6;
        console.error(`  t=${round((performance.now() - start) / 1000, 1)}s rss=${mb(m.rss)} heap=${mb(m.heapUsed)}/${mb(m.heapTotal)} ext=${mb(m.external)} lagMax=${round(worst, 1)}${worst > lastLagMax ? ' (new)' : ''}`);
        lastLagMax = worst;
      }
    }, 100);
    const start = performance.now();
    const app = await startApp(config, discardingLogger());
    const rssStarted = process.memoryUsage().rss;
    await standins.waitForMessages(o.jobs, o.streamMs * 4 + 120_000);
    const seconds = (performance.now() - start) / 1000;
    clearInterval(sampler);
    lag.disable();
    const stats = await standins.stats();
    await app.stop();
    const p99 = lag.percentile(99) / 1e6;
    // The kernel's high-water mark: a peak between two samples counts too.
    const maxRss = Math.max(peakRss, process.resourceUsage().maxRSS * 1024);
    return {
      jobs: o.jobs,
      streamMs: o.streamMs,
      allRepliedAfterS: round(seconds, 1),
      peakConcurrentStreams: stats.peakOpenStreams,
      geminiRequests: stats.geminiRequests,
      replies: stats.messages,
      rssBeforeMB: mb(rssBefore),
      rssAfterStartMB: mb(rssStarted),
      peakRssMB: mb(maxRss),
      peakHeapUsedMB: mb(peakHeap),
      eventLoopLagP50Ms: round(lag.percentile(50) / 1e6, 2),
      eventLoopLagP99Ms: round(p99, 2),
      eventLoopLagMaxMs: round(lag.max / 1e6, 2),
      targets: { peakRssMB: '< 400', eventLoopLagP99Ms: '< 50', peakConcurrentStreams: `= ${o.jobs}` },
      pass: mb(maxRss) < 400 && p99 < 50 && stats.peakOpenStreams >= o.jobs,
    };
  } finally {
    await standins.close();
  }
}

export const optionsFromEnv = () => ({ jobs: num('BENCH_SLOW_JOBS', 1000), streamMs: num('BENCH_SLOW_STREAM_MS', 30_000) });

if (import.meta.main) await scenarioMain(() => slowJobs(optionsFromEnv()), { emulator: true });
