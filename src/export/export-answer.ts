/**
 * Exports the answer (untrusted Markdown) to the requested formats — SPEC §3.2 step 6.
 *
 * 1. Per format, one after the other, each in a fresh empty directory under `workDir`: Quarto when
 *    a binary is found (`QUARTO_PATH`, else `quarto` on PATH; PDF through Typst by default) on the
 *    sanitised answer, otherwise the built-in engine (pandoc-wasm: HTML, DOCX; PDF via Typst).
 * 2. **Fallback**: a format Quarto failed on (error or timeout) is made once more by the built-in
 *    engine, within what is left of the export budget. A job that was stopped (abort, shutdown,
 *    deadline) gets no fallback.
 * 3. Each file is checked: non-empty and really that format (magic bytes).
 *
 * Never throws for a format that cannot be produced: it becomes a `failures` entry with a short
 * reason for the reply. Each render is bounded by `timeoutMs`, by what is left of `budgetMs`, and
 * by the job's `signal`. Every render is reported to `onRender` (metrics) and logged.
 */
import { mkdir, mkdtemp, open, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'winston';
import { ErrorCodes, isWorkerError, permanent, type WorkerError } from '../errors.ts';
import { Deadline, abortReason } from '../resilience/deadline.ts';
import { renderBuiltin } from './builtin.ts';
import {
  CONTENT_TYPES,
  EXPORT_FORMATS,
  looksLike,
  outputName,
  type ExportEngine,
  type ExportFormat,
  type ExportResult,
  type ExportedFile,
  type RenderEvent,
} from './formats.ts';
import { plainTitle, quartoFrontMatter, type QuartoTarget } from './front-matter.ts';
import { sharedPandocEngine, type PandocEngine } from './pandoc-engine.ts';
import { findOnPath, isExecutable, runQuarto } from './quarto.ts';
import type { SanitizeReport } from './sanitize.ts';

export type { ExportEngine, ExportFailure, ExportFormat, ExportResult, ExportedFile, RenderEvent } from './formats.ts';

export interface ExportAnswerOptions {
  /** The job's temporary directory; every render gets a fresh, empty subdirectory in it. */
  workDir: string;
  /** Limit for each render (quartoExport, already scaled), in ms. */
  timeoutMs: number;
  /** Time for the whole export — every format, fallbacks included — in ms. @defaultValue unbounded (only `signal` and `timeoutMs` limit it) */
  budgetMs?: number;
  /** The job's deadline: aborting it stops the render in progress and fails the rest. */
  signal: AbortSignal;
  /** `QUARTO_PATH`. @defaultValue `quarto` looked up on PATH */
  quartoPath?: string;
  /** Look `quarto` up on PATH when `quartoPath` is not set. @defaultValue `true` */
  searchPath?: boolean;
  /** Document title, plain text (e.g. `Re: <subject>`; untrusted, escaped here). @defaultValue none */
  title?: string;
  /** How Quarto makes a PDF: `typst` (bundled with Quarto) or `latex` (needs a TeX install). @defaultValue `'typst'` */
  pdfEngine?: 'typst' | 'latex';
  /** The pandoc-wasm engine (sanitiser and built-in export). @defaultValue the process-wide engine */
  engine?: PandocEngine;
  /** Grace between SIGTERM and SIGKILL for Quarto's process group. @defaultValue `2000` */
  killGraceMs?: number;
  /** Called after every render attempt (metrics subscribe here). @defaultValue none */
  onRender?: (event: RenderEvent) => void;
  /** @defaultValue none */
  logger?: Logger;
}

/** Errors after which no fallback is tried: the job itself was stopped or has no time left. */
const STOPPED: ReadonlySet<string> = new Set([ErrorCodes.ABORTED, ErrorCodes.SHUTTING_DOWN, ErrorCodes.DEADLINE_EXCEEDED, ErrorCodes.JOB_BUSY]);

export async function exportAnswer(markdown: string, formats: readonly ExportFormat[], options: ExportAnswerOptions): Promise<ExportResult> {
  if (typeof markdown !== 'string') throw new TypeError('Expected `markdown` to be a string.');
  for (const f of formats) if (!EXPORT_FORMATS.includes(f)) throw new TypeError(`Expected a format in ${EXPORT_FORMATS.join(', ')}, got ${String(f)}.`);
  if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0) throw new TypeError(`Expected \`timeoutMs\` to be a finite number > 0, got ${options.timeoutMs}.`);
  if (options.budgetMs !== undefined && !(options.budgetMs >= 0)) throw new TypeError(`Expected \`budgetMs\` to be a number >= 0, got ${options.budgetMs}.`);

  const result: ExportResult = { files: [], failures: [] };
  const wanted = [...new Set(formats)];
  if (!wanted.length) return result;
  const log = options.logger;
  // Not the job's logger: the shared engine outlives this job.
  const engine = options.engine ?? sharedPandocEngine();
  const title = plainTitle(options.title);
  const quartoPath = await locateQuarto(options, log);
  await mkdir(options.workDir, { recursive: true });
  using budget = Deadline.after(options.budgetMs ?? Number.MAX_SAFE_INTEGER, { label: 'export', parent: options.signal });
  const renderTimeout = () => Math.min(options.timeoutMs, budget.remainingMs());
  let report: SanitizeReport | undefined;

  const attempt = async (format: ExportFormat, kind: ExportEngine, fallback: boolean, render: () => Promise<ExportedFile>): Promise<ExportedFile | WorkerError> => {
    const started = performance.now();
    try {
      const made = await render();
      options.onRender?.({ format, engine: kind, outcome: 'ok', fallback, durationMs: performance.now() - started });
      log?.info('Export made', { format, engine: kind, fallback, bytes: made.bytes, ms: Math.round(performance.now() - started) });
      return made;
    } catch (error) {
      const e = asWorkerError(error, format);
      options.onRender?.({ format, engine: kind, outcome: 'failed', fallback, durationMs: performance.now() - started, code: e.code });
      log?.warn('Export failed', { format, engine: kind, fallback, reason: failureReason(e, kind), err: e });
      return e;
    }
  };

  const builtin = (format: ExportFormat, fallback: boolean) =>
    attempt(format, 'builtin', fallback, async () => {
      const timeoutMs = renderTimeout();
      if (timeoutMs <= 0) throw abortReason(budget.signal, 'export');
      const dir = await mkdtemp(join(options.workDir, `builtin-${format}-`));
      const out = await renderBuiltin(markdown, format, { engine, dir, timeoutMs, signal: budget.signal, ...(title ? { title } : {}) });
      report ??= out.outcome.report;
      if (out.outcome.fallback) log?.warn('Sanitised answer failed verification; exporting it as plain text', { format, problems: out.outcome.problems });
      if (!looksLike(format, out.outcome.bytes.subarray(0, 512))) throw permanent(ErrorCodes.EXPORT_FAILED, `built-in engine wrote something that is not ${format}`);
      return file(format, out.path, out.bytes, 'builtin');
    });

  let quarto: ((format: ExportFormat) => Promise<ExportedFile | WorkerError>) | undefined;
  if (quartoPath) {
    let safe: string | WorkerError;
    try {
      const sanitized = await engine.sanitize(markdown, { timeoutMs: renderTimeout(), signal: budget.signal });
      report = sanitized.report;
      safe = sanitized.markdown;
      if (sanitized.fallback) log?.warn('Sanitised answer failed verification; exporting it as plain text', { problems: sanitized.problems });
    } catch (error) {
      safe = asWorkerError(error, wanted[0]!);
    }
    quarto = (format) =>
      attempt(format, 'quarto', false, async () => {
        if (typeof safe !== 'string') throw safe;
        const target: QuartoTarget = format === 'pdf' ? (options.pdfEngine === 'latex' ? 'pdf' : 'typst') : format;
        const dir = await mkdtemp(join(options.workDir, `quarto-${format}-`));
        await writeFile(join(dir, 'answer.md'), quartoFrontMatter(target, title) + safe, { mode: 0o600, flag: 'wx' });
        const run = await runQuarto({
          quartoPath: quartoPath!,
          dir,
          to: target,
          output: outputName(format),
          timeoutMs: renderTimeout(),
          signal: budget.signal,
          ...(options.killGraceMs === undefined ? {} : { killGraceMs: options.killGraceMs }),
          ...(log ? { logger: log } : {}),
        });
        await checkFile(format, run.path);
        return file(format, run.path, run.bytes, 'quarto');
      });
  }

  for (const format of wanted) {
    let made = quarto ? await quarto(format) : await builtin(format, false);
    let quartoReason: string | undefined;
    if (quarto && isWorkerError(made) && !STOPPED.has(made.code)) {
      quartoReason = failureReason(made, 'quarto');
      log?.warn('Quarto failed; falling back to the built-in engine', { format, code: made.code, remainingMs: budget.remainingMs() });
      made = await builtin(format, true);
      if (!isWorkerError(made)) made = { ...made, fallbackFrom: { engine: 'quarto', reason: quartoReason } };
    }
    if (isWorkerError(made)) {
      const reason = failureReason(made, quarto && !quartoReason ? 'quarto' : 'builtin');
      result.failures.push({ format, error: made, reason: quartoReason ? `Quarto failed (${quartoReason}), and so did the built-in engine (${reason})` : reason });
    } else result.files.push(made);
  }

  log?.info('Export finished', {
    files: result.files.map((f) => ({ format: f.format, engine: f.engine, bytes: f.bytes, ...(f.fallbackFrom ? { fallback: true } : {}) })),
    failed: result.failures.map((f) => ({ format: f.format, code: f.error.code })),
    ...(report && Object.keys(report).length ? { neutralised: report } : {}),
  });
  return result;
}

async function locateQuarto(options: ExportAnswerOptions, log: Logger | undefined): Promise<string | undefined> {
  if (options.quartoPath) {
    const path = resolve(options.quartoPath);
    if (await isExecutable(path)) return path;
    log?.warn('QUARTO_PATH is not an executable file; using the built-in export engine', { quartoPath: path });
    return undefined;
  }
  if (options.searchPath === false) return undefined;
  return findOnPath('quarto');
}

function file(format: ExportFormat, path: string, bytes: number, engine: ExportEngine): ExportedFile {
  return { format, path, filename: outputName(format), contentType: CONTENT_TYPES[format], engine, bytes };
}

async function checkFile(format: ExportFormat, path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    const head = new Uint8Array(512);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    if (!looksLike(format, head.subarray(0, bytesRead))) {
      throw permanent(ErrorCodes.EXPORT_FAILED, `Quarto wrote ${outputName(format)} but it is not a ${format} file`, { details: { format } });
    }
  } finally {
    await handle.close();
  }
}

function asWorkerError(error: unknown, format: ExportFormat): WorkerError {
  if (isWorkerError(error)) return error;
  return permanent(ErrorCodes.EXPORT_FAILED, `export to ${format} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

function duration(ms: unknown): string {
  if (typeof ms !== 'number') return 'its time limit';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/** A short reason for the reply ("The PDF export could not be produced: <reason>."). */
export function failureReason(error: WorkerError, engine: ExportEngine): string {
  switch (error.code) {
    case ErrorCodes.EXPORT_UNSUPPORTED:
      return error.message || 'this format is not supported';
    case ErrorCodes.TIMEOUT:
      return `the conversion took longer than ${duration(error.details.limitMs)} and was stopped`;
    case ErrorCodes.DEADLINE_EXCEEDED:
      return 'no time was left for the conversion';
    case ErrorCodes.ABORTED:
    case ErrorCodes.SHUTTING_DOWN:
      return 'the job was stopped before the conversion finished';
    default:
      return engine === 'quarto' ? 'Quarto could not convert the answer' : 'the built-in converter could not convert the answer';
  }
}
