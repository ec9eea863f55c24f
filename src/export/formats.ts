/** The export formats: file names, MIME types, and the magic bytes a real file starts with. */
import type { WorkerError } from '../errors.ts';

export type ExportFormat = 'pdf' | 'docx' | 'html';
export type ExportEngine = 'quarto' | 'builtin';

export const EXPORT_FORMATS: readonly ExportFormat[] = ['pdf', 'docx', 'html'];

export interface ExportedFile {
  format: ExportFormat;
  /** Absolute path, inside the job's work directory. */
  path: string;
  /** Attachment name, e.g. `answer.pdf`. */
  filename: string;
  contentType: string;
  engine: ExportEngine;
  bytes: number;
  /** Made by the built-in engine after Quarto failed on this format. */
  fallbackFrom?: { engine: 'quarto'; reason: string };
}

/** One render attempt, reported to `onRender` (metrics). */
export interface RenderEvent {
  format: ExportFormat;
  engine: ExportEngine;
  outcome: 'ok' | 'failed';
  /** A built-in render after Quarto failed on this format. */
  fallback: boolean;
  durationMs: number;
  /** Error code when `outcome` is `failed`. */
  code?: string;
}

export interface ExportFailure {
  format: ExportFormat;
  error: WorkerError;
  /** Short, for the reply: "The PDF export could not be produced: <reason>." */
  reason: string;
}

export interface ExportResult {
  files: ExportedFile[];
  failures: ExportFailure[];
}

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  pdf: 'application/pdf',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  html: 'text/html; charset=utf-8',
};

export function outputName(format: ExportFormat): string {
  return `answer.${format}`;
}

/** Whether `head` (the first bytes of a file) looks like `format`: `%PDF-`, a zip (`PK\x03\x04`), HTML. */
export function looksLike(format: ExportFormat, head: Uint8Array): boolean {
  const text = Buffer.from(head).toString('latin1');
  if (format === 'pdf') return text.startsWith('%PDF-');
  if (format === 'docx') return text.startsWith('PK\x03\x04');
  return /<html[\s>]/i.test(text) || /^\s*<!doctype html/i.test(text);
}
