import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { jobIdFor, parseJob } from './schema.ts';

const valid = {
  version: 1,
  kind: 'email',
  from: 'alice@example.com',
  to: ['ask@mg.example.com'],
  subject: 'Hello',
  text: 'Question?',
  messageId: '<abc123@mail.example.com>',
};

describe('parseJob', () => {
  it('accepts a minimal v1 job and derives the id from the Message-ID', () => {
    const result = parseJob(JSON.stringify(valid));
    assert.ok(result.ok);
    assert.equal(result.job.id, createHash('sha256').update('<abc123@mail.example.com>').digest('hex'));
    assert.deepEqual(result.job.attachments, []);
  });

  it('gives two publishes of one mail the same job id', () => {
    const a = parseJob(JSON.stringify(valid));
    const b = parseJob(Buffer.from(JSON.stringify({ ...valid, subject: 'other' })));
    assert.ok(a.ok && b.ok);
    assert.equal(a.job.id, b.job.id);
    assert.equal(a.job.id, jobIdFor(valid.messageId));
  });

  it('keeps an explicit id', () => {
    const r = parseJob(JSON.stringify({ ...valid, id: 'job-42' }));
    assert.ok(r.ok);
    assert.equal(r.job.id, 'job-42');
  });

  it('rejects invalid JSON with a permanent EW_ERR_JOB_INVALID', () => {
    const r = parseJob('{not json');
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'EW_ERR_JOB_INVALID');
    assert.equal(r.error.retryable, false);
    assert.match(r.error.message, /not valid JSON/);
  });

  for (const [label, patch, field] of [
    ['wrong version', { version: 2 }, 'version'],
    ['unknown field', { colour: 'red' }, '(root)'],
    ['bad sender', { from: 'not an address' }, 'from'],
    ['bad Message-ID', { messageId: 'abc' }, 'messageId'],
    ['bad export format', { export: { formats: ['exe'] } }, 'export.formats.0'],
    ['attachment without url or base64', { attachments: [{ name: 'a.txt' }] }, 'attachments.0'],
    ['attachment with a file: URL', { attachments: [{ name: 'a', url: 'file:///etc/passwd' }] }, 'attachments.0'],
    ['bad context', { context: 'batch' }, 'context'],
  ] as const) {
    it(`names the field for ${label}`, () => {
      const r = parseJob(JSON.stringify({ ...valid, ...patch }));
      assert.ok(!r.ok);
      assert.ok(r.error.message.includes(field), `${r.error.message} should name ${field}`);
    });
  }

  it('still reports the sender of an invalid job so it can be told', () => {
    const r = parseJob(JSON.stringify({ ...valid, messageId: 'broken', subject: 'S' }));
    assert.ok(!r.ok);
    assert.equal(r.sender, 'alice@example.com');
    assert.equal(r.subject, 'S');
    assert.equal(r.messageId, undefined);
  });

  it('does not report a sender that is not an address', () => {
    const r = parseJob(JSON.stringify({ version: 1, from: 'x\r\nBcc: evil@example.com' }));
    assert.ok(!r.ok);
    assert.equal(r.sender, undefined);
  });
});
