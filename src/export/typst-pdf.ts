/**
 * Typst → PDF with the compiler shipped on npm (`@myriaddreamin/typst-ts-node-compiler`, a native
 * build per platform). Runs inside the pandoc Worker (`pandoc-worker.ts`), loaded on the first PDF
 * only, so html/docx-only workers never pay for it.
 *
 * Sandbox: each compile gets a fresh, empty workspace root. The document is passed as content (no
 * file is written), so `#read`, `#include` and `#image` can only reach that empty directory — Typst
 * resolves absolute paths inside the root and refuses `..` out of it ("access denied"). Package
 * imports (`@preview/…`) would read the user's package directory or download from
 * packages.typst.org: they never reach the compiler because the source is verified first
 * (`typst-guard.ts`). Typst has no access to environment variables; `sys.inputs` holds only the title.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type * as TypstCompiler from '@myriaddreamin/typst-ts-node-compiler';

type TypstModule = typeof TypstCompiler;

let typst: Promise<TypstModule> | undefined;

function loadTypst(): Promise<TypstModule> {
  typst ??= import('@myriaddreamin/typst-ts-node-compiler');
  return typst;
}

/** A compile error from Typst (bad document), as opposed to a crash. */
export class TypstError extends Error {
  override readonly name = 'TypstError';
}

/** Compiles `source` to PDF in an empty workspace; `title` is visible to it as `sys.inputs.title`. */
export async function compileTypstPdf(source: string, title: string | undefined): Promise<Uint8Array> {
  const { NodeCompiler } = await loadTypst();
  const root = await mkdtemp(join(tmpdir(), 'email-worker-typst-'));
  try {
    const compiler = NodeCompiler.create({ workspace: root });
    try {
      const pdf = compiler.pdf({ mainFileContent: source, inputs: title ? { title } : {} });
      // A copy in an ArrayBuffer of its own: it is transferred to the main thread.
      return new Uint8Array(pdf);
    } catch (error) {
      // napi errors carry Typst's diagnostics in `code` ("0: label `<x>` does not exist …").
      const detail = (error as { code?: unknown }).code;
      throw new TypstError(typeof detail === 'string' && detail ? detail : error instanceof Error ? error.message : String(error));
    } finally {
      // Memoised layout results of earlier documents: keep recent ones (warm engine), drop the rest.
      compiler.evictCache(10);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
