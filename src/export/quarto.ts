/**
 * Runs `quarto render answer.md --to <target> --no-execute` as a child process.
 *
 * - In a fresh directory that holds only `answer.md` (the caller writes it), which is also HOME;
 *   temporary files go to `.tmp` inside it.
 * - With a minimal environment — PATH, HOME, TMPDIR, LANG — built from scratch: nothing of
 *   `process.env` (API keys) is passed through, so `{{< env … >}}` or a filter has nothing to read.
 * - `detached: true`, so Quarto leads its own process group; on timeout or job abort the **whole
 *   group** gets SIGTERM, then SIGKILL after a grace period, and the call returns only when the
 *   group is gone. Leftover group members after a normal exit are killed the same way.
 * - stdout and stderr are drained continuously (a chatty converter cannot block on a full pipe)
 *   and only their tails are kept; stderr's tail goes into the error.
 * - Success means exit code 0 *and* a non-empty output file.
 *
 * Timeout: aggressive for the process (killed), reported as a retryable `EW_ERR_TIMEOUT` with
 * phase `quarto`; a job abort/deadline is reported with the job signal's own reason.
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import type { Logger } from 'winston';
import { ErrorCodes, permanent, retryable, type WorkerError } from '../errors.ts';
import { abortReason } from '../resilience/deadline.ts';
import { createTimeoutController } from '../resilience/timeout-controller.ts';
import type { QuartoTarget } from './front-matter.ts';
import { groupAlive, killGroup, trackGroup, untrackGroup } from './process-group.ts';
import { TailBuffer } from './tail-buffer.ts';

export interface QuartoRunOptions {
  /** Path of the `quarto` executable. */
  quartoPath: string;
  /** Directory holding only the input file; the working directory and HOME of the render. */
  dir: string;
  /** Input file name inside `dir`. @defaultValue `'answer.md'` */
  input?: string;
  /** `--to` target. */
  to: QuartoTarget;
  /** Output file name Quarto writes inside `dir`, e.g. `answer.pdf`. */
  output: string;
  /** Limit for the render (quartoExport, scaled). */
  timeoutMs: number;
  /** The job's signal: aborting it kills the render. */
  signal?: AbortSignal;
  /** Time between SIGTERM and SIGKILL. @defaultValue `2000` */
  killGraceMs?: number;
  /** How long to wait for the group to vanish after SIGKILL. @defaultValue `5000` */
  exitWaitMs?: number;
  /** Bytes of stderr kept for the error. @defaultValue `8192` */
  stderrBytes?: number;
  /** Where leftovers and slow shutdowns are reported. @defaultValue none */
  logger?: Logger;
}

export interface QuartoRunResult {
  path: string;
  bytes: number;
  durationMs: number;
  /** Tail of Quarto's stderr (its progress log). */
  stderr: string;
}

const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

/** The complete environment of a render: no variable of this process is inherited except PATH. */
export function quartoEnvironment(dir: string): Record<string, string> {
  return { PATH: process.env.PATH || DEFAULT_PATH, HOME: dir, TMPDIR: join(dir, '.tmp'), LANG: 'C.UTF-8' };
}

export async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The first executable `name` on PATH, or undefined. */
export async function findOnPath(name: string, pathVariable = process.env.PATH ?? ''): Promise<string | undefined> {
  for (const dir of pathVariable.split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

type Ended = { kind: 'exit'; code: number | null; signal: NodeJS.Signals | null } | { kind: 'error'; error: Error } | { kind: 'abort' };

export async function runQuarto(options: QuartoRunOptions): Promise<QuartoRunResult> {
  const input = options.input ?? 'answer.md';
  const started = performance.now();
  const env = quartoEnvironment(options.dir);
  await mkdir(env.TMPDIR!, { recursive: true });

  let timedOut: WorkerError | undefined;
  using timer = createTimeoutController(options.signal, options.timeoutMs, () => {
    timedOut = retryable(ErrorCodes.TIMEOUT, `Quarto render to ${options.to} timed out after ${Math.round(options.timeoutMs)}ms`, {
      details: { operation: 'export', phase: 'quarto', to: options.to, limitMs: options.timeoutMs },
    });
    return timedOut;
  });
  if (timer.signal.aborted) throw abortReason(timer.signal, 'export quarto');

  const child = spawn(options.quartoPath, ['render', input, '--to', options.to, '--no-execute'], {
    cwd: options.dir,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr = new TailBuffer(options.stderrBytes ?? 8192);
  const stdout = new TailBuffer(1024);
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  const pgid = child.pid;
  if (pgid !== undefined) trackGroup(pgid);

  const exited = new Promise<Ended>((resolve) => {
    child.once('exit', (code, signal) => resolve({ kind: 'exit', code, signal }));
    child.once('error', (error) => resolve({ kind: 'error', error }));
  });
  // 'close' = the pipes reached EOF: every byte the group wrote has been read.
  const drained = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const exitWaitMs = options.exitWaitMs ?? 5000;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<Ended>((resolve) => {
    onAbort = () => resolve({ kind: 'abort' });
    timer.signal.addEventListener('abort', onAbort, { once: true });
  });

  const fail = (message: string, extra: Record<string, unknown> = {}) =>
    permanent(ErrorCodes.EXPORT_FAILED, message, {
      details: { operation: 'export', phase: 'quarto', to: options.to, stderr: stderr.text(), ...extra },
    });

  try {
    const ended = await Promise.race([exited, aborted]);
    if (ended.kind === 'error') throw fail(`Quarto could not be started: ${ended.error.message}`, { path: options.quartoPath });

    // Whatever ended the render, no member of the group may outlive it.
    if (pgid !== undefined && (await groupAlive(pgid))) {
      const gone = await killGroup(pgid, { graceMs: options.killGraceMs ?? 2000, exitWaitMs });
      if (!gone) options.logger?.warn('Quarto process group still running after SIGKILL', { pgid });
      else if (ended.kind === 'exit') options.logger?.debug('Killed processes left behind by Quarto', { pgid });
    }
    // Bounded: a process stuck in the kernel could hold the leader or a pipe open.
    await Promise.race([Promise.all([exited, drained]), sleep(exitWaitMs, undefined, { ref: false })]);
    if (ended.kind === 'abort') {
      if (timedOut && timer.signal.reason === timedOut) {
        throw retryable(ErrorCodes.TIMEOUT, timedOut.message, { details: { ...timedOut.details, stderr: stderr.text() } });
      }
      throw abortReason(timer.signal, 'export quarto');
    }

    const { code, signal } = ended;
    if (code !== 0) {
      const last = stderr.text().trim().split('\n').at(-1) ?? '';
      throw fail(`Quarto exited with ${signal ? `signal ${signal}` : `code ${code}`}${last ? `: ${last.slice(0, 300)}` : ''}`, { exitCode: code, signal });
    }
    const path = join(options.dir, options.output);
    const bytes = await stat(path).then(
      (s) => (s.isFile() ? s.size : 0),
      () => 0,
    );
    if (bytes === 0) throw fail(`Quarto exited with code 0 but wrote no ${options.output}`);
    return { path, bytes, durationMs: performance.now() - started, stderr: stderr.text() };
  } finally {
    if (onAbort) timer.signal.removeEventListener('abort', onAbort);
    if (pgid !== undefined) untrackGroup(pgid);
    child.stdout.destroy();
    child.stderr.destroy();
  }
}
