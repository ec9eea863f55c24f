/**
 * One export benchmark run in a fresh process (`bench/export.ts` forks it):
 * `scenario.ts <engine|floor|resident> <html|docx|pdf> <short|long>`.
 *
 * - `engine`: the product's built-in engine (`PandocEngine`: Worker, sanitiser, pandoc-wasm, Typst
 *   for PDF). The first render is the cold one (Worker start, wasm load, Typst load), then
 *   `BENCH_EXPORT_WARM` warm renders.
 * - `floor`: pandoc-wasm alone, on the main thread, Markdown straight to the format (for PDF: to
 *   Typst source, since pandoc-wasm cannot make a PDF) — no Worker, no sanitiser, no compiler.
 * - `resident`: the engine's resident memory: RSS after warm html+docx renders, then after a PDF
 *   as well (both after a GC), over the RSS of the bare process.
 *
 * Peak RSS is sampled every 5 ms during each phase; `maxRssMb` is the kernel's high-water mark.
 */
import { num, round, median, mb } from '../pipeline/common.ts';
import { LONG_ANSWER, SHORT_ANSWER } from './answers.ts';

type Format = 'html' | 'docx' | 'pdf';
const [mode = 'engine', format = 'html', size = 'short'] = process.argv.slice(2) as ['engine' | 'floor' | 'resident', Format, 'short' | 'long'];
const markdown = size === 'long' ? LONG_ANSWER : SHORT_ANSWER;
const warmRuns = num('BENCH_EXPORT_WARM', 3);

const gc = () => (globalThis as { gc?: () => void }).gc?.();
const rss = () => process.memoryUsage.rss();

async function measure(fn: () => Promise<unknown>): Promise<{ ms: number; peakRssMb: number }> {
  let peak = rss();
  const timer = setInterval(() => (peak = Math.max(peak, rss())), 5);
  const started = performance.now();
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  const ms = performance.now() - started;
  return { ms: round(ms, 0), peakRssMb: mb(Math.max(peak, rss())) };
}

async function phases(render: () => Promise<unknown>) {
  gc();
  const baseRssMb = mb(rss());
  const cold = await measure(render);
  const warm = [];
  for (let i = 0; i < warmRuns; i++) warm.push(await measure(render));
  return {
    baseRssMb,
    cold,
    warm: { medianMs: median(warm.map((w) => w.ms)), peakRssMb: Math.max(...warm.map((w) => w.peakRssMb)) },
    maxRssMb: mb(process.resourceUsage().maxRSS * 1024),
  };
}

async function main(): Promise<object> {
  if (mode === 'floor') {
    const to = format === 'pdf' ? 'typst' : format;
    // The import is part of the cold run (it loads the wasm), as the Worker's start is for the engine.
    return phases(async () => {
      const { convert } = await import('pandoc-wasm');
      return convert({ from: 'markdown', to, ...(format === 'docx' ? { 'output-file': 'x.docx' } : { standalone: true }) }, markdown, {});
    });
  }
  const { PandocEngine } = await import('../../src/export/pandoc-engine.ts');
  const engine = new PandocEngine({ idleTimeoutMs: 600_000 });
  try {
    if (mode === 'engine') {
      let bytes = 0;
      const result = await phases(async () => (bytes = (await engine.render(markdown, format, { timeoutMs: 600_000, title: 'Re: Q3' })).bytes.byteLength));
      return { ...result, outputBytes: bytes };
    }
    gc();
    const bare = rss();
    for (let i = 0; i < 3; i++) for (const f of ['html', 'docx'] as const) await engine.render(LONG_ANSWER, f, { timeoutMs: 600_000 });
    gc();
    await new Promise((r) => setTimeout(r, 200));
    const withoutPdf = rss();
    for (let i = 0; i < 3; i++) await engine.render(LONG_ANSWER, 'pdf', { timeoutMs: 600_000 });
    gc();
    await new Promise((r) => setTimeout(r, 200));
    const withPdf = rss();
    return { bareRssMb: mb(bare), engineHtmlDocxMb: mb(withoutPdf - bare), engineWithPdfMb: mb(withPdf - bare), pdfAddsMb: mb(withPdf - withoutPdf) };
  } finally {
    await engine.close();
  }
}

const result = await main().then(
  (r) => ({ result: r }),
  (e: unknown) => ({ error: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
);
if (process.send) process.send(result, () => process.exit('error' in result ? 1 : 0));
else console.log(JSON.stringify(result, null, 2));
