/**
 * What the image runs, without Docker: the files the Dockerfile copies (minus what .dockerignore
 * leaves out), `npm ci --omit=dev` into a temp dir, then `node src/main.ts` from there — the
 * production dependencies must be complete. It answers a real job end to end (emulator, Gemini
 * stand-in, .eml outbox), which loads every lazily imported module, and drains on SIGTERM.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { PubSub } from '@google-cloud/pubsub';
import { freePort } from '../src/dev/emulator.ts';
import { startGeminiStandin, type GeminiStandin } from '../src/dev/gemini-standin.ts';

const ROOT = join(import.meta.dirname, '..');
const run = promisify(execFile);

let dir: string;
let gemini: GeminiStandin;

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const value = await fn().catch(() => undefined);
    if (value !== undefined) return value;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ew-prod-'));
  await cp(join(ROOT, 'package.json'), join(dir, 'package.json'));
  await cp(join(ROOT, 'package-lock.json'), join(dir, 'package-lock.json'));
  await cp(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  // As .dockerignore: no tests, no dev tools, no test fixtures.
  await cp(join(ROOT, 'src'), join(dir, 'src'), {
    recursive: true,
    filter: (source) => !source.endsWith('.test.ts') && !source.includes(`${join('src', 'dev')}`) && !source.includes(join('export', 'fixtures')),
  });
  gemini = await startGeminiStandin({ chunkCount: 2, chunkDelayMs: 1 });
});

after(async () => {
  await gemini?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('production install', { timeout: 600_000 }, () => {
  it('installs with npm ci --omit=dev, starts from it, answers a job and drains on SIGTERM', async (t) => {
    await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, env: { ...process.env, npm_config_loglevel: 'error' }, maxBuffer: 16 * 1024 * 1024 });
    const installed = await readdir(join(dir, 'node_modules'));
    assert.ok(!installed.includes('typescript') && !installed.includes('eslint'), 'dev dependencies were installed');
    const { stdout: du } = await run('du', ['-sm', join(dir, 'node_modules')]);
    t.diagnostic(`production node_modules: ${du.split('\t')[0]} MB`);

    const project = `demo-prod-${randomUUID().slice(0, 8)}`;
    const topic = `prod-${randomUUID().slice(0, 8)}`;
    const port = await freePort();
    const outbox = join(dir, 'outbox');
    const child = spawn(process.execPath, ['--max-semi-space-size=16', 'src/main.ts'], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        PUBSUB_EMULATOR_HOST: process.env.PUBSUB_EMULATOR_HOST,
        METADATA_SERVER_DETECTION: 'none',
        GOOGLE_CLOUD_PROJECT: project,
        PUBSUB_TOPIC: topic,
        PUBSUB_SUBSCRIPTION: `${topic}-sub`,
        PUBSUB_DEAD_LETTER_TOPIC: `${topic}-dead`,
        GEMINI_BASE_URL: gemini.url,
        EMAIL_PROCESSING_MODE: 'true',
        OUTBOX_DIR: outbox,
        PORT: String(port),
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor('/readyz 200', async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200 ? true : undefined), 60_000);

      const pubsub = new PubSub({ projectId: project });
      await pubsub.topic(topic).publishMessage({
        json: { version: 1, kind: 'email', from: 'alice@example.com', to: ['ask@mg.localhost'], subject: 'Production install', text: 'Does it answer?', messageId: `<${randomUUID()}@example.com>` },
      });
      await pubsub.close();
      const eml = await waitFor('a reply in the outbox', async () => {
        const files = (await readdir(outbox)).filter((f) => f.endsWith('.eml'));
        return files.length ? readFile(join(outbox, files[0]!), 'utf8') : undefined;
      }, 60_000);
      assert.match(eml, /^Subject: Re: Production install/m);
    } catch (error) {
      t.diagnostic(output.slice(-4000));
      throw error;
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, `worker did not drain cleanly:\n${output.slice(-2000)}`);
  });
});
