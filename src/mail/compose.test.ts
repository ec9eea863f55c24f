import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { composeReply, failureReply, newMessageId, parseMessageIds, replySubject, textToHtml, threadHeaders } from './compose.ts';

const base = {
  from: 'Ask <ask@mg.example.com>',
  messageId: '<reply-1@mg.example.com>',
  text: 'Hello',
};

describe('threadHeaders / composeReply threading (RFC 5322 §3.6.4)', () => {
  it('appends the parent Message-ID to the parent References', () => {
    const reply = composeReply({
      ...base,
      parent: { from: 'alice@example.com', subject: 'Q', messageId: '<p@example.com>', inReplyTo: '<b@example.com>', references: ['<a@example.com>', '<b@example.com>'] },
    });
    assert.equal(reply.inReplyTo, '<p@example.com>');
    assert.deepEqual(reply.references, ['<a@example.com>', '<b@example.com>', '<p@example.com>']);
    assert.equal(reply.headers['In-Reply-To'], '<p@example.com>');
    assert.equal(reply.headers['References'], '<a@example.com> <b@example.com> <p@example.com>');
  });

  it('uses the parent In-Reply-To followed by its Message-ID when the parent has no References', () => {
    const reply = composeReply({ ...base, parent: { from: 'alice@example.com', subject: 'Q', messageId: '<p@example.com>', inReplyTo: '<q@example.com>' } });
    assert.deepEqual(reply.references, ['<q@example.com>', '<p@example.com>']);
    assert.equal(reply.inReplyTo, '<p@example.com>');
  });

  it('uses only the parent Message-ID when the parent In-Reply-To holds several ids', () => {
    const { references } = threadHeaders({ messageId: '<p@x>', inReplyTo: '<q@x> <r@x>' });
    assert.deepEqual(references, ['<p@x>']);
  });

  it('sets no In-Reply-To and no References for a parent without any ids', () => {
    const reply = composeReply({ ...base, parent: { from: 'alice@example.com', subject: 'Q' } });
    assert.equal(reply.inReplyTo, undefined);
    assert.deepEqual(reply.references, []);
    assert.equal('In-Reply-To' in reply.headers, false);
    assert.equal('References' in reply.headers, false);
  });

  it('keeps the parent References when the parent has no Message-ID', () => {
    const { inReplyTo, references } = threadHeaders({ references: ['<a@x>'] });
    assert.equal(inReplyTo, undefined);
    assert.deepEqual(references, ['<a@x>']);
  });

  it('deduplicates ids, keeps their first order and puts the parent id last', () => {
    const { references } = threadHeaders({ messageId: '<p@x>', references: ['<a@x>', '<p@x>', '<b@x>', '<a@x>', '<b@x> <c@x>'] });
    assert.deepEqual(references, ['<a@x>', '<b@x>', '<c@x>', '<p@x>']);
  });

  it('normalises bare ids to angle brackets and drops junk', () => {
    assert.deepEqual(parseMessageIds('a@x b@y'), ['<a@x>', '<b@y>']);
    assert.deepEqual(parseMessageIds('(comment) <a@x>, <b@y>'), ['<a@x>', '<b@y>']);
    assert.deepEqual(parseMessageIds('not an id'), []);
  });

  it('trims a very long References to one header line, keeping the thread root and the newest ids', () => {
    const ids = Array.from({ length: 60 }, (_, i) => `<message-${String(i).padStart(3, '0')}-0123456789@example.com>`);
    const { references } = threadHeaders({ messageId: '<parent@example.com>', references: ids });
    assert.ok(`References: ${references.join(' ')}`.length <= 998);
    assert.equal(references[0], ids[0]);
    assert.equal(references.at(-1), '<parent@example.com>');
    assert.equal(references.at(-2), ids.at(-1));
    assert.ok(references.length < 61);
  });
});

describe('replySubject', () => {
  const cases: Array<[string, string]> = [
    ['Question', 'Re: Question'],
    ['Re: Question', 'Re: Question'],
    ['RE: Question', 'Re: Question'],
    ['re:Question', 'Re: Question'],
    ['Re: Re: RE: Question', 'Re: Question'],
    ['Re[2]: Question', 'Re: Question'],
    ['Re(3): Re^2: Question', 'Re: Question'],
    ['AW: Frage', 'Re: Frage'],
    ['SV: Re: Fråga', 'Re: Fråga'],
    ['回复：问题', 'Re: 问题'],
    ['Fwd: Report', 'Re: Fwd: Report'],
    ['Re: Fwd: Re: Report', 'Re: Fwd: Re: Report'],
    ['Regarding the invoice', 'Re: Regarding the invoice'],
    ['', 'Re: (no subject)'],
    ['Re:', 'Re: (no subject)'],
  ];
  for (const [subject, expected] of cases) {
    it(`turns ${JSON.stringify(subject)} into ${JSON.stringify(expected)}`, () => {
      assert.equal(replySubject(subject), expected);
    });
  }
});

describe('composeReply', () => {
  it('marks the reply Auto-Submitted: auto-replied', () => {
    const reply = composeReply({ ...base, parent: { from: 'alice@example.com', subject: 'Q' } });
    assert.equal(reply.headers['Auto-Submitted'], 'auto-replied');
  });

  it('addresses the parent sender, from MAIL_FROM, under our own Message-ID', () => {
    const reply = composeReply({ ...base, parent: { from: 'Alice <alice@example.com>', subject: 'Q', messageId: '<p@x>' } });
    assert.equal(reply.to, '"Alice" <alice@example.com>');
    assert.equal(reply.from, 'Ask <ask@mg.example.com>');
    assert.equal(reply.messageId, '<reply-1@mg.example.com>');
  });

  it('strips CR/LF from every header value taken from the parent mail', () => {
    const reply = composeReply({
      ...base,
      parent: {
        from: 'alice@example.com\r\n',
        subject: 'Hi\r\nBcc: victim@example.org\nX-Evil: 1',
        messageId: '<p@x>\r\nX-Injected: yes',
        inReplyTo: '<q@x>\nX-Injected: yes',
        references: ['<a@x>\r\nX-Injected: yes'],
      },
    });
    const values = [reply.to, reply.from, reply.subject, reply.messageId, reply.inReplyTo ?? '', ...reply.references, ...Object.values(reply.headers)];
    for (const value of values) assert.doesNotMatch(value, /[\r\n]/, `header value ${JSON.stringify(value)}`);
    assert.equal(reply.inReplyTo, '<p@x>');
    assert.deepEqual(reply.references, ['<a@x>', '<p@x>']);
  });

  it('replies to exactly one mailbox: a list, a group or an injected Bcc in From adds no recipient', () => {
    const reply = (from: string) => composeReply({ ...base, parent: { from, subject: 'Q' } }).to;
    assert.equal(reply('"Smith, Bob" <bob@example.com>, carol@example.com'), '"Smith, Bob" <bob@example.com>');
    assert.equal(reply('=?UTF-8?Q?J=C3=B6rg?= <j@example.de>'), 'j@example.de');
    assert.throws(() => reply('alice@example.com\r\nBcc: victim@example.org'), { code: 'EW_ERR_INVALID_ARGUMENT', retryable: false });
    assert.throws(() => reply('Group: a@example.com, b@example.com;'), { code: 'EW_ERR_INVALID_ARGUMENT' });
    assert.throws(() => reply('not an address'), { code: 'EW_ERR_INVALID_ARGUMENT' });
  });

  it('renders the text as escaped HTML when no html is given', () => {
    const reply = composeReply({ ...base, text: 'a <script>alert("x")</script> & b\n\nsecond', parent: { from: 'alice@example.com', subject: 'Q' } });
    assert.doesNotMatch(reply.html, /<script>/);
    assert.match(reply.html, /a &lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt; &amp; b/);
    assert.match(reply.html, /<p>second<\/p>/);
  });

  it('keeps a given html body as is', () => {
    const reply = composeReply({ ...base, html: '<p><b>hi</b></p>', parent: { from: 'alice@example.com', subject: 'Q' } });
    assert.equal(reply.html, '<p><b>hi</b></p>');
  });

  it('rejects a Message-ID that is not one', () => {
    assert.throws(() => composeReply({ ...base, messageId: 'nope', parent: { from: 'a@x', subject: 'Q' } }), TypeError);
  });
});

describe('textToHtml', () => {
  it('turns single line breaks into <br> inside one paragraph', () => {
    assert.match(textToHtml('one\ntwo'), /<p>one<br>\ntwo<\/p>/);
  });
});

describe('newMessageId', () => {
  it('returns a unique <uuid@domain> on the given domain', () => {
    const a = newMessageId('mg.example.com');
    const b = newMessageId('mg.example.com');
    assert.match(a, /^<[0-9a-f-]{36}@mg\.example\.com>$/);
    assert.notEqual(a, b);
  });

  it('refuses a value that is not a domain name', () => {
    assert.throws(() => newMessageId('mg.example.com>\r\nX-Evil: 1'), TypeError);
  });
});

describe('failureReply', () => {
  const secret = 'key-3f9a1c2b7d8e4f60a1b2c3d4e5f60718';
  const parent = { from: 'alice@example.com', subject: `Help (${secret})`, messageId: '<p@example.com>' };

  it('never contains a secret from the error text, the subject or a Basic credential', () => {
    const reply = failureReply({
      parent,
      from: 'ask@mg.example.com',
      messageId: '<f-1@mg.example.com>',
      reason: `Mailgun said 401 for api:${secret} (Authorization: Basic ${Buffer.from(`api:${secret}`).toString('base64')})`,
      secrets: [secret],
    });
    for (const text of [reply.text, reply.html, reply.subject, ...Object.values(reply.headers)]) {
      assert.ok(!text.includes(secret), `secret in ${JSON.stringify(text)}`);
      assert.ok(!text.includes(Buffer.from(`api:${secret}`).toString('base64')));
    }
  });

  it('keeps only the first line of the reason: no stack trace reaches the sender', () => {
    const reply = failureReply({
      parent,
      from: 'ask@mg.example.com',
      messageId: '<f-1@mg.example.com>',
      reason: 'the answering service was unavailable\n    at send (/app/src/mail/mailgun.ts:10:5)\n    at retry (/app/src/resilience/retry.ts:1:1)',
      secrets: [],
    });
    assert.match(reply.text, /We could not answer your message .*: the answering service was unavailable\./);
    assert.doesNotMatch(reply.text, /mailgun\.ts|\bat send\b/);
  });

  it('is threaded and marked like any reply', () => {
    const reply = failureReply({ parent, from: 'ask@mg.example.com', messageId: '<f-1@mg.example.com>', reason: 'x', secrets: [] });
    assert.equal(reply.inReplyTo, '<p@example.com>');
    assert.equal(reply.headers['Auto-Submitted'], 'auto-replied');
    assert.match(reply.subject, /^Re: Help/);
  });
});
