/**
 * The built-in export engine, used when no Quarto binary is installed: pandoc-wasm in a Worker
 * (`pandoc-engine.ts`) produces standalone, self-contained HTML (MathML, no scripts) and DOCX.
 * PDF needs a typesetter (Typst or LaTeX) that only a Quarto install brings: it is reported as
 * unsupported, never attempted.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, permanent } from '../errors.ts';
import { outputName, type ExportFormat } from './formats.ts';
import type { PandocEngine, RenderOutcome } from './pandoc-engine.ts';

export interface BuiltinRenderOptions {
  engine: PandocEngine;
  /** Fresh, empty directory for this render; the file is written here. */
  dir: string;
  /** Document title (plain text). @defaultValue none */
  title?: string;
  /** Limit for the conversion (quartoExport, scaled), wasm loading included. */
  timeoutMs: number;
  /** The job's signal: aborting it terminates the conversion. */
  signal?: AbortSignal;
}

export const PDF_NEEDS_QUARTO = 'PDF needs Quarto (not installed on this worker)';

export async function renderBuiltin(
  markdown: string,
  format: ExportFormat,
  options: BuiltinRenderOptions,
): Promise<{ path: string; bytes: number; outcome: RenderOutcome }> {
  if (format === 'pdf') {
    throw permanent(ErrorCodes.EXPORT_UNSUPPORTED, PDF_NEEDS_QUARTO, { details: { operation: 'export', format, engine: 'builtin' } });
  }
  const outcome = await options.engine.render(markdown, format, {
    timeoutMs: options.timeoutMs,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.title ? { title: options.title } : {}),
  });
  const path = join(options.dir, outputName(format));
  await writeFile(path, outcome.bytes, { flag: 'wx' });
  return { path, bytes: outcome.bytes.byteLength, outcome };
}
