import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { composeReply } from './compose.ts';
import { createOutboxTransport, outboxFileName } from './outbox.ts';
import { header, parseMime } from './mime-test-helper.ts';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'outbox-test-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const reply = (messageId: string) =>
  composeReply({ parent: { from: 'alice@example.com', subject: 'Q', messageId: '<p@example.com>' }, from: 'ask@mg.example.com', messageId, text: 'Hello' });

const live = () => new AbortController().signal;

describe('createOutboxTransport', () => {
  it('writes the reply as an .eml file named after its Message-ID', async () => {
    const dir = join(root, 'one', 'nested');
    const outbox = createOutboxTransport({ dir });
    const result = await outbox.send(reply('<r-1@mg.example.com>'), { signal: live() });
    assert.equal(result.status, 'sent');
    assert.equal(result.id, '<r-1@mg.example.com>');
    assert.equal(dirname(result.path!), dir);
    const mail = parseMime(await readFile(result.path!, 'utf8'));
    assert.equal(header(mail, 'message-id'), '<r-1@mg.example.com>');
    assert.equal(header(mail, 'in-reply-to'), '<p@example.com>');
  });

  it('is idempotent by Message-ID: a second send reports already-sent and leaves the file as it was', async () => {
    const dir = join(root, 'twice');
    const outbox = createOutboxTransport({ dir });
    const first = await outbox.send(reply('<r-2@mg.example.com>'), { signal: live() });
    const before = await readFile(first.path!);
    const second = await outbox.send(reply('<r-2@mg.example.com>'), { signal: live() });
    assert.equal(second.status, 'already-sent');
    assert.equal(second.path, first.path);
    assert.deepEqual(await readFile(first.path!), before);
    assert.deepEqual(await readdir(dir), [outboxFileName('<r-2@mg.example.com>')]);
  });

  it('writes exactly one file when the same reply is sent concurrently', async () => {
    const dir = join(root, 'concurrent');
    const outbox = createOutboxTransport({ dir });
    const results = await Promise.all(Array.from({ length: 8 }, () => outbox.send(reply('<r-3@mg.example.com>'), { signal: live() })));
    assert.equal(results.filter((r) => r.status === 'sent').length, 1);
    assert.equal(results.filter((r) => r.status === 'already-sent').length, 7);
    // No temp files left behind either.
    assert.deepEqual(await readdir(dir), [outboxFileName('<r-3@mg.example.com>')]);
  });

  it('answers wasAccepted from the file: false before, true after the send', async () => {
    const outbox = createOutboxTransport({ dir: join(root, 'accepted') });
    assert.equal(await outbox.wasAccepted('<r-4@mg.example.com>'), false);
    await outbox.send(reply('<r-4@mg.example.com>'), { signal: live() });
    assert.equal(await outbox.wasAccepted('<r-4@mg.example.com>'), true);
    assert.equal(await outbox.wasAccepted('r-4@mg.example.com'), true);
  });

  it('writes nothing when the signal is already aborted', async () => {
    const dir = join(root, 'aborted');
    const outbox = createOutboxTransport({ dir });
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await assert.rejects(outbox.send(reply('<r-5@mg.example.com>'), { signal: controller.signal }), { code: 'EW_ERR_ABORTED' });
    assert.equal(await outbox.wasAccepted('<r-5@mg.example.com>'), false);
  });

  it('keeps a Message-ID with path characters inside the outbox directory', async () => {
    const dir = join(root, 'sanitised');
    const outbox = createOutboxTransport({ dir });
    const result = await outbox.send(reply('<../../etc/passwd@x>'), { signal: live() });
    assert.equal(dirname(result.path!), dir);
    assert.doesNotMatch(outboxFileName('<../../etc/passwd@x>'), /\//);
    assert.notEqual(outboxFileName('<a/b@x>'), outboxFileName('<a_b@x>'));
  });

  it('fails permanently when the outbox path is not a directory', async () => {
    const outbox = createOutboxTransport({ dir: join(root, 'one', 'nested', outboxFileName('<r-1@mg.example.com>')) });
    await assert.rejects(outbox.send(reply('<r-6@mg.example.com>'), { signal: live() }), { code: 'EW_ERR_SEND_REJECTED', retryable: false });
  });
});
