/**
 * Worker thread that owns pandoc-wasm (see `pandoc-engine.ts` for why it lives in a Worker).
 *
 * Sandbox: pandoc-wasm runs on an in-memory WASI file system that holds only the files we pass
 * (none: the Markdown goes in as stdin) and an empty environment; WASI preview1 has no sockets, so
 * the document cannot read host files, environment variables or URLs. The Worker itself is started
 * with an empty `env` as well.
 *
 * PDF: the sanitised AST → Typst (pandoc's typst writer) → verified (`typst-guard.ts`) → compiled
 * by the Typst compiler in an empty workspace (`typst-pdf.ts`).
 *
 * Requests are handled one at a time (the engine serialises them); each `convert` call clears the
 * WASI file system first, so nothing of one job is visible to the next.
 */
import { parentPort } from 'node:worker_threads';
import type { convert as convertType } from 'pandoc-wasm';
import { parseDocument, type PandocDocument } from './pandoc-ast.ts';
import {
  UNTRUSTED_READER,
  VERIFY_READER,
  fallbackMarkdown,
  mergeReports,
  prepareMarkdown,
  sanitizeDocument,
  verifySanitized,
  type SanitizeReport,
} from './sanitize.ts';
import type { BuiltinFormat, WorkerRequest, WorkerResponse } from './pandoc-protocol.ts';
import { prepareForTypst, typstPreamble } from './typst-document.ts';
import { verifyTypstBody } from './typst-guard.ts';
import { TypstError, compileTypstPdf } from './typst-pdf.ts';

type Convert = typeof convertType;
type ConvertResult = Awaited<ReturnType<Convert>>;

let pandoc: Promise<Convert> | undefined;

/** Loads the ~58 MB wasm on first use (top-level await in pandoc-wasm's Node entry). */
function loadPandoc(): Promise<Convert> {
  pandoc ??= import('pandoc-wasm').then((m) => m.convert);
  return pandoc;
}

/** A Pandoc error report (bad input), as opposed to a crash of the wasm instance. */
class PandocError extends Error {
  override readonly name = 'PandocError';
}

const tail = (s: string, n = 2000) => (s.length > n ? `…${s.slice(-n)}` : s);

async function run(options: Record<string, unknown>, stdin: string): Promise<ConvertResult> {
  const convert = await loadPandoc();
  // --sandbox on top of WASI: Pandoc itself refuses to read any file or URL but its input.
  const result = await convert({ ...options, sandbox: true }, stdin, {});
  if (/^(ERROR|pandoc:)/m.test(result.stderr)) throw new PandocError(tail(result.stderr.trim()));
  return result;
}

async function toJson(markdown: string, reader: string): Promise<PandocDocument> {
  const result = await run({ from: reader, to: 'json' }, markdown);
  return parseDocument(result.stdout);
}

async function toMarkdown(doc: PandocDocument): Promise<string> {
  const result = await run({ from: 'json', to: 'markdown', wrap: 'preserve' }, JSON.stringify(doc));
  return result.stdout;
}

interface Sanitized {
  markdown: string;
  doc: PandocDocument;
  report: SanitizeReport;
  fallback: boolean;
  problems: string[];
}

/** Text pass, parse, AST pass, write, verify; the plain-code fallback if verification fails. */
async function sanitize(markdown: string): Promise<Sanitized> {
  const prepared = prepareMarkdown(markdown);
  const { doc, report } = sanitizeDocument(await toJson(prepared.text, UNTRUSTED_READER));
  const written = await toMarkdown(doc);
  const problems = verifySanitized(written, await toJson(written, VERIFY_READER));
  const merged = mergeReports(prepared.report, report);
  if (!problems.length) return { markdown: written, doc, report: merged, fallback: false, problems };

  const fallback = fallbackMarkdown(markdown);
  const fallbackDoc = await toJson(fallback, VERIFY_READER);
  const fallbackProblems = verifySanitized(fallback, fallbackDoc);
  if (fallbackProblems.length) throw new PandocError(`sanitised text failed verification: ${[...problems, ...fallbackProblems].join('; ')}`);
  return { markdown: fallback, doc: fallbackDoc, report: merged, fallback: true, problems };
}

const MATHML = { method: 'mathml' };

/**
 * Typst body for a sanitised document, verified. If the writer's output ever holds code outside
 * its own vocabulary, the answer is written as one plain code block instead (like `fallbackMarkdown`).
 */
async function typstBody(sanitized: Sanitized, original: string): Promise<{ body: string; problems: string[] }> {
  const body = (await run({ from: 'json', to: 'typst', wrap: 'preserve' }, JSON.stringify(prepareForTypst(sanitized.doc)))).stdout;
  const problems = verifyTypstBody(body);
  if (!problems.length) return { body, problems };
  const plain = prepareForTypst(await toJson(fallbackMarkdown(original), VERIFY_READER));
  const fallback = (await run({ from: 'json', to: 'typst', wrap: 'preserve' }, JSON.stringify(plain))).stdout;
  const again = verifyTypstBody(fallback);
  if (again.length) throw new PandocError(`typst output failed verification: ${[...problems, ...again].slice(0, 5).join('; ')}`);
  return { body: fallback, problems: problems.map((p) => `typst: ${p}`) };
}

async function render(markdown: string, format: BuiltinFormat, title: string | undefined): Promise<{ bytes: Uint8Array; sanitized: Sanitized }> {
  const sanitized = await sanitize(markdown);
  if (format === 'pdf') {
    const { body, problems } = await typstBody(sanitized, markdown);
    const pdf = await compileTypstPdf(typstPreamble() + body, title);
    return { bytes: pdf, sanitized: problems.length ? { ...sanitized, fallback: true, problems: [...sanitized.problems, ...problems] } : sanitized };
  }
  const doc: PandocDocument = {
    ...sanitized.doc,
    // MetaString: the title is literal text, never parsed as Markdown.
    meta: title ? { title: { t: 'MetaString', c: title } } : { pagetitle: { t: 'MetaString', c: 'Answer' } },
  };
  const input = JSON.stringify(doc);
  if (format === 'html') {
    // Standalone, self-contained, MathML (no MathJax script or CDN): a file that needs no network.
    const result = await run({ from: 'json', to: 'html5', standalone: true, 'embed-resources': true, 'html-math-method': MATHML }, input);
    return { bytes: new TextEncoder().encode(result.stdout), sanitized };
  }
  const result = await run({ from: 'json', to: 'docx', 'output-file': 'answer.docx' }, input);
  const blob = result.files['answer.docx'];
  if (!blob) throw new PandocError(`no docx produced${result.stderr ? `: ${tail(result.stderr.trim())}` : ''}`);
  return { bytes: new Uint8Array(await blob.arrayBuffer()), sanitized };
}

async function handle(request: WorkerRequest): Promise<WorkerResponse> {
  const started = performance.now();
  if (request.op === 'parse') {
    const result = await run({ from: request.reader, to: 'json' }, request.markdown);
    return { id: request.id, ok: true, op: 'parse', json: result.stdout };
  }
  if (request.op === 'sanitize') {
    const s = await sanitize(request.markdown);
    return { id: request.id, ok: true, op: 'sanitize', markdown: s.markdown, report: s.report, fallback: s.fallback, problems: s.problems, ms: performance.now() - started };
  }
  const { bytes, sanitized } = await render(request.markdown, request.format, request.title);
  return {
    id: request.id,
    ok: true,
    op: 'render',
    bytes,
    report: sanitized.report,
    fallback: sanitized.fallback,
    problems: sanitized.problems,
    ms: performance.now() - started,
  };
}

const port = parentPort;
if (!port) throw new Error('pandoc-worker.ts must run in a worker thread.');

port.on('message', (request: WorkerRequest) => {
  handle(request).then(
    (response) => port.postMessage(response, response.ok && response.op === 'render' ? [response.bytes.buffer as ArrayBuffer] : []),
    (error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      // Anything but a Pandoc or Typst error report (e.g. a wasm trap) may leave the instance broken.
      const fatal = !(error instanceof PandocError || error instanceof TypstError);
      port.postMessage({ id: request.id, ok: false, fatal, message } satisfies WorkerResponse);
    },
  );
});
