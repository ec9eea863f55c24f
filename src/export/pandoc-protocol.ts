/** Messages between `pandoc-engine.ts` (main thread) and `pandoc-worker.ts`. */
import type { SanitizeReport } from './sanitize.ts';

export type BuiltinFormat = 'html' | 'docx' | 'pdf';

export type WorkerRequest =
  | { id: number; op: 'sanitize'; markdown: string }
  | { id: number; op: 'render'; markdown: string; format: BuiltinFormat; title?: string }
  | { id: number; op: 'parse'; markdown: string; reader: string };

interface Sanitised {
  report: SanitizeReport;
  /** Verification failed and the answer was exported as one plain code block. */
  fallback: boolean;
  /** What verification found (empty unless `fallback`). */
  problems: string[];
  ms: number;
}

export type WorkerResponse =
  | ({ id: number; ok: true; op: 'sanitize'; markdown: string } & Sanitised)
  | ({ id: number; ok: true; op: 'render'; bytes: Uint8Array } & Sanitised)
  | { id: number; ok: true; op: 'parse'; json: string }
  | { id: number; ok: false; fatal: boolean; message: string };
