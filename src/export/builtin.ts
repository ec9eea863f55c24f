/**
 * The built-in export engine, used when no Quarto binary is installed and as the fallback when a
 * Quarto render fails: pandoc-wasm in a Worker (`pandoc-engine.ts`) produces standalone,
 * self-contained HTML (MathML, no scripts), DOCX, and PDF through Typst (pandoc's typst writer, then
 * the Typst compiler from npm, in the same Worker).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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

export async function renderBuiltin(
  markdown: string,
  format: ExportFormat,
  options: BuiltinRenderOptions,
): Promise<{ path: string; bytes: number; outcome: RenderOutcome }> {
  const outcome = await options.engine.render(markdown, format, {
    timeoutMs: options.timeoutMs,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.title ? { title: options.title } : {}),
  });
  const path = join(options.dir, outputName(format));
  await writeFile(path, outcome.bytes, { flag: 'wx' });
  return { path, bytes: outcome.bytes.byteLength, outcome };
}
