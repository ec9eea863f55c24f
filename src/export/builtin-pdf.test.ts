/**
 * The built-in PDF route (sanitised AST → pandoc typst writer → verified Typst → Typst compiler)
 * against hostile answers: Typst code that reads files or packages, raw Typst, absurd sizes.
 * Text is read back from the PDF with unpdf, never judged by byte counts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCodes } from '../errors.ts';
import { renderBuiltin } from './builtin.ts';
import { pdfPages, pdfText } from './fixtures/pdf-text.ts';
import { PandocEngine } from './pandoc-engine.ts';
import { rejection } from '../../test/helpers/worker-error.ts';

describe('built-in PDF (Typst) with hostile answers', () => {
  let engine: PandocEngine;
  let root: string;
  let secretFile: string;
  const SECRET = 'HOST-SECRET-4b1d7e';
  const ENV_SECRET = 'sk-typst-env-secret-93af';

  const pdf = async (markdown: string, title?: string, timeoutMs = 60_000) => {
    const out = await renderBuiltin(markdown, 'pdf', { engine, dir: await mkdtemp(join(root, 'render-')), timeoutMs, ...(title ? { title } : {}) });
    const bytes = await readFile(out.path);
    return { out, bytes, text: await pdfText(bytes) };
  };

  before(async () => {
    engine = new PandocEngine();
    root = await mkdtemp(join(tmpdir(), 'ew-typst-test-'));
    secretFile = join(root, 'secret.txt');
    await writeFile(secretFile, SECRET);
    process.env.EW_TYPST_TEST_SECRET = ENV_SECRET;
  });
  after(async () => {
    delete process.env.EW_TYPST_TEST_SECRET;
    await engine.close();
    await rm(root, { recursive: true, force: true });
  });

  it('shows Typst #read, #include, #image, #import and raw {=typst} as text and reads no file', async () => {
    const markdown = [
      `# Try #read("${secretFile}")`,
      '',
      `Plain #read("${secretFile}") and #include "${secretFile}" and #image("${secretFile}").`,
      '',
      '```{=typst}',
      `#read("${secretFile}")`,
      '#import "@preview/cetz:0.2.2": canvas',
      '#sys.inputs',
      '```',
      '',
      `Inline \`#include "${secretFile}"\`{=typst} and math $#read("${secretFile}")$ and [a link](#read).`,
      '',
      `![image](${secretFile})`,
      '',
      `<img src="${secretFile}">`,
    ].join('\n');
    const { out, text } = await pdf(markdown, `#read("${secretFile}")`);
    assert.ok(!text.includes(SECRET), 'the host file content is not in the PDF');
    assert.ok(!text.includes(ENV_SECRET));
    assert.match(text, /^#read\(/, 'the title is plain text');
    assert.match(text, /Plain #read\(/, 'Typst code in text is shown as text');
    assert.match(text, /#import "@preview\/cetz:0\.2\.2": canvas/, 'the raw Typst block is shown as code');
    assert.ok((out.outcome.report['raw-block'] ?? 0) >= 1 && (out.outcome.report['raw-inline'] ?? 0) >= 1);
    assert.equal(out.outcome.fallback, false, 'the writer output passed verification');
  });

  it('keeps the text of a realistic answer: headings, lists, tables, code, quotes, footnotes, math', async () => {
    const markdown = [
      '# Plan',
      '',
      '1. First *step*',
      '2. Second **step**',
      '   - nested item',
      '',
      '| Option | Cost | Notes |',
      '|--------|-----:|-------|',
      `| A | 10 | ${'cheap but slow '.repeat(12)}|`,
      '',
      '```ts',
      'const answer = 42;',
      '```',
      '',
      '> Quoted advice.',
      '',
      'With a footnote[^n] and $E = mc^2$.',
      '',
      '[^n]: The footnote text.',
      '',
      'Term',
      ': Its definition.',
    ].join('\n');
    const { out, text } = await pdf(markdown, 'Re: Plan');
    assert.equal(out.outcome.fallback, false);
    for (const expected of ['Re: Plan', 'First step', 'Second step', 'nested item', 'Option', 'cheap but slow', 'const answer = 42;', 'Quoted advice.', 'The footnote text.', 'Its definition.']) {
      assert.ok(text.includes(expected), `"${expected}" is in the PDF`);
    }
  });

  it('breaks absurdly long lines so they fit, keeping every character', async () => {
    const { bytes, text } = await pdf(`Start ${'q'.repeat(20_000)}WORDEND\n\n\`\`\`\n${'z'.repeat(5_000)}CODEEND\n\`\`\`\n`);
    // Spread over pages (with page numbers in between), but every character is there.
    assert.equal(text.match(/q/g)?.length, 20_000);
    assert.equal(text.match(/z/g)?.length, 5_000);
    assert.match(text, /WORDEND[\s\S]*CODEEND/);
    assert.ok((await pdfPages(bytes)) > 1, 'the lines were broken, not cut at the page edge');
  });

  it('flattens lists nested deeper than Typst can lay out, keeping the text', async () => {
    const markdown = Array.from({ length: 40 }, (_, i) => `${'  '.repeat(i)}- level ${i}`).join('\n');
    const { text } = await pdf(markdown);
    assert.match(text, /level 0[\s\S]*level 39/);
  });

  it('a long answer becomes many pages', async () => {
    const section = (i: number) => `## Section ${i}\n\n${'A sentence of a long answer. '.repeat(60)}\n\n`;
    const { bytes, text } = await pdf(Array.from({ length: 30 }, (_, i) => section(i)).join(''));
    assert.ok((await pdfPages(bytes)) >= 10);
    assert.match(text, /Section 29/);
  });

  it('makes PDFs again in a fresh Worker after the idle one was terminated (the native compiler loads again)', async () => {
    const shortLived = new PandocEngine({ idleTimeoutMs: 50 });
    try {
      for (const round of [1, 2]) {
        const out = await renderBuiltin(`# Round ${round}`, 'pdf', { engine: shortLived, dir: await mkdtemp(join(root, 'render-')), timeoutMs: 60_000 });
        assert.match(await pdfText(await readFile(out.path)), new RegExp(`Round ${round}`));
        while (shortLived.warm) await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await shortLived.close();
    }
  });

  it('1 MB of text cannot outlast the timeout, and the engine works again afterwards', async () => {
    const megabyte = `${'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(18)}\n\n`.repeat(1000);
    assert.ok(megabyte.length >= 1_000_000);
    const error = await rejection(pdf(megabyte, undefined, 1500));
    assert.equal(error.code, ErrorCodes.TIMEOUT);
    assert.equal(error.details.limitMs, 1500);
    const { text } = await pdf('# Still working');
    assert.match(text, /Still working/);
  });
});
