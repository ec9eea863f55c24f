/**
 * Scenario 3 — one big attachment (BENCH_ATTACHMENT_MB, default 200 MB) from a loopback server
 * in another process (`standins.ts`): the product's `downloadAttachments` (every safety rule on:
 * size cap while streaming, per-phase timeouts, pinned address) vs `curl` from the same server,
 * both writing to a file in the same temp dir.
 *
 * - Speed: median of `rounds` runs each (after one warm-up run each). curl's time is its own
 *   `time_total` (connect to last byte written), so curl's process start is not held against it.
 * - Memory: RSS growth of this process during a download, peak sampled every 5 ms, over the RSS
 *   just before it (after a GC); also the kernel's peak RSS (`maxRSS`) growth over the whole
 *   scenario, which no sampling can miss.
 *
 * Standalone: `npx node --expose-gc bench/pipeline/attachment.ts`.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { downloadAttachments } from '../../src/attachments/download.ts';
import { Deadline } from '../../src/resilience/deadline.ts';
import { MAILGUN_KEY, mb, median, num, round, scenarioMain } from './common.ts';
import { startStandins } from './standins.ts';

const run = promisify(execFile);

async function curlSeconds(url: string, file: string): Promise<number> {
  const { stdout } = await run('curl', ['-sS', '--fail', '-o', file, '-w', '%{time_total}', url]);
  return Number(stdout.trim());
}

export async function attachment(o: { sizeMB: number; rounds: number }) {
  const size = o.sizeMB * 1024 * 1024;
  const standins = await startStandins({ gemini: {}, mailgunKey: MAILGUN_KEY, fileBytes: size });
  const url = standins.fileUrl!;
  const dir = await mkdtemp(join(tmpdir(), 'bench-attach-'));
  try {
    const curl: number[] = [];
    for (let i = 0; i <= o.rounds; i++) {
      const file = join(dir, `curl-${i}.bin`);
      const seconds = await curlSeconds(url, file);
      if ((await stat(file)).size !== size) throw new Error('curl: downloaded size differs');
      await rm(file);
      if (i > 0) curl.push(seconds); // run 0 warms the page cache and the server
    }

    globalThis.gc?.();
    const maxRssBefore = process.resourceUsage().maxRSS * 1024;
    const rssStart = process.memoryUsage().rss;
    const ours: number[] = [];
    const growth: number[] = [];
    for (let i = 0; i <= o.rounds; i++) {
      globalThis.gc?.();
      const rssBefore = process.memoryUsage().rss;
      let peak = rssBefore;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
      const sub = join(dir, `ours-${i}`);
      await mkdir(sub);
      using deadline = Deadline.after(600_000);
      const start = performance.now();
      const [result] = await downloadAttachments([{ name: 'big.bin', url }], {
        dir: sub,
        deadline,
        policy: { attempts: 1, minDelayMs: 0, maxDelayMs: 0 },
        perFileTimeoutMs: 300_000,
        headersTimeoutMs: 30_000,
        bodyTimeoutMs: 30_000,
        // The cap is enforced on every chunk; set just above the file so it is checked, not hit.
        maxBytes: size + 1,
        allowedHosts: ['127.0.0.1'],
        allowPrivate: true,
      });
      const seconds = (performance.now() - start) / 1000;
      clearInterval(sampler);
      peak = Math.max(peak, process.memoryUsage().rss);
      if (!result?.ok) throw new Error(`download failed: ${result && !result.ok ? result.reason : 'no result'}`);
      if ((await stat(result.path)).size !== size) throw new Error('downloaded size differs');
      await rm(sub, { recursive: true });
      if (i > 0) {
        ours.push(seconds);
        growth.push(peak - rssBefore);
      }
    }
    const maxRssGrowth = process.resourceUsage().maxRSS * 1024 - Math.max(maxRssBefore, rssStart);
    const curlMBs = o.sizeMB / median(curl);
    const oursMBs = o.sizeMB / median(ours);
    const peakGrowth = Math.max(...growth, maxRssGrowth);
    return {
      sizeMB: o.sizeMB,
      rounds: o.rounds,
      curlMBPerS: round(curlMBs),
      workerMBPerS: round(oursMBs),
      curlSeconds: curl.map((s) => round(s, 3)),
      workerSeconds: ours.map((s) => round(s, 3)),
      vsCurl: round(oursMBs / curlMBs, 3),
      rssGrowthMB: mb(Math.max(...growth)),
      maxRssGrowthMB: mb(maxRssGrowth),
      targets: { vsCurl: '≥ 0.8', rssGrowthMB: '< 64' },
      pass: oursMBs / curlMBs >= 0.8 && mb(peakGrowth) < 64,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
    await standins.close();
  }
}

export const optionsFromEnv = () => ({ sizeMB: num('BENCH_ATTACHMENT_MB', 200), rounds: num('BENCH_ATTACHMENT_ROUNDS', 3) });

if (import.meta.main) await scenarioMain(() => attachment(optionsFromEnv()));
