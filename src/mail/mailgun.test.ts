import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { startMailgunStandin, type MailgunStandin } from '../dev/mailgun-standin.ts';
import { composeReply } from './compose.ts';
import { classifyMailgunError, createMailgunTransport } from './mailgun.ts';
import { createTransport } from './transport.ts';
import { rejection as failure } from '../../test/helpers/worker-error.ts';

const KEY = 'key-mailgun-test-5f0c2a9d81e34b7a';
const DOMAIN = 'mg.example.com';

let standin: MailgunStandin | undefined;
afterEach(async () => {
  await standin?.close();
  standin = undefined;
});

async function setup(apiKey = KEY) {
  standin = await startMailgunStandin({ apiKey: KEY });
  return { standin, transport: createMailgunTransport({ apiKey, domain: DOMAIN, url: standin.url }) };
}

const reply = (messageId = '<r-1@mg.example.com>') =>
  composeReply({
    parent: { from: 'Alice <alice@example.com>', subject: 'Question', messageId: '<p@example.com>', references: ['<root@example.com>'] },
    from: 'Ask <ask@mg.example.com>',
    messageId,
    text: 'The answer',
    attachments: [{ filename: 'answer.pdf', content: Buffer.alloc(2048, 1), contentType: 'application/pdf' }],
  });

const live = () => new AbortController().signal;


describe('createMailgunTransport.send (mailgun.js against the stand-in)', () => {
  it('sends the composed reply with our Message-ID, thread headers and attachments', async () => {
    const { standin, transport } = await setup();
    const result = await transport.send(reply(), { signal: live() });
    assert.deepEqual(result, { id: '<r-1@mg.example.com>', status: 'sent' });
    assert.equal(standin.messages.length, 1);
    const m = standin.messages[0]!;
    assert.equal(m.fields.to, '"Alice" <alice@example.com>');
    assert.equal(m.fields.subject, 'Re: Question');
    assert.equal(m.fields.text, 'The answer');
    assert.match(m.fields.html!, /<p>The answer<\/p>/);
    assert.equal(m.headers['Message-Id'], '<r-1@mg.example.com>');
    assert.equal(m.headers['In-Reply-To'], '<p@example.com>');
    assert.equal(m.headers['References'], '<root@example.com> <p@example.com>');
    assert.equal(m.headers['Auto-Submitted'], 'auto-replied');
    assert.deepEqual(
      m.attachments.map((a) => [a.filename, a.contentType, a.size]),
      [['answer.pdf', 'application/pdf', 2048]],
    );
  });

  it('classifies 401 as permanent and never puts the API key in the error', async () => {
    const wrongKey = 'key-wrong-0000000000000000000000';
    const { standin, transport } = await setup(wrongKey);
    const error = await failure(transport.send(reply(), { signal: live() }));
    assert.equal(error.code, 'EW_ERR_SEND_REJECTED');
    assert.equal(error.retryable, false);
    assert.equal(error.status, 401);
    assert.ok(!JSON.stringify(error.toJSON()).includes(wrongKey));
    assert.ok(!error.message.includes(wrongKey));
    assert.equal(standin.messages.length, 0);
  });

  it('classifies a real 400 as permanent, with Mailgun\'s explanation', async () => {
    const { standin, transport } = await setup();
    standin.enqueue({ kind: 'status', status: 400, message: "'to' parameter is not a valid address" });
    const error = await failure(transport.send(reply(), { signal: live() }));
    assert.equal(error.code, 'EW_ERR_SEND_REJECTED');
    assert.equal(error.retryable, false);
    assert.equal(error.status, 400);
    assert.match(error.message, /not a valid address/);
  });

  for (const status of [429, 500, 503]) {
    it(`classifies ${status} as retryable`, async () => {
      const { standin, transport } = await setup();
      standin.enqueue({ kind: 'status', status });
      const error = await failure(transport.send(reply(), { signal: live() }));
      assert.equal(error.code, 'EW_ERR_UPSTREAM_HTTP');
      assert.equal(error.retryable, true);
      assert.equal(error.status, status);
    });
  }

  it('classifies a connection reset (reported by mailgun.js as status 400) as a retryable unknown outcome', async () => {
    const { standin, transport } = await setup();
    standin.enqueue({ kind: 'reset' });
    const error = await failure(transport.send(reply(), { signal: live() }));
    assert.equal(error.code, 'EW_ERR_SEND_OUTCOME_UNKNOWN');
    assert.equal(error.retryable, true);
    assert.equal(error.details.networkCode, 'ECONNRESET');
  });

  it('classifies a refused connection as a retryable network error: nothing can have been sent', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const transport = createMailgunTransport({ apiKey: KEY, domain: DOMAIN, url: `http://127.0.0.1:${port}` });
    const error = await failure(transport.send(reply(), { signal: live() }));
    assert.equal(error.code, 'EW_ERR_NETWORK');
    assert.equal(error.retryable, true);
    assert.equal(error.details.networkCode, 'ECONNREFUSED');
  });

  it('stops waiting when the attempt signal aborts, before Mailgun answers', async () => {
    const { standin, transport } = await setup();
    standin.enqueue({ kind: 'accept-then-hang', ms: 30_000 });
    const controller = new AbortController();
    const sending = transport.send(reply(), { signal: controller.signal, timeoutMs: 30_000 });
    while (standin.messages.length === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort(new Error('attempt timeout'));
    const error = await failure(sending);
    assert.equal(error.code, 'EW_ERR_SEND_OUTCOME_UNKNOWN');
    assert.equal(standin.requests[0]!.outcome, 'pending');
  });

  it('ends the request itself after timeoutMs (mailgun.js client timeout per attempt)', async () => {
    const { standin, transport } = await setup();
    standin.enqueue({ kind: 'accept-then-hang', ms: 30_000 });
    const error = await failure(transport.send(reply(), { signal: live(), timeoutMs: 50 }));
    assert.equal(error.code, 'EW_ERR_SEND_OUTCOME_UNKNOWN');
    assert.equal(error.details.networkCode, 'ECONNABORTED');
  });

  it('does not send when the signal is already aborted', async () => {
    const { standin, transport } = await setup();
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    await failure(transport.send(reply(), { signal: controller.signal }));
    assert.equal(standin.requests.length, 0);
  });

  it('fails permanently when an attachment file cannot be read', async () => {
    const { standin, transport } = await setup();
    const r = { ...reply(), attachments: [{ filename: 'x.pdf', path: '/nonexistent/x.pdf', contentType: 'application/pdf' }] };
    const error = await failure(transport.send(r, { signal: live() }));
    assert.equal(error.retryable, false);
    assert.equal(standin.requests.length, 0);
  });
});

describe('createMailgunTransport.wasAccepted (events API)', () => {
  it('is false for a Message-ID Mailgun never accepted and true once it did, with or without brackets', async () => {
    const { transport } = await setup();
    assert.equal(await transport.wasAccepted('<r-9@mg.example.com>'), false);
    await transport.send(reply('<r-9@mg.example.com>'), { signal: live() });
    assert.equal(await transport.wasAccepted('<r-9@mg.example.com>'), true);
    assert.equal(await transport.wasAccepted('r-9@mg.example.com'), true);
  });

  it('queries the events API by message-id without angle brackets', async () => {
    const { standin, transport } = await setup();
    await transport.wasAccepted('<r-9@mg.example.com>');
    const url = new URL(standin.requests[0]!.path, standin.url);
    assert.equal(url.pathname, `/v3/${DOMAIN}/events`);
    assert.equal(url.searchParams.get('message-id'), 'r-9@mg.example.com');
    assert.equal(url.searchParams.get('event'), 'accepted');
  });

  it('throws a retryable error when the events API fails, rather than answering false', async () => {
    const { standin, transport } = await setup();
    standin.enqueue({ kind: 'status', status: 503, route: 'events' });
    const error = await failure(transport.wasAccepted('<r-9@mg.example.com>'));
    assert.equal(error.retryable, true);
    assert.equal(error.status, 503);
  });
});

describe('classifyMailgunError', () => {
  it('treats a status-400 error with no code but a socket message as a network failure', () => {
    const error = classifyMailgunError({ type: 'MailgunAPIError', status: 400, message: '', details: 'socket hang up' }, { kind: 'send', operation: 'mailgun.send' });
    assert.equal(error.code, 'EW_ERR_SEND_OUTCOME_UNKNOWN');
    assert.equal(error.retryable, true);
  });

  it('treats a status-400 error with an empty message and a body as a real bad request', () => {
    const error = classifyMailgunError({ type: 'MailgunAPIError', status: 400, message: '', details: "'from' parameter is missing" }, { kind: 'send', operation: 'mailgun.send' });
    assert.equal(error.code, 'EW_ERR_SEND_REJECTED');
    assert.equal(error.retryable, false);
  });

  it('cuts the API key out of every text it keeps', () => {
    const key = 'key-0123456789abcdef';
    const error = classifyMailgunError({ type: 'MailgunAPIError', status: 500, message: 'x', details: `bad key ${key}` }, { kind: 'send', operation: 'mailgun.send', apiKey: key });
    assert.ok(!error.message.includes(key));
  });
});

describe('createTransport', () => {
  it('uses Mailgun when an API key is set and the outbox otherwise', () => {
    assert.equal(createTransport({ mailgunApiKey: KEY, mailgunDomain: DOMAIN, outboxDir: '/tmp/x' }).kind, 'mailgun');
    assert.equal(createTransport({ mailgunDomain: DOMAIN, outboxDir: '/tmp/x' }).kind, 'outbox');
    assert.equal(createTransport({ mailgunApiKey: '', mailgunDomain: DOMAIN, outboxDir: '/tmp/x' }).kind, 'outbox');
  });
});
