/**
 * `npm run bench -- export`: time and peak RSS of the built-in export engine for html, docx and
 * pdf, a short answer and a long one (≈ 20 pages), cold (fresh process: Worker start, wasm and
 * Typst load) and warm, against pandoc-wasm alone (the floor); and the engine's resident cost with
 * and without PDF. Every measurement runs in a fresh Node process (`export/scenario.ts`), so none
 * inherits another's heap or loaded modules. See bench/README.md.
 *
 * Knobs: BENCH_EXPORT_WARM (warm renders per run, 3), BENCH_EXPORT_FORMATS (html,docx,pdf),
 * BENCH_EXPORT_SIZES (short,long).
 */
import { join } from 'node:path';
import { runInChild } from './pipeline/common.ts';

const list = (name: string, fallback: string) => (process.env[name] ?? fallback).split(',').map((s) => s.trim()).filter(Boolean);

export async function run(): Promise<object> {
  const file = join(import.meta.dirname, 'export', 'scenario.ts');
  const results: Record<string, unknown> = {};
  for (const size of list('BENCH_EXPORT_SIZES', 'short,long')) {
    for (const format of list('BENCH_EXPORT_FORMATS', 'html,docx,pdf')) {
      for (const mode of ['engine', 'floor']) {
        console.error(`▶ export: ${mode} ${format} ${size}`);
        results[`${mode}/${format}/${size}`] = await runInChild(file, [mode, format, size]);
      }
    }
  }
  console.error('▶ export: resident');
  results.resident = await runInChild(file, ['resident', 'pdf', 'long']);
  return results;
}
