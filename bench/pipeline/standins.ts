/**
 * The benchmark's stand-ins — Gemini, Mailgun and a big-file server — in a process of their own.
 *
 * Why a separate process: in production Gemini, Mailgun and the file host are remote; their CPU
 * time and memory are not the worker's. In the consumer's process they would add the same cost to
 * both sides of the throughput comparison (pulling the ratio towards 1), and inflate the RSS and
 * event-loop lag measured for the worker.
 *
 * The parent talks to it over IPC: `stats` (open Gemini streams and their peak, messages
 * received), `reset` (forget recorded requests and messages between rounds), `waitForMessages`
 * (answers when the Mailgun stand-in has received that many, with the wall time it happened).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { startGeminiStandin, type GeminiStandinOptions } from '../../src/dev/gemini-standin.ts';
import { startMailgunStandin } from '../../src/dev/mailgun-standin.ts';
import { wallNow } from './common.ts';

export interface StandinsSpec {
  /** Gemini stand-in options (chunks, delays). */
  gemini: Pick<GeminiStandinOptions, 'chunkCount' | 'chunkDelayMs' | 'streamDurationMs'>;
  /** The only Mailgun API key accepted. */
  mailgunKey: string;
  /** Serve `GET /file` with this many bytes (64 KiB writes, Content-Length set; `?bytes=N` for fewer). @defaultValue no file server */
  fileBytes?: number;
}

export interface StandinsStats {
  /** Gemini streams open now. */
  openStreams: number;
  /** Most Gemini streams open at once since the last reset (sampled every 5 ms). */
  peakOpenStreams: number;
  /** Gemini requests since the last reset. */
  geminiRequests: number;
  /** Mailgun messages accepted since the last reset. */
  messages: number;
}

export interface Standins {
  geminiUrl: string;
  mailgunUrl: string;
  /** Set when `fileBytes` was given. */
  fileUrl?: string;
  pid: number;
  stats(): Promise<StandinsStats>;
  reset(): Promise<void>;
  /** Resolves with the wall time ({@link wallNow}) at which the `count`-th message was accepted. */
  waitForMessages(count: number, timeoutMs: number): Promise<number>;
  close(): Promise<void>;
}

type Request = { id: number; cmd: 'stats' } | { id: number; cmd: 'reset' } | { id: number; cmd: 'wait'; count: number };
type Reply = { id: number; stats?: StandinsStats; at?: number; ok?: true };

/** Starts the stand-ins in a child process and returns once they listen. */
export async function startStandins(spec: StandinsSpec): Promise<Standins> {
  const child: ChildProcess = fork(import.meta.filename, [JSON.stringify(spec)], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const urls = await new Promise<{ geminiUrl: string; mailgunUrl: string; fileUrl?: string }>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`stand-ins exited with ${code} before listening`)));
    child.once('message', (m) => resolve(m as { geminiUrl: string; mailgunUrl: string; fileUrl?: string }));
  });
  child.removeAllListeners('exit');
  let nextId = 0;
  const waiting = new Map<number, (reply: Reply) => void>();
  child.on('message', (m: Reply) => {
    waiting.get(m.id)?.(m);
    waiting.delete(m.id);
  });
  const ask = (request: Omit<Request, 'id'>, timeoutMs = 10_000): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const id = ++nextId;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`stand-ins did not answer '${request.cmd}' within ${timeoutMs} ms`));
      }, timeoutMs);
      waiting.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      child.send({ ...request, id });
    });
  return {
    ...urls,
    pid: child.pid ?? 0,
    stats: async () => (await ask({ cmd: 'stats' })).stats!,
    reset: async () => void (await ask({ cmd: 'reset' })),
    waitForMessages: async (count, timeoutMs) => (await ask({ cmd: 'wait', count } as Omit<Request, 'id'>, timeoutMs)).at!,
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function fileServer(bytes: number): Promise<Server> {
  const block = Buffer.alloc(64 * 1024, 0x61);
  const server = createServer((req, res) => {
    req.resume();
    const asked = Number(new URL(req.url ?? '/', 'http://file').searchParams.get('bytes') ?? bytes);
    const size = Math.min(bytes, Number.isFinite(asked) && asked >= 0 ? asked : bytes);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        const n = Math.min(block.length, size - sent);
        sent += n;
        if (!res.write(n === block.length ? block : block.subarray(0, n))) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function serve(spec: StandinsSpec): Promise<void> {
  const gemini = await startGeminiStandin(spec.gemini);
  const mailgun = await startMailgunStandin({ apiKey: spec.mailgunKey });
  const files = spec.fileBytes ? await fileServer(spec.fileBytes) : undefined;
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, gemini.openStreams)), 5);
  const waits = new Set<{ id: number; count: number }>();
  let checker: NodeJS.Timeout | undefined;
  // Checked every millisecond while someone waits: the time the count is reached ends a throughput round.
  const check = () => {
    for (const w of waits) {
      if (mailgun.messages.length >= w.count) {
        waits.delete(w);
        process.send!({ id: w.id, at: wallNow() } satisfies Reply);
      }
    }
    if (!waits.size) checker = void clearInterval(checker);
  };
  process.on('message', (m: Request) => {
    if (m.cmd === 'stats') {
      peak = Math.max(peak, gemini.openStreams);
      const stats = { openStreams: gemini.openStreams, peakOpenStreams: peak, geminiRequests: gemini.requests.length, messages: mailgun.messages.length };
      process.send!({ id: m.id, stats } satisfies Reply);
    } else if (m.cmd === 'reset') {
      gemini.reset();
      // Bench-only: the stand-in keeps every message; rounds would otherwise pile them up.
      mailgun.messages.length = 0;
      mailgun.requests.length = 0;
      peak = gemini.openStreams;
      process.send!({ id: m.id, ok: true } satisfies Reply);
    } else if (m.cmd === 'wait') {
      waits.add({ id: m.id, count: m.count });
      checker ??= setInterval(check, 1);
    }
  });
  process.once('SIGTERM', () => {
    clearInterval(sampler);
    clearInterval(checker);
    files?.closeAllConnections();
    files?.close();
    void Promise.all([gemini.close(), mailgun.close()]).then(() => process.exit(0));
  });
  const filePort = files ? (files.address() as { port: number }).port : undefined;
  process.send!({ geminiUrl: gemini.url, mailgunUrl: mailgun.url, ...(filePort ? { fileUrl: `http://127.0.0.1:${filePort}/file` } : {}) });
}

if (import.meta.main) await serve(JSON.parse(process.argv[2] ?? '{}') as StandinsSpec);
