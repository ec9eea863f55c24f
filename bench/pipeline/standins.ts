/**
 * The benchmark's stand-ins — Gemini, Mailgun and a big-file server — in a process of their own.
 *
 * Why a separate process: in production Gemini, Mailgun and the file host are remote; their CPU
 * time and memory are not the worker's. In the consumer's process they would add the same cost to
 * both sides of the throughput comparison (pulling the ratio towards 1), and inflate the RSS and
 * event-loop lag measured for the worker.
 *
 * This module is the parent's side (it loads none of the stand-ins); `standins-server.ts` is the
 * child. The parent talks to it over IPC: `stats` (open Gemini streams and their peak, messages
 * received), `reset` (forget recorded requests and messages between rounds), `waitForMessages`
 * (answers when the Mailgun stand-in has received that many, with the wall time it happened).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { GeminiStandinOptions } from '../../src/dev/gemini-standin.ts';

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

export type StandinsRequest = { id: number; cmd: 'stats' } | { id: number; cmd: 'reset' } | { id: number; cmd: 'wait'; count: number };
export type StandinsReply = { id: number; stats?: StandinsStats; at?: number; ok?: true };

/** Starts the stand-ins in a child process and returns once they listen. */
export async function startStandins(spec: StandinsSpec): Promise<Standins> {
  const child: ChildProcess = fork(join(import.meta.dirname, 'standins-server.ts'), [JSON.stringify(spec)], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const urls = await new Promise<{ geminiUrl: string; mailgunUrl: string; fileUrl?: string }>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`stand-ins exited with ${code} before listening`)));
    child.once('message', (m) => resolve(m as { geminiUrl: string; mailgunUrl: string; fileUrl?: string }));
  });
  child.removeAllListeners('exit');
  let nextId = 0;
  const waiting = new Map<number, (reply: StandinsReply) => void>();
  child.on('message', (m: StandinsReply) => {
    waiting.get(m.id)?.(m);
    waiting.delete(m.id);
  });
  const ask = (request: Omit<StandinsRequest, 'id'>, timeoutMs = 10_000): Promise<StandinsReply> =>
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
    waitForMessages: async (count, timeoutMs) => (await ask({ cmd: 'wait', count } as Omit<StandinsRequest, 'id'>, timeoutMs)).at!,
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
