import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCodes, permanent } from '../errors.ts';
import { groupAlive, processAlive, signalGroup } from './process-group.ts';
import { findOnPath, runQuarto, type QuartoRunOptions } from './quarto.ts';
import { rejection } from '../../test/helpers/worker-error.ts';

const FIXTURES = new URL('./fixtures/', import.meta.url);

let root: string;
const groups: number[] = [];

/** A copy of a fake `quarto` script, made executable (git may not keep the mode bit). */
async function fake(name: string): Promise<string> {
  const path = join(root, `bin-${name}-${Math.random().toString(36).slice(2)}`);
  await copyFile(new URL(name, FIXTURES), path);
  await chmod(path, 0o755);
  return path;
}

/** A fresh render directory holding only answer.md. */
async function renderDir(content = '# Answer\n\nHello from the answer.\n'): Promise<string> {
  const dir = await mkdtemp(join(root, 'render-'));
  await writeFile(join(dir, 'answer.md'), content);
  return dir;
}

async function pidFrom(dir: string, file: string): Promise<number> {
  const pid = Number((await readFile(join(dir, file), 'utf8')).trim());
  groups.push(pid);
  return pid;
}

async function waitForFile(path: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await readFile(path).then(() => true, () => false)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${path} never appeared`);
}



function options(quartoPath: string, dir: string, extra: Partial<QuartoRunOptions> = {}): QuartoRunOptions {
  return { quartoPath, dir, to: 'html', output: 'answer.html', timeoutMs: 10_000, ...extra };
}

describe('runQuarto', () => {
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'ew-quarto-test-'));
  });
  after(async () => {
    // Belt and braces: never leave a fake converter running, even if a test failed half-way.
    for (const pgid of groups) signalGroup(pgid, 'SIGKILL');
    await rm(root, { recursive: true, force: true });
  });

  it('renders with a working quarto and returns the non-empty output file', async () => {
    const dir = await renderDir();
    const result = await runQuarto(options(await fake('quarto-ok'), dir));
    assert.equal(result.path, join(dir, 'answer.html'));
    assert.ok(result.bytes > 0);
    const html = await readFile(result.path, 'utf8');
    assert.match(html, /Hello from the answer/);
    assert.match(result.stderr, /Output created/);
  });

  it('renders PDF through the typst target into answer.pdf', async () => {
    const dir = await renderDir();
    const result = await runQuarto(options(await fake('quarto-ok'), dir, { to: 'typst', output: 'answer.pdf' }));
    assert.match(await readFile(result.path, 'latin1'), /^%PDF-1\.7/);
  });

  it('kills the whole process group on timeout, grandchild included, and reports a retryable timeout', async () => {
    const dir = await renderDir();
    const error = await rejection(runQuarto(options(await fake('quarto-slow'), dir, { timeoutMs: 400 })));
    assert.equal(error.code, ErrorCodes.TIMEOUT);
    assert.equal(error.retryable, true);
    assert.equal(error.details.phase, 'quarto');
    assert.match(String(error.details.stderr), /rendering slowly/);
    const leader = await pidFrom(dir, 'leader.pid');
    const grandchild = await pidFrom(dir, 'grandchild.pid');
    assert.equal(await groupAlive(leader), false, 'no process of the group is running');
    assert.equal(await processAlive(grandchild), false, 'the grandchild sleep 1000 is dead');
  });

  it('escalates to SIGKILL when the group ignores SIGTERM', async () => {
    const dir = await renderDir();
    const error = await rejection(runQuarto(options(await fake('quarto-stubborn'), dir, { timeoutMs: 300, killGraceMs: 100 })));
    assert.equal(error.code, ErrorCodes.TIMEOUT);
    const leader = await pidFrom(dir, 'leader.pid');
    const grandchild = await pidFrom(dir, 'grandchild.pid');
    assert.equal(await groupAlive(leader), false);
    assert.equal(await processAlive(grandchild), false);
  });

  it('kills the group when the job signal aborts mid-render and rejects with its reason', async () => {
    const dir = await renderDir();
    const job = new AbortController();
    const reason = permanent(ErrorCodes.DEADLINE_EXCEEDED, 'job deadline of 1000ms exceeded');
    const running = runQuarto(options(await fake('quarto-slow'), dir, { signal: job.signal }));
    await waitForFile(join(dir, 'grandchild.pid'));
    job.abort(reason);
    assert.equal(await rejection(running), reason);
    assert.equal(await groupAlive(await pidFrom(dir, 'leader.pid')), false);
    assert.equal(await processAlive(await pidFrom(dir, 'grandchild.pid')), false);
  });

  it('does not start when the job signal is already aborted', async () => {
    const dir = await renderDir();
    const job = new AbortController();
    job.abort(permanent(ErrorCodes.ABORTED, 'job aborted'));
    const error = await rejection(runQuarto(options(await fake('quarto-slow'), dir, { signal: job.signal })));
    assert.equal(error.code, ErrorCodes.ABORTED);
    assert.equal(await readFile(join(dir, 'leader.pid')).then(() => true, () => false), false, 'quarto never ran');
  });

  it('puts quarto\'s stderr into the error when it fails', async () => {
    const dir = await renderDir();
    const error = await rejection(runQuarto(options(await fake('quarto-fail'), dir)));
    assert.equal(error.code, ErrorCodes.EXPORT_FAILED);
    assert.equal(error.retryable, false);
    assert.match(error.message, /code 1: ERROR: compilation failed: unknown font family/);
    assert.match(String(error.details.stderr), /Rendering answer\.md\nERROR: compilation failed/);
  });

  it('drains megabytes of stdout and stderr without blocking and keeps only a bounded tail', async () => {
    const dir = await renderDir();
    const result = await runQuarto(options(await fake('quarto-noisy'), dir, { to: 'typst', output: 'answer.pdf' }));
    assert.ok(result.bytes > 0);
    assert.ok(Buffer.byteLength(result.stderr) <= 8192, `kept ${Buffer.byteLength(result.stderr)} bytes`);
    assert.match(result.stderr, /NOISY-END\n$/);
  });

  it('passes no variable of this process to quarto, only PATH, HOME, TMPDIR and LANG', async () => {
    const secret = 'sk-test-secret-value-0123456789';
    process.env.EW_EXPORT_TEST_SECRET = secret;
    process.env.GEMINI_API_KEY_EXPORT_TEST = secret;
    try {
      const dir = await renderDir();
      const result = await runQuarto(options(await fake('quarto-env'), dir));
      const dump = await readFile(result.path, 'utf8');
      assert.ok(!dump.includes(secret), 'the secret value is not in the output');
      assert.ok(!dump.includes('EW_EXPORT_TEST_SECRET') && !dump.includes('GEMINI_API_KEY'), 'nor its name');
      const names = [...dump.matchAll(/^([A-Za-z_][A-Za-z0-9_]*)=/gm)].map((m) => m[1]);
      // PWD, SHLVL and _ are set by bash itself.
      assert.deepEqual(names.filter((n) => !['PWD', 'SHLVL', '_', 'OLDPWD'].includes(n!)).sort(), ['HOME', 'LANG', 'PATH', 'TMPDIR']);
      assert.match(dump, new RegExp(`^HOME=${dir}$`, 'm'));
    } finally {
      delete process.env.EW_EXPORT_TEST_SECRET;
      delete process.env.GEMINI_API_KEY_EXPORT_TEST;
    }
  });

  it('fails when quarto exits 0 but writes no output', async () => {
    const dir = await renderDir();
    const error = await rejection(runQuarto(options(await fake('quarto-empty'), dir)));
    assert.equal(error.code, ErrorCodes.EXPORT_FAILED);
    assert.match(error.message, /wrote no answer\.html/);
  });

  it('reports a quarto that cannot be started', async () => {
    const dir = await renderDir();
    const error = await rejection(runQuarto(options(join(root, 'no-such-quarto'), dir)));
    assert.equal(error.code, ErrorCodes.EXPORT_FAILED);
    assert.match(error.message, /could not be started/);
  });
});

describe('findOnPath', () => {
  it('finds an executable and skips a non-executable file of the same name', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ew-path-test-'));
    try {
      const a = join(dir, 'a');
      const b = join(dir, 'b');
      await Promise.all([mkdir(a), mkdir(b)]);
      await writeFile(join(a, 'quarto'), '#!/bin/sh\n', { mode: 0o644 });
      await writeFile(join(b, 'quarto'), '#!/bin/sh\n', { mode: 0o755 });
      assert.equal(await findOnPath('quarto', `${a}:${b}`), join(b, 'quarto'));
      assert.equal(await findOnPath('quarto', a), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
