/**
 * `email-worker send` end to end: the CLI posts a signed store() webhook to the real worker, serves
 * its attachment until the worker fetched it, and the answer lands in the outbox (.eml, no Mailgun).
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { jobIdFor } from '../src/jobs/schema.ts';
import { startStack, type Stack } from './helpers/stack.ts';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '../bin/email-worker.js');
const KEY = 'cli-send-signing-key';

describe('email-worker send', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });

  it('posts a signed store() webhook with an attachment; the threaded answer lands in the outbox', async () => {
    const outbox = await mkdtemp(join(tmpdir(), 'send-outbox-'));
    stack = await startStack({ env: { MAILGUN_WEBHOOK_SIGNING_KEY: KEY, MAILGUN_API_KEY: '', OUTBOX_DIR: outbox, TIMEOUT_SCALE: '0.05' } });
    const file = join(outbox, '..', `notes-${randomUUID()}.txt`);
    await writeFile(file, 'Attached: the SSO docs are out of date');
    const messageId = `<${randomUUID()}@cli.example.com>`;
    const { stdout } = await run(
      process.execPath,
      [cli, 'send', '--from', 'alice@example.com', '--subject', 'SSO question', '--text', 'What should we fix?', '--attach', file, '--message-id', messageId, '--references', '<root@cli.example.com>'],
      { env: { ...process.env, MAILGUN_WEBHOOK_SIGNING_KEY: KEY, EMAIL_WORKER_URL: stack.app.url, MAILGUN_DOMAIN: 'mg.test.localhost' } },
    );
    assert.deepEqual(JSON.parse(stdout), { status: 200, answer: { id: jobIdFor(messageId) } });
    await stack.waitForLog((e) => e.message === 'Job finished: reply sent' && e.jobId === jobIdFor(messageId));
    const [eml] = (await readdir(outbox)).filter((f) => f.endsWith('.eml'));
    const text = await readFile(join(outbox, eml!), 'utf8');
    assert.match(text, new RegExp(`^In-Reply-To: ${messageId}`, 'm'));
    assert.match(text, /^To: alice@example\.com/m);
    assert.match(text, /^Subject: Re: SSO question/m);
    assert.match(JSON.stringify(stack.gemini.requests.at(-1)?.body), /SSO docs are out of date/);
  });

  it('refuses to run without the signing key, naming it', async () => {
    const env = { ...process.env };
    delete env.MAILGUN_WEBHOOK_SIGNING_KEY;
    await assert.rejects(run(process.execPath, [cli, 'send', '--from', 'a@example.com'], { env }), (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 2);
      assert.match(error.stderr, /MAILGUN_WEBHOOK_SIGNING_KEY/);
      return true;
    });
  });
});
