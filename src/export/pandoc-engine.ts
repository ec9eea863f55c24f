/**
 * pandoc-wasm behind a `worker_threads` Worker: used to sanitise every answer (parse → clean AST →
 * write, see `sanitize.ts`) and as the built-in export engine (HTML, DOCX, and PDF through the Typst
 * compiler loaded into the same Worker on the first PDF) when no Quarto binary is installed or a
 * Quarto render failed.
 *
 * Why a Worker: a conversion is synchronous wasm that can run for seconds on a large or hostile
 * input. In a Worker it does not block the event loop (heartbeats, HTTP, other jobs keep running),
 * and a timeout or a job abort can stop it for real with `worker.terminate()` — an *aggressive*
 * timeout, unlike the cooperative AbortSignal elsewhere.
 * The Typst compile (PDF) is native code, which `terminate()` cannot cut short: the caller still
 * gets its timeout error at once, and the discarded Worker exits when that compile returns (the
 * next call waits for it, within its own timeout).
 *
 * One warm Worker is reused: loading the wasm takes ~1.5 s and ~300 MB. Reuse is safe because
 * each conversion starts from a cleared in-memory file system and no document content can run
 * code or reach the host (see `pandoc-worker.ts`); a Worker that timed out, crashed or hit a wasm
 * trap is discarded and the next request gets a fresh one. Requests run one at a time in arrival
 * order; the Worker is terminated after `idleTimeoutMs` without work and never keeps the process alive
 * while idle.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'winston';
import { ErrorCodes, permanent, type WorkerError } from '../errors.ts';
import { abortReason, operationTimeout } from '../resilience/deadline.ts';
import { createTimeoutController, type TimeoutController } from '../resilience/timeout-controller.ts';
import { parseDocument, type PandocDocument } from './pandoc-ast.ts';
import type { BuiltinFormat, WorkerRequest, WorkerResponse } from './pandoc-protocol.ts';
import type { SanitizeReport } from './sanitize.ts';
import { TailBuffer } from './tail-buffer.ts';

export interface PandocEngineOptions {
  /** Terminate the warm Worker after this long without work (frees its memory). @defaultValue `60_000` */
  idleTimeoutMs?: number;
  /** Old-generation heap limit of the Worker's JavaScript side (wasm memory is separate). @defaultValue `512` */
  maxHeapMb?: number;
  /** Where Worker start/stop and crashes are reported. @defaultValue none */
  logger?: Logger;
}

export interface EngineCallOptions {
  /** Budget for this call, queueing and wasm loading included. */
  timeoutMs: number;
  /** Ends the call early (job deadline); its reason is what the call rejects with. */
  signal?: AbortSignal;
}

export interface SanitizeOutcome {
  /** Safe Markdown (no front matter). */
  markdown: string;
  report: SanitizeReport;
  /** Verification failed; `markdown` is the answer as one plain code block. */
  fallback: boolean;
  problems: string[];
}

export interface RenderOutcome {
  bytes: Uint8Array;
  report: SanitizeReport;
  fallback: boolean;
  problems: string[];
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Request = DistributiveOmit<WorkerRequest, 'id'>;

interface Pending {
  id: number;
  request: Request;
  phase: string;
  controller: TimeoutController;
  resolve: (response: WorkerResponse & { ok: true }) => void;
  reject: (error: WorkerError) => void;
}

const WORKER_URL = new URL('./pandoc-worker.ts', import.meta.url);

export class PandocEngine {
  readonly #idleTimeoutMs: number;
  readonly #maxHeapMb: number;
  readonly #logger: Logger | undefined;
  readonly #queue: Pending[] = [];
  #running: Pending | undefined;
  #worker: Worker | undefined;
  #workerOutput = new TailBuffer(4096);
  #idleTimer: NodeJS.Timeout | undefined;
  #nextId = 1;
  #closed = false;

  constructor(options: PandocEngineOptions = {}) {
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.#maxHeapMb = options.maxHeapMb ?? 512;
    this.#logger = options.logger;
  }

  /** Sanitises untrusted Markdown for Quarto (see `sanitize.ts`). */
  async sanitize(markdown: string, options: EngineCallOptions): Promise<SanitizeOutcome> {
    const r = await this.#call({ op: 'sanitize', markdown }, 'sanitize', options);
    if (r.op !== 'sanitize') throw new TypeError('Unexpected worker response.');
    return { markdown: r.markdown, report: r.report, fallback: r.fallback, problems: r.problems };
  }

  /** Sanitises and converts untrusted Markdown to a standalone HTML, DOCX or PDF file. */
  async render(markdown: string, format: BuiltinFormat, options: EngineCallOptions & { title?: string }): Promise<RenderOutcome> {
    const request: Request = { op: 'render', markdown, format, ...(options.title ? { title: options.title } : {}) };
    const r = await this.#call(request, 'builtin', options);
    if (r.op !== 'render') throw new TypeError('Unexpected worker response.');
    return { bytes: r.bytes, report: r.report, fallback: r.fallback, problems: r.problems };
  }

  /** Parses Markdown to a Pandoc AST, unsanitised (verification and tests). */
  async parse(markdown: string, reader: string, options: EngineCallOptions): Promise<PandocDocument> {
    const r = await this.#call({ op: 'parse', markdown, reader }, 'parse', options);
    if (r.op !== 'parse') throw new TypeError('Unexpected worker response.');
    return parseDocument(r.json);
  }

  /** Stops the Worker and rejects queued calls. The engine cannot be used afterwards. */
  async close(): Promise<void> {
    this.#closed = true;
    const closing = permanent(ErrorCodes.SHUTTING_DOWN, 'pandoc engine closed');
    for (const p of this.#queue.splice(0)) this.#settle(p, closing);
    if (this.#running) this.#settle(this.#running, closing);
    this.#running = undefined;
    await this.#discardWorker('closed');
  }

  /** Whether a warm Worker exists (for tests and metrics). */
  get warm(): boolean {
    return this.#worker !== undefined;
  }

  #call(request: Request, phase: string, options: EngineCallOptions): Promise<WorkerResponse & { ok: true }> {
    if (this.#closed) return Promise.reject(permanent(ErrorCodes.SHUTTING_DOWN, 'pandoc engine closed'));
    return new Promise((resolve, reject) => {
      const controller = createTimeoutController(options.signal, options.timeoutMs, () => operationTimeout('export', phase, options.timeoutMs));
      const pending: Pending = { id: this.#nextId++, request, phase, controller, resolve, reject };
      if (controller.signal.aborted) {
        this.#settle(pending, abortReason(controller.signal, `export ${phase}`));
        return;
      }
      controller.signal.addEventListener('abort', () => this.#onAbort(pending), { once: true });
      this.#queue.push(pending);
      this.#dispatch();
    });
  }

  #onAbort(pending: Pending): void {
    const error = abortReason(pending.controller.signal, `export ${pending.phase}`);
    const queued = this.#queue.indexOf(pending);
    if (queued >= 0) {
      this.#queue.splice(queued, 1);
      this.#settle(pending, error);
      return;
    }
    if (this.#running === pending) {
      // The only way to stop synchronous wasm: drop the Worker; the next call gets a fresh one.
      this.#running = undefined;
      this.#settle(pending, error);
      void this.#discardWorker(`${pending.phase} aborted: ${error.code}`).then(() => this.#dispatch());
    }
  }

  #settle(pending: Pending, result: WorkerError | (WorkerResponse & { ok: true })): void {
    pending.controller.dispose();
    if ('ok' in result) pending.resolve(result);
    else pending.reject(result);
  }

  #dispatch(): void {
    if (this.#running || this.#closed) return;
    const next = this.#queue.shift();
    if (!next) {
      this.#goIdle();
      return;
    }
    clearTimeout(this.#idleTimer);
    this.#running = next;
    const worker = this.#ensureWorker();
    worker.ref();
    worker.postMessage({ ...next.request, id: next.id } as WorkerRequest);
  }

  #goIdle(): void {
    this.#worker?.unref();
    clearTimeout(this.#idleTimer);
    if (!this.#worker) return;
    this.#idleTimer = setTimeout(() => void this.#discardWorker('idle'), this.#idleTimeoutMs);
    this.#idleTimer.unref();
  }

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(WORKER_URL, {
      // No environment variable reaches the Worker (the wasm gets none either).
      env: {},
      // pandoc-wasm logs to the console; keep it out of our stdout, bounded, for error reports.
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: this.#maxHeapMb },
    });
    this.#workerOutput = new TailBuffer(4096);
    const output = this.#workerOutput;
    worker.stdout.on('data', (chunk: Buffer) => output.push(chunk));
    worker.stderr.on('data', (chunk: Buffer) => output.push(chunk));
    worker.on('message', (response: WorkerResponse) => this.#onMessage(worker, response));
    worker.on('error', (error) => this.#onWorkerGone(worker, `crashed: ${error.message}`));
    worker.on('exit', (code) => this.#onWorkerGone(worker, `exited with code ${code}`));
    this.#worker = worker;
    this.#logger?.debug('pandoc worker started');
    return worker;
  }

  #onMessage(worker: Worker, response: WorkerResponse): void {
    const pending = this.#running;
    if (worker !== this.#worker || !pending || pending.id !== response.id) return;
    this.#running = undefined;
    if (response.ok) {
      this.#settle(pending, response);
      this.#dispatch();
      return;
    }
    this.#settle(
      pending,
      permanent(ErrorCodes.EXPORT_FAILED, `pandoc could not convert the answer: ${response.message}`, {
        details: { engine: 'pandoc-wasm', phase: pending.phase },
      }),
    );
    if (response.fatal) void this.#discardWorker('fatal error').then(() => this.#dispatch());
    else this.#dispatch();
  }

  #onWorkerGone(worker: Worker, what: string): void {
    if (worker !== this.#worker) return;
    this.#worker = undefined;
    const pending = this.#running;
    this.#running = undefined;
    this.#logger?.warn(`pandoc worker ${what}`, { output: this.#workerOutput.text() });
    if (pending) {
      this.#settle(
        pending,
        permanent(ErrorCodes.EXPORT_FAILED, `pandoc worker ${what}`, { details: { engine: 'pandoc-wasm', phase: pending.phase } }),
      );
    }
    void worker.terminate();
    this.#dispatch();
  }

  async #discardWorker(why: string): Promise<void> {
    clearTimeout(this.#idleTimer);
    const worker = this.#worker;
    if (!worker) return;
    this.#worker = undefined;
    this.#logger?.debug('pandoc worker stopped', { why });
    await worker.terminate();
  }
}

let shared: PandocEngine | undefined;

/** The process-wide engine (one warm Worker), created on first use. */
export function sharedPandocEngine(options?: PandocEngineOptions): PandocEngine {
  shared ??= new PandocEngine(options);
  return shared;
}

/** Stops the process-wide engine (shutdown). A later `sharedPandocEngine()` creates a new one. */
export async function closeSharedPandocEngine(): Promise<void> {
  const engine = shared;
  shared = undefined;
  await engine?.close();
}
