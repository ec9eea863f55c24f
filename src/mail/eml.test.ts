import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { composeReply } from './compose.ts';
import { toEml } from './eml.ts';
import { decodeBody, header, leaves, parseMime } from './mime-test-helper.ts';

const parent = {
  from: 'Alice <alice@example.com>',
  subject: 'Größe des Berichts',
  messageId: '<p@example.com>',
  references: Array.from({ length: 8 }, (_, i) => `<thread-${i}-aaaaaaaaaaaaaaaa@example.com>`),
};

describe('toEml', () => {
  it('keeps our Message-ID and the thread and loop headers exactly', async () => {
    const reply = composeReply({ parent, from: 'ask@mg.example.com', messageId: '<r-1@mg.example.com>', text: 'Hello' });
    const mail = parseMime((await toEml(reply)).toString('utf8'));
    assert.equal(header(mail, 'message-id'), '<r-1@mg.example.com>');
    assert.equal(header(mail, 'in-reply-to'), '<p@example.com>');
    assert.equal(header(mail, 'references'), reply.references.join(' '));
    assert.equal(header(mail, 'auto-submitted'), 'auto-replied');
    assert.equal(header(mail, 'x-auto-response-suppress'), 'All');
    assert.equal(header(mail, 'to'), 'Alice <alice@example.com>');
    assert.equal(header(mail, 'from'), 'ask@mg.example.com');
    assert.equal(header(mail, 'mime-version'), '1.0');
    // Non-ASCII subject as an RFC 2047 encoded word.
    assert.match(header(mail, 'subject') ?? '', /^=\?UTF-8\?Q\?Re=3A_Gr=C3=B6=C3=9Fe/i);
  });

  it('folds long header lines at whitespace and uses CRLF line ends throughout', async () => {
    const reply = composeReply({ parent, from: 'ask@mg.example.com', messageId: '<r-1@mg.example.com>', text: 'line one\nline two' });
    const raw = (await toEml(reply)).toString('utf8');
    assert.doesNotMatch(raw, /[^\r]\n/, 'a bare LF');
    const mail = parseMime(raw);
    const references = mail.rawHeaders.find((h) => h.startsWith('References:'))!;
    assert.ok(references.includes('\r\n '), 'References is folded');
    for (const line of references.split('\r\n')) assert.ok(line.length <= 78, `line of ${line.length}: ${line}`);
  });

  it('is multipart/alternative with text and html parts when there are no attachments', async () => {
    const reply = composeReply({ parent, from: 'ask@mg.example.com', messageId: '<r-1@mg.example.com>', text: 'Grüße & <tags>' });
    const mail = parseMime((await toEml(reply)).toString('utf8'));
    assert.match(header(mail, 'content-type') ?? '', /^multipart\/alternative;/);
    assert.deepEqual(
      mail.parts.map((p) => (header(p, 'content-type') ?? '').split(';')[0]),
      ['text/plain', 'text/html'],
    );
    assert.equal(decodeBody(mail.parts[0]!).toString('utf8'), 'Grüße & <tags>');
    assert.match(decodeBody(mail.parts[1]!).toString('utf8'), /Grüße &amp; &lt;tags&gt;/);
  });

  it('wraps the alternative part and the attachments in multipart/mixed', async () => {
    const pdf = Buffer.from('%PDF-1.7\n\u0000\u0001binary\n');
    const reply = composeReply({
      parent,
      from: 'ask@mg.example.com',
      messageId: '<r-1@mg.example.com>',
      text: 'See attached',
      attachments: [{ filename: 'answer.pdf', content: pdf, contentType: 'application/pdf' }],
    });
    const mail = parseMime((await toEml(reply)).toString('utf8'));
    assert.match(header(mail, 'content-type') ?? '', /^multipart\/mixed;/);
    assert.match(header(mail.parts[0]!, 'content-type') ?? '', /^multipart\/alternative;/);
    const attachment = mail.parts[1]!;
    assert.match(header(attachment, 'content-type') ?? '', /^application\/pdf/);
    assert.match(header(attachment, 'content-disposition') ?? '', /^attachment; filename=answer\.pdf/);
    assert.deepEqual(decodeBody(attachment), pdf);
    assert.equal(leaves(mail).length, 3);
  });

  it('reads an attachment from its path', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'eml-test-'));
    try {
      await writeFile(join(dir, 'a.txt'), 'file body');
      const reply = composeReply({
        parent,
        from: 'ask@mg.example.com',
        messageId: '<r-1@mg.example.com>',
        text: 'x',
        attachments: [{ filename: 'a.txt', path: join(dir, 'a.txt'), contentType: 'text/plain' }],
      });
      const mail = parseMime((await toEml(reply)).toString('utf8'));
      assert.equal(decodeBody(mail.parts[1]!).toString('utf8'), 'file body');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('writes no header line that a CR/LF in the parent mail tried to inject', async () => {
    const reply = composeReply({
      parent: { from: 'alice@example.com\r\n', subject: 'Hi\r\nX-Evil: 1', messageId: '<p@x>\r\nX-Injected: 1' },
      from: 'ask@mg.example.com',
      messageId: '<r-1@mg.example.com>',
      text: 'x',
    });
    const mail = parseMime((await toEml(reply)).toString('utf8'));
    assert.equal(mail.headers.has('bcc'), false);
    assert.equal(mail.headers.has('x-evil'), false);
    assert.equal(mail.headers.has('x-injected'), false);
  });
});
