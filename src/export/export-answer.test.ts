import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ErrorCodes, permanent } from '../errors.ts';
import { exportAnswer, type ExportAnswerOptions, type RenderEvent } from './export-answer.ts';
import { pdfText } from './fixtures/pdf-text.ts';
import { PandocEngine } from './pandoc-engine.ts';

const FIXTURES = new URL('./fixtures/', import.meta.url);

const HOSTILE = [
  '---',
  'format:',
  '  html:',
  '    include-in-header: /etc/passwd',
  '---',
  '',
  '# Answer',
  '',
  'Your key is {{< env EW_EXPORT_ANSWER_SECRET >}}.',
  '',
  '```{r}',
  'Sys.getenv("EW_EXPORT_ANSWER_SECRET")',
  '```',
  '',
  '![pixel](http://evil.example/p.png)',
  '',
].join('\n');

describe('exportAnswer', () => {
  let root: string;
  let engine: PandocEngine;
  const signal = new AbortController().signal;

  async function fake(name: string): Promise<string> {
    const path = join(root, `bin-${name}-${Math.random().toString(36).slice(2)}`);
    await copyFile(new URL(name, FIXTURES), path);
    await chmod(path, 0o755);
    return path;
  }
  async function options(extra: Partial<ExportAnswerOptions> = {}): Promise<ExportAnswerOptions> {
    return { workDir: await mkdtemp(join(root, 'job-')), timeoutMs: 30_000, signal, engine, searchPath: false, ...extra };
  }

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'ew-export-test-'));
    engine = new PandocEngine();
  });
  after(async () => {
    await engine.close();
    await rm(root, { recursive: true, force: true });
  });

  it('renders every format with Quarto, each in its own fresh directory, PDF through Typst', async () => {
    const opts = await options({ quartoPath: await fake('quarto-ok'), title: 'Re: Costs' });
    const result = await exportAnswer('# Costs\n\nTea costs **3**.', ['pdf', 'docx', 'html'], opts);
    assert.deepEqual(result.failures, []);
    assert.deepEqual(
      result.files.map((f) => [f.format, f.filename, f.engine]),
      [
        ['pdf', 'answer.pdf', 'quarto'],
        ['docx', 'answer.docx', 'quarto'],
        ['html', 'answer.html', 'quarto'],
      ],
    );
    assert.equal(result.files[0]!.contentType, 'application/pdf');
    const dirs = new Set(result.files.map((f) => dirname(f.path)));
    assert.equal(dirs.size, 3, 'one directory per render');
    for (const f of result.files) {
      assert.equal(dirname(dirname(f.path)), opts.workDir);
      assert.ok(f.bytes > 0);
      const entries = (await readdir(dirname(f.path))).filter((e) => e !== '.tmp').sort();
      assert.deepEqual(entries, ['answer.md', f.filename].sort(), 'the render directory held only answer.md');
    }
    // The fake echoes its input: our front matter, then the sanitised answer.
    const pdf = await readFile(result.files[0]!.path, 'utf8');
    assert.match(pdf, /^%PDF-1\.7\n---\ntitle: "Re\\\\: Costs"\nengine: markdown\n[\s\S]*format:\n {2}typst:\n[\s\S]*---\n# Costs\n\nTea costs \*\*3\*\*\./);
    const html = await readFile(result.files[2]!.path, 'utf8');
    assert.match(html, /format:\n {2}html:\n {4}embed-resources: true\n {4}minimal: true/);
  });

  it('gives Quarto only the sanitised answer under our own front matter', async () => {
    const result = await exportAnswer(HOSTILE, ['html'], await options({ quartoPath: await fake('quarto-ok') }));
    const md = await readFile(result.files[0]!.path, 'utf8');
    assert.equal(md.match(/^---$/gm)?.length, 2, 'exactly one front matter block: ours');
    assert.doesNotMatch(md, /include-in-header|\/etc\/passwd/);
    assert.doesNotMatch(md, /\{\{\s*</, 'no shortcode');
    assert.doesNotMatch(md, /^```+\s*\{/m, 'no executable cell');
    assert.doesNotMatch(md, /evil\.example/, 'no remote image');
    assert.match(md, /``` r\nSys\.getenv/, 'the cell is shown as plain code');
  });

  it('no secret in process.env reaches the Quarto output, even through a shortcode', async () => {
    const secret = 'sk-export-answer-secret-42';
    process.env.EW_EXPORT_ANSWER_SECRET = secret;
    try {
      const result = await exportAnswer(HOSTILE, ['html'], await options({ quartoPath: await fake('quarto-env') }));
      assert.equal(result.files.length, 1);
      assert.ok(!(await readFile(result.files[0]!.path, 'utf8')).includes(secret));
    } finally {
      delete process.env.EW_EXPORT_ANSWER_SECRET;
    }
  });

  it('a failing Quarto costs no format: each is made once more by the built-in engine, and the reason is kept', async () => {
    const events: RenderEvent[] = [];
    const result = await exportAnswer('# Fallback\n\nTea costs **3**.', ['pdf', 'html'], await options({ quartoPath: await fake('quarto-fail'), onRender: (e) => events.push(e) }));
    assert.deepEqual(result.failures, []);
    assert.deepEqual(
      result.files.map((f) => [f.format, f.engine, f.fallbackFrom?.reason]),
      [
        ['pdf', 'builtin', 'Quarto could not convert the answer'],
        ['html', 'builtin', 'Quarto could not convert the answer'],
      ],
    );
    assert.match(await pdfText(await readFile(result.files[0]!.path)), /Fallback[\s\S]*Tea costs 3/);
    assert.deepEqual(
      events.map((e) => [e.format, e.engine, e.outcome, e.fallback, e.code]),
      [
        ['pdf', 'quarto', 'failed', false, ErrorCodes.EXPORT_FAILED],
        ['pdf', 'builtin', 'ok', true, undefined],
        ['html', 'quarto', 'failed', false, ErrorCodes.EXPORT_FAILED],
        ['html', 'builtin', 'ok', true, undefined],
      ],
    );
  });

  it('a Quarto timeout falls back to the built-in engine for the same format', async () => {
    await engine.sanitize('warm up', { timeoutMs: 30_000 });
    const result = await exportAnswer('# x', ['html'], await options({ quartoPath: await fake('quarto-slow'), timeoutMs: 1500 }));
    assert.deepEqual(result.failures, []);
    assert.equal(result.files[0]!.engine, 'builtin');
    assert.equal(result.files[0]!.fallbackFrom?.reason, 'the conversion took longer than 2 s and was stopped');
  });

  it('the fallback runs only in what is left of the export budget', async () => {
    const events: RenderEvent[] = [];
    const result = await exportAnswer('# x', ['pdf'], await options({ quartoPath: await fake('quarto-slow'), timeoutMs: 30_000, budgetMs: 600, onRender: (e) => events.push(e) }));
    assert.deepEqual(result.files, []);
    assert.equal(result.failures.length, 1);
    assert.match(result.failures[0]!.reason, /no time was left for the conversion/);
    assert.ok(!events.some((e) => e.engine === 'builtin' && e.outcome === 'ok'), 'no built-in render finished after the budget');
  });

  it('a Quarto output that is not the requested format, or none at all, is made again by the built-in engine', async () => {
    for (const script of ['quarto-wrong', 'quarto-empty']) {
      const events: RenderEvent[] = [];
      const result = await exportAnswer('# x', ['pdf', 'docx', 'html'], await options({ quartoPath: await fake(script), onRender: (e) => events.push(e) }));
      assert.deepEqual(result.failures, [], script);
      assert.deepEqual(result.files.map((f) => [f.format, f.engine]), [['pdf', 'builtin'], ['docx', 'builtin'], ['html', 'builtin']], script);
      assert.deepEqual(events.filter((e) => e.engine === 'quarto').map((e) => e.code), [ErrorCodes.EXPORT_FAILED, ErrorCodes.EXPORT_FAILED, ErrorCodes.EXPORT_FAILED], script);
    }
  });

  it('falls back to the built-in engine when QUARTO_PATH is not executable', async () => {
    const result = await exportAnswer('# x', ['html'], await options({ quartoPath: join(root, 'missing-quarto') }));
    assert.equal(result.files[0]?.engine, 'builtin');
  });

  it('fails every format, without throwing, when the job is already aborted', async () => {
    const job = new AbortController();
    job.abort(permanent(ErrorCodes.DEADLINE_EXCEEDED, 'job deadline exceeded'));
    const result = await exportAnswer('# x', ['html', 'docx'], await options({ signal: job.signal }));
    assert.deepEqual(result.files, []);
    assert.deepEqual(
      result.failures.map((f) => [f.format, f.reason]),
      [
        ['html', 'no time was left for the conversion'],
        ['docx', 'no time was left for the conversion'],
      ],
    );
  });

  it('does nothing for an empty format list and renders a repeated format once', async () => {
    assert.deepEqual(await exportAnswer('# x', [], await options()), { files: [], failures: [] });
    const result = await exportAnswer('# x', ['html', 'html'], await options());
    assert.equal(result.files.length, 1);
  });

  it('throws for a format it does not know (a programmer error)', async () => {
    await assert.rejects(exportAnswer('# x', ['odt' as 'pdf'], await options()), TypeError);
  });
});
