import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ErrorCodes, permanent } from '../errors.ts';
import { exportAnswer, type ExportAnswerOptions } from './export-answer.ts';
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

  it('reports a failing Quarto per format instead of throwing', async () => {
    const result = await exportAnswer('# x', ['pdf', 'html'], await options({ quartoPath: await fake('quarto-fail') }));
    assert.deepEqual(result.files, []);
    assert.deepEqual(
      result.failures.map((f) => [f.format, f.error.code, f.reason]),
      [
        ['pdf', ErrorCodes.EXPORT_FAILED, 'Quarto could not convert the answer'],
        ['html', ErrorCodes.EXPORT_FAILED, 'Quarto could not convert the answer'],
      ],
    );
    assert.match(String(result.failures[0]!.error.details.stderr), /unknown font family/);
  });

  it('reports a Quarto timeout as a failure with a short reason', async () => {
    const result = await exportAnswer('# x', ['pdf'], await options({ quartoPath: await fake('quarto-slow'), timeoutMs: 300 }));
    assert.equal(result.failures[0]!.error.code, ErrorCodes.TIMEOUT);
    assert.equal(result.failures[0]!.reason, 'the conversion took longer than 300 ms and was stopped');
  });

  it('rejects a Quarto output that is not the requested format', async () => {
    const result = await exportAnswer('# x', ['pdf', 'docx', 'html'], await options({ quartoPath: await fake('quarto-wrong') }));
    assert.deepEqual(result.files, []);
    assert.deepEqual(
      result.failures.map((f) => [f.format, f.error.code]),
      [
        ['pdf', ErrorCodes.EXPORT_FAILED],
        ['docx', ErrorCodes.EXPORT_FAILED],
        ['html', ErrorCodes.EXPORT_FAILED],
      ],
    );
    assert.match(result.failures[0]!.error.message, /not a pdf file/);
  });

  it('rejects a Quarto run that exits 0 without output', async () => {
    const result = await exportAnswer('# x', ['html'], await options({ quartoPath: await fake('quarto-empty') }));
    assert.match(result.failures[0]!.error.message, /wrote no answer\.html/);
  });

  it('without Quarto uses the built-in engine for HTML and DOCX and reports PDF as unsupported', async () => {
    const result = await exportAnswer('# Built in\n\nText.', ['pdf', 'docx', 'html'], await options({ title: 'Re: Hi' }));
    assert.deepEqual(
      result.files.map((f) => [f.format, f.engine]),
      [
        ['docx', 'builtin'],
        ['html', 'builtin'],
      ],
    );
    assert.deepEqual(
      result.failures.map((f) => [f.format, f.error.code, f.reason]),
      [['pdf', ErrorCodes.EXPORT_UNSUPPORTED, 'PDF needs Quarto (not installed on this worker)']],
    );
    assert.match(await readFile(result.files[1]!.path, 'utf8'), /<title>Re: Hi<\/title>[\s\S]*Built in/);
    assert.equal((await readFile(result.files[0]!.path)).subarray(0, 2).toString(), 'PK');
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
