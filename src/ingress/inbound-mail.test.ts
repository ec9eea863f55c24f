import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isWorkerError } from '../errors.ts';
import { jobIdFor } from '../jobs/schema.ts';
import { MAX_JOB_BYTES, exportFormatsFrom, inboundMail, singleSender } from './inbound-mail.ts';

const rejects = (fn: () => unknown, reason: RegExp) =>
  assert.throws(fn, (e: unknown) => isWorkerError(e) && e.code === 'EW_ERR_INBOUND_REJECTED' && reason.test(e.message));

test('singleSender accepts one mailbox in its common shapes and refuses lists, line breaks and junk', () => {
  assert.equal(singleSender('alice@example.com'), 'alice@example.com');
  assert.equal(singleSender('Alice Example <Alice@Example.com>'), 'alice@example.com');
  assert.equal(singleSender('"Example, Alice" <alice@example.com>'), 'alice@example.com');
  rejects(() => singleSender('a@example.com, b@example.com'), /exactly one address, found 2/);
  rejects(() => singleSender('a@example.com\r\nBcc: x@example.com'), /line break/);
  rejects(() => singleSender('undisclosed-recipients:;'), /exactly one address|not usable/);
  rejects(() => singleSender(''), /no From/);
});

test('export formats come from the plus tag of the recipient', () => {
  assert.deepEqual(exportFormatsFrom('ask+pdf@mg.example.com'), ['pdf']);
  assert.deepEqual(exportFormatsFrom('ask+docx.html.pdf@mg.example.com'), ['pdf', 'docx', 'html']);
  assert.deepEqual(exportFormatsFrom('ask@mg.example.com'), []);
  assert.deepEqual(exportFormatsFrom('ask+exe@mg.example.com'), []);
});

const fields = (overrides: Record<string, string> = {}) => ({
  from: 'Alice <alice@example.com>',
  recipient: 'ask@mg.example.com',
  subject: 'Q\r\nBcc: x@example.com',
  'body-plain': 'What is it?',
  'message-headers': JSON.stringify([['Message-Id', '<m1@example.com>'], ['In-Reply-To', '<p@example.com>'], ['References', '<root@example.com> <p@example.com>'], ['X-Custom', 'kept out'], ['Precedence', 'normal']]),
  ...overrides,
});

test('a store() post becomes a job: id from the Message-ID, threading, single-line subject, loop headers only', () => {
  const mail = inboundMail(fields(), [], { inlineMaxBytes: 1000 });
  assert.equal(mail.job.id, jobIdFor('<m1@example.com>'));
  assert.equal(mail.job.inReplyTo, '<p@example.com>');
  assert.deepEqual(mail.job.references, ['<root@example.com>', '<p@example.com>']);
  assert.equal(mail.job.subject, 'QBcc: x@example.com');
  assert.deepEqual(mail.job.headers, { precedence: 'normal' });
  assert.equal(mail.threadKey, '<root@example.com>');
});

test('without a Message-ID the id is a hash of the raw headers: the same post gives the same id', () => {
  const noId = fields({ 'message-headers': JSON.stringify([['From', 'alice@example.com'], ['Date', 'Tue, 1 Dec 2026 10:00:00 +0000']]) });
  const a = inboundMail(noId, [], { inlineMaxBytes: 0 });
  const b = inboundMail(noId, [], { inlineMaxBytes: 0 });
  assert.equal(a.job.id, b.job.id);
  assert.match(a.job.messageId, /@no-message-id\.invalid>$/);
  rejects(() => inboundMail(fields({ 'message-headers': '[]' }), [], { inlineMaxBytes: 0 }), /no Message-ID/);
});

test('forward() files are inlined up to the total limit; the rest become notes for the reply', () => {
  const files = [
    { name: 'a.txt', contentType: 'text/plain', size: 600, data: Buffer.alloc(600, 97) },
    { name: 'b.txt', contentType: 'text/plain', size: 600, data: Buffer.alloc(600, 98) },
    { name: 'c.bin', contentType: 'application/octet-stream', size: 9000 },
  ];
  const mail = inboundMail(fields(), files, { inlineMaxBytes: 1000 });
  assert.deepEqual(mail.job.attachments.map((a) => a.name), ['a.txt']);
  assert.equal(mail.job.notes?.length, 2);
  assert.match(mail.job.notes![0]!, /"b\.txt".*not received/);
});

test('store() attachments: URLs kept, a list that is not JSON is refused', () => {
  const mail = inboundMail(fields({ attachments: JSON.stringify([{ url: 'https://storage.mailgun.net/v3/x/0', name: 'r.pdf', 'content-type': 'application/pdf', size: 10 }]) }), [], { inlineMaxBytes: 0 });
  assert.deepEqual(mail.job.attachments, [{ name: 'r.pdf', url: 'https://storage.mailgun.net/v3/x/0', contentType: 'application/pdf', size: 10 }]);
  rejects(() => inboundMail(fields({ attachments: '{' }), [], { inlineMaxBytes: 0 }), /attachments is not JSON/);
});

test('a job that would not fit one Pub/Sub message drops its largest inline attachments to notes', () => {
  const mb = 1024 * 1024;
  const files = [
    { name: 'small.txt', contentType: 'text/plain', size: mb, data: Buffer.alloc(mb, 1) },
    { name: 'big.bin', contentType: 'application/octet-stream', size: 5 * mb, data: Buffer.alloc(5 * mb, 2) },
    { name: 'mid.bin', contentType: 'application/octet-stream', size: 3 * mb, data: Buffer.alloc(3 * mb, 3) },
  ];
  const mail = inboundMail(fields(), files, { inlineMaxBytes: 20 * mb });
  assert.deepEqual(mail.job.attachments.map((a) => a.name), ['small.txt', 'mid.bin']);
  assert.match(mail.job.notes!.join(' '), /"big\.bin" \(5\.0 MiB\) was not received: it did not fit/);
  assert.ok(Buffer.byteLength(JSON.stringify(mail.job)) <= MAX_JOB_BYTES);
});
