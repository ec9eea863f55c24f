/** `email-worker publish` against the real emulator: the job arrives, valid, with its attachment. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { PubSub, type Message } from '@google-cloud/pubsub';
import { parseJob } from '../src/jobs/schema.ts';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '../bin/email-worker.js');

describe('email-worker publish', () => {
  it('publishes a valid job with an inline attachment and export formats', async () => {
    const topic = `cli-${randomUUID()}`;
    const pubsub = new PubSub({ projectId: process.env.GOOGLE_CLOUD_PROJECT ?? 'demo-test' });
    const [t] = await pubsub.createTopic(topic);
    const [sub] = await t.createSubscription(`${topic}-sub`);
    const dir = await mkdtemp(join(tmpdir(), 'cli-'));
    const file = join(dir, 'notes.txt');
    await writeFile(file, 'attached words');
    const received = new Promise<Message>((resolve) => sub.once('message', (m: Message) => { m.ack(); resolve(m); }));

    const { stdout } = await run(process.execPath, [cli, 'publish', '--from', 'alice@example.com', '--subject', 'Hi', '--text', 'Q?', '--attach', file, '--export', 'pdf,docx'], {
      env: { ...process.env, PUBSUB_TOPIC: topic },
    });
    const out = JSON.parse(stdout) as { jobId: string; topic: string };
    assert.equal(out.topic, topic);

    const message = await received;
    const parsed = parseJob(message.data);
    assert.ok(parsed.ok, 'the published job is valid');
    assert.equal(parsed.job.id, out.jobId);
    assert.equal(parsed.job.from, 'alice@example.com');
    assert.deepEqual(parsed.job.export?.formats, ['pdf', 'docx']);
    const attachment = parsed.job.attachments[0]!;
    assert.ok('base64' in attachment);
    assert.equal(Buffer.from(attachment.base64, 'base64').toString(), 'attached words');
    assert.equal(message.attributes.kind, 'api');
    await sub.close();
    await pubsub.close();
  });

  it('refuses an invalid sender with exit code 2 and names the field', async () => {
    await assert.rejects(run(process.execPath, [cli, 'publish', '--from', 'not-an-address', '--dry-run']), (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 2);
      assert.match(error.stderr, /from/);
      return true;
    });
  });
});
