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
 * - Ceilings, same server, same process, after the measured rounds: a plain Node socket reading the response and dropping it
 *   (no HTTP parsing, no disk), and undici reading and dropping the body (no disk). They show how
 *   much of the distance to curl is Node's socket path rather than the product's.
 *
 * Standalone: `npx node --expose-gc bench/pipeline/attachment.ts`.
 */
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { Agent, stream } from 'undici';
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

/** Seconds for a plain socket to receive `size` body bytes (plus headers), dropping them. */
async function socketDiscard(url: string, size: number): Promise<number> {
  const { hostname, port, pathname } = new URL(url);
  const start = performance.now();
  await new Promise<void>((resolve, reject) => {
    let received = 0;
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(`GET ${pathname} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received >= size) {
        socket.destroy();
        resolve();
      }
    });
    socket.once('error', reject);
  });
  return (performance.now() - start) / 1000;
}

/** Seconds for undici to receive the body, dropping it. */
async function undiciDiscard(url: string): Promise<number> {
  const agent = new Agent();
  const start = performance.now();
  await stream(url, { method: 'GET', dispatcher: agent, opaque: null }, () => new Writable({ write: (_chunk, _encoding, done) => done() }));
  const seconds = (performance.now() - start) / 1000;
  await agent.close();
  return seconds;
}

/** One download through the product's step; returns seconds and the RSS growth over the RSS just before. */
async function ours(url: string, dir: string, size: number): Promise<{ seconds: number; rssGrowth: number }> {
  globalThis.gc?.();
  const rssBefore = process.memoryUsage().rss;
  let peak = rssBefore;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  await mkdir(dir);
  using deadline = Deadline.after(600_000);
  const start = performance.now();
  const [result] = await downloadAttachments([{ name: 'big.bin', url }], {
    dir,
    deadline,
    policy: { attempts: 1, minDelayMs: 0, maxDelayMs: 0 },
    perFileTimeoutMs: 300_000,
    headersTimeoutMs: 30_000,
    bodyTimeoutMs: 30_000,
    // The cap is checked on every chunk; set just above the file so it is checked, not hit.
    maxBytes: size + 1,
    allowedHosts: ['127.0.0.1'],
    allowPrivate: true,
  });
  const seconds = (performance.now() - start) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  if (!result?.ok) throw new Error(`download failed: ${result && !result.ok ? result.reason : 'no result'}`);
  if ((await stat(result.path)).size !== size) throw new Error('downloaded size differs');
  await rm(dir, { recursive: true });
  return { seconds, rssGrowth: peak - rssBefore };
}

export async function attachment(o: { sizeMB: number; rounds: number }) {
  // The worker's whole module graph, as in a running worker: the GC work per chunk depends on it.
  await import('../../src/app.ts');
  const size = o.sizeMB * 1024 * 1024;
  const standins = await startStandins({ gemini: {}, mailgunKey: MAILGUN_KEY, fileBytes: size });
  const url = standins.fileUrl!;
  const dir = await mkdtemp(join(tmpdir(), 'bench-attach-'));
  try {
    // Warm-up with a small file (JIT, undici's parser, page cache), so that the kernel's peak RSS
    // below measures the big downloads, not one-time start-up costs.
    const small = 8 * 1024 * 1024;
    await ours(`${url}?bytes=${small}`, join(dir, 'warm-up'), small);
    await curlSeconds(`${url}?bytes=${small}`, join(dir, 'warm-up.bin'));
    await rm(join(dir, 'warm-up.bin'));
    globalThis.gc?.();
    const maxRssBefore = process.resourceUsage().maxRSS * 1024;
    const rssStart = process.memoryUsage().rss;
    const curl: number[] = [];
    const worker: number[] = [];
    const socketOnly: number[] = [];
    const undiciOnly: number[] = [];
    const growth: number[] = [];
    // They alternate who goes first, so both see the same machine (other load, page-cache state)
    // as closely as possible.
    for (let i = 1; i <= o.rounds; i++) {
      const runCurl = async () => {
        const file = join(dir, `curl-${i}.bin`);
        const seconds = await curlSeconds(url, file);
        if ((await stat(file)).size !== size) throw new Error('curl: downloaded size differs');
        await rm(file);
        return seconds;
      };
      const runOurs = () => ours(url, join(dir, `ours-${i}`), size);
      let c: number;
      let w: Awaited<ReturnType<typeof ours>>;
      if (i % 2) {
        c = await runCurl();
        w = await runOurs();
      } else {
        w = await runOurs();
        c = await runCurl();
      }
      curl.push(c);
      worker.push(w.seconds);
      growth.push(w.rssGrowth);
      console.error(`  attachment round ${i}/${o.rounds}: curl ${round(o.sizeMB / c)} MB/s, worker ${round(o.sizeMB / w.seconds)} MB/s, RSS +${mb(w.rssGrowth)} MB`);
    }
    // The kernel's high-water mark cannot miss a short peak between two samples.
    const maxRssGrowth = process.resourceUsage().maxRSS * 1024 - Math.max(maxRssBefore, rssStart);
    // After the high-water mark was read: these leave garbage of their own.
    for (let i = 0; i < o.rounds; i++) {
      socketOnly.push(await socketDiscard(url, size));
      undiciOnly.push(await undiciDiscard(url));
    }
    const curlMBs = o.sizeMB / median(curl);
    const oursMBs = o.sizeMB / median(worker);
    const rssGrowth = Math.max(...growth);
    return {
      sizeMB: o.sizeMB,
      rounds: o.rounds,
      curlMBPerS: round(curlMBs),
      workerMBPerS: round(oursMBs),
      curlMBPerSRounds: curl.map((s) => round(o.sizeMB / s)),
      workerMBPerSRounds: worker.map((s) => round(o.sizeMB / s)),
      vsCurl: round(oursMBs / curlMBs, 3),
      ceilings: {
        nodeSocketDiscardMBPerS: round(o.sizeMB / median(socketOnly)),
        undiciDiscardMBPerS: round(o.sizeMB / median(undiciOnly)),
      },
      rssGrowthMB: mb(rssGrowth),
      maxRssGrowthMB: mb(maxRssGrowth),
      targets: { vsCurl: '≥ 0.8', rssGrowthMB: '< 64' },
      pass: oursMBs / curlMBs >= 0.8 && mb(Math.max(rssGrowth, maxRssGrowth)) < 64,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
    await standins.close();
  }
}

export const optionsFromEnv = () => ({ sizeMB: num('BENCH_ATTACHMENT_MB', 200), rounds: num('BENCH_ATTACHMENT_ROUNDS', 5) });

if (import.meta.main) await scenarioMain(() => attachment(optionsFromEnv()));
