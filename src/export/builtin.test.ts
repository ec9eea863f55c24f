import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderBuiltin } from './builtin.ts';
import { pdfText } from './fixtures/pdf-text.ts';
import { unzip } from './fixtures/zip.ts';
import { PandocEngine } from './pandoc-engine.ts';

const ANSWER = [
  '# Quarterly report',
  '',
  'The answer text with **bold** and a table:',
  '',
  '| Item | Cost |',
  '|------|-----:|',
  '| Tea  | 3    |',
  '',
  'Inline math $a^2 + b^2 = c^2$.',
  '',
  '<script>alert("from the email")</script>',
  '',
  'Tracked <img src="http://evil.example/pixel.png"> and `<script>x</script>`{=html}.',
  '',
].join('\n');

/** Everything a file says: HTML as is, every DOCX part, the PDF's raw bytes and its extracted text. */
async function readAll(path: string, format: 'html' | 'docx' | 'pdf', encoding: BufferEncoding): Promise<string> {
  const bytes = await readFile(path);
  if (format === 'docx') return [...unzip(bytes).values()].map((b) => b.toString(encoding)).join('');
  if (format === 'pdf') return bytes.toString(encoding) + (await pdfText(bytes));
  return bytes.toString(encoding);
}

describe('built-in engine (pandoc-wasm)', () => {
  let engine: PandocEngine;
  let root: string;
  const dir = () => mkdtemp(join(root, 'render-'));

  before(async () => {
    engine = new PandocEngine();
    root = await mkdtemp(join(tmpdir(), 'ew-builtin-test-'));
  });
  after(async () => {
    await engine.close();
    await rm(root, { recursive: true, force: true });
  });

  it('writes standalone HTML with the answer text, the title, MathML and no script from the input', async () => {
    const out = await renderBuiltin(ANSWER, 'html', { engine, dir: await dir(), timeoutMs: 30_000, title: 'Re: Costs <b>&</b>' });
    const html = await readFile(out.path, 'utf8');
    assert.equal(out.bytes, Buffer.byteLength(html));
    assert.match(html, /^<!DOCTYPE html>/);
    assert.match(html, /Quarterly report/);
    assert.match(html, /The answer text with <strong>bold<\/strong>/);
    assert.match(html, /<title>Re: Costs &lt;b&gt;&amp;&lt;\/b&gt;<\/title>/);
    assert.match(html, /<math/);
    assert.doesNotMatch(html, /<script/i, 'no script element at all');
    assert.doesNotMatch(html, /<img/i, 'no image element');
    assert.match(html, /<pre class="sourceCode html">[\s\S]*alert[\s\S]*from the email/, 'the raw HTML block is shown as code');
    assert.match(html, /Tracked &lt;img src=&quot;http:\/\/evil\.example\/pixel\.png&quot;&gt;/, 'the inline img tag is shown as text');
  });

  it('writes a DOCX that is a valid zip containing word/document.xml with the answer text', async () => {
    const out = await renderBuiltin(ANSWER, 'docx', { engine, dir: await dir(), timeoutMs: 30_000, title: 'Report' });
    const bytes = await readFile(out.path);
    assert.equal(bytes.subarray(0, 4).toString('latin1'), 'PK\x03\x04');
    const files = unzip(bytes);
    const document = files.get('word/document.xml')?.toString('utf8');
    assert.ok(document, 'word/document.xml is in the archive');
    assert.match(document, /Quarterly report/);
    assert.ok(files.has('[Content_Types].xml'));
  });

  it('writes a PDF whose extracted text carries the title and the answer', async () => {
    const out = await renderBuiltin(ANSWER, 'pdf', { engine, dir: await dir(), timeoutMs: 60_000, title: 'Re: Costs <b>&</b>' });
    const bytes = await readFile(out.path);
    assert.equal(out.bytes, bytes.byteLength);
    assert.equal(bytes.subarray(0, 5).toString('latin1'), '%PDF-');
    const text = await pdfText(bytes);
    assert.match(text, /^Re: Costs <b>&<\/b>/, 'the title, as plain text');
    assert.match(text, /Quarterly report[\s\S]*The answer text with bold and a table:/);
    assert.match(text, /Item\s+Cost\s+Tea\s+3/);
    assert.match(text, /<script>alert\("from the email"\)<\/script>/, 'the raw HTML block is shown as code');
  });

  it('never puts a secret from process.env into the output, even when a shortcode asks for it', async () => {
    const secret = 'AIzaExportTestSecret0123456789abcdef';
    process.env.EW_BUILTIN_TEST_KEY = secret;
    try {
      const markdown = `Key: {{< env EW_BUILTIN_TEST_KEY >}} and {{{< env EW_BUILTIN_TEST_KEY >}}} and \`{{< env EW_BUILTIN_TEST_KEY >}}\``;
      for (const format of ['html', 'docx', 'pdf'] as const) {
        const out = await renderBuiltin(markdown, format, { engine, dir: await dir(), timeoutMs: 30_000 });
        const text = await readAll(out.path, format, 'utf8');
        assert.ok(!text.includes(secret), `no secret in the ${format}`);
        assert.match(text, /EW_BUILTIN_TEST_KEY/, 'the shortcode is shown as text');
      }
    } finally {
      delete process.env.EW_BUILTIN_TEST_KEY;
    }
  });

  it('cannot read a host file through an image, an img tag or \\input', async () => {
    const marker = 'HOST-FILE-CONTENT-7f3a9c';
    const hostFile = join(root, 'host-secret.png');
    await writeFile(hostFile, marker);
    const markdown = `![x](${hostFile})\n\n<img src="${hostFile}">\n\n\\input{${hostFile}}\n\n![y](file://${hostFile})\n`;
    for (const format of ['html', 'docx', 'pdf'] as const) {
      const out = await renderBuiltin(markdown, format, { engine, dir: await dir(), timeoutMs: 30_000 });
      const text = await readAll(out.path, format, 'latin1');
      assert.ok(!text.includes(marker), `host file content not in the ${format}`);
      assert.ok(!text.includes(Buffer.from(marker).toString('base64')), `nor base64-embedded in the ${format}`);
    }
  });
});
