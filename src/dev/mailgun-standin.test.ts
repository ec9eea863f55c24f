import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMailgunStandin, type MailgunStandin, type MailgunStandinOptions } from './mailgun-standin.ts';

const KEY = 'key-standin-test-0123456789';
const auth = (key = KEY) => `Basic ${Buffer.from(`api:${key}`).toString('base64')}`;

let standin: MailgunStandin | undefined;
afterEach(async () => {
  await standin?.close();
  standin = undefined;
});

async function start(options: MailgunStandinOptions = {}) {
  standin = await startMailgunStandin({ apiKey: KEY, ...options });
  return standin;
}

function form(extra: Record<string, string> = {}): FormData {
  const f = new FormData();
  f.append('from', 'ask@mg.example.com');
  f.append('to', 'Alice <alice@example.com>');
  f.append('subject', 'Re: Q');
  f.append('text', 'Hello');
  f.append('h:Message-Id', '<r-1@mg.example.com>');
  f.append('h:In-Reply-To', '<p@example.com>');
  for (const [k, v] of Object.entries(extra)) f.append(k, v);
  return f;
}

const post = (s: MailgunStandin, body: FormData, key = KEY) =>
  fetch(`${s.url}/v3/mg.example.com/messages`, { method: 'POST', headers: { authorization: auth(key) }, body });

describe('Mailgun stand-in: POST /v3/:domain/messages', () => {
  it('accepts a multipart message and records its fields, h: headers and attachments', async () => {
    const s = await start();
    const body = form();
    body.append('attachment', new Blob([Buffer.alloc(1234, 7)], { type: 'application/pdf' }), 'answer.pdf');
    const res = await post(s, body);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { id: '<r-1@mg.example.com>', message: 'Queued. Thank you.' });
    assert.equal(s.messages.length, 1);
    const m = s.messages[0]!;
    assert.equal(m.domain, 'mg.example.com');
    assert.equal(m.fields.subject, 'Re: Q');
    assert.equal(m.fields.to, 'Alice <alice@example.com>');
    assert.equal(m.headers['In-Reply-To'], '<p@example.com>');
    assert.deepEqual(
      m.attachments.map((a) => ({ filename: a.filename, size: a.size, contentType: a.contentType })),
      [{ filename: 'answer.pdf', size: 1234, contentType: 'application/pdf' }],
    );
  });

  it('answers 401 Forbidden to a wrong API key and stores nothing', async () => {
    const s = await start();
    const res = await post(s, form(), 'key-wrong');
    assert.equal(res.status, 401);
    assert.equal(await res.text(), 'Forbidden');
    assert.equal(s.messages.length, 0);
  });

  it('answers 400 with Mailgun\'s message when a required field is missing', async () => {
    const s = await start();
    const body = new FormData();
    body.append('from', 'ask@mg.example.com');
    body.append('text', 'x');
    const res = await post(s, body);
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { message: "'to' parameter is missing" });
  });

  it('plays a queued status once, then answers normally', async () => {
    const s = await start();
    s.enqueue({ kind: 'status', status: 503 });
    assert.equal((await post(s, form())).status, 503);
    assert.equal(s.messages.length, 0);
    assert.equal((await post(s, form())).status, 200);
    assert.equal(s.messages.length, 1);
    assert.deepEqual(s.requests.map((r) => r.outcome), [503, 200]);
  });

  it('destroys the socket on reset and stores nothing', async () => {
    const s = await start();
    s.enqueue({ kind: 'reset' });
    await assert.rejects(post(s, form()));
    assert.equal(s.messages.length, 0);
    assert.equal(s.requests[0]!.outcome, 'reset');
  });

  it('stores the message before answering on accept-then-hang, and close() does not wait for the answer', async () => {
    const s = await start();
    s.enqueue({ kind: 'accept-then-hang', ms: 60_000 });
    const pending = post(s, form()).then(
      () => 'answered',
      () => 'dropped',
    );
    while (s.messages.length === 0) await new Promise((r) => setTimeout(r, 5));
    assert.equal(s.requests[0]!.outcome, 'pending');
    await s.close();
    standin = undefined;
    assert.equal(await pending, 'dropped');
  });

  it('writes each accepted message as .eml to saveDir', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'standin-save-'));
    try {
      const s = await start({ saveDir: dir });
      await post(s, form());
      const eml = await readFile(s.messages[0]!.path!, 'utf8');
      assert.match(eml, /^Message-ID: <r-1@mg\.example\.com>\r$/m);
      assert.match(eml, /^In-Reply-To: <p@example\.com>\r$/m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

interface EventItem {
  event: string;
  recipient: string;
  message: { headers: Record<string, string> };
}

describe('Mailgun stand-in: GET /v3/:domain/events', () => {
  const events = (s: MailgunStandin, query: string) =>
    fetch(`${s.url}/v3/mg.example.com/events?${query}`, { headers: { authorization: auth() } }).then(async (r) => ({ status: r.status, body: (await r.json()) as { items: EventItem[]; paging: Record<string, string> } }));

  it('lists the accepted event of a message by its Message-ID, without angle brackets', async () => {
    const s = await start();
    await post(s, form());
    const { status, body } = await events(s, 'message-id=r-1%40mg.example.com&event=accepted');
    assert.equal(status, 200);
    assert.equal(body.items.length, 1);
    assert.equal(body.items[0]!.event, 'accepted');
    assert.equal(body.items[0]!.message.headers['message-id'], 'r-1@mg.example.com');
    assert.equal(body.items[0]!.recipient, 'alice@example.com');
    for (const key of ['first', 'last', 'next', 'previous']) assert.match(body.paging[key]!, /^http:\/\/127\.0\.0\.1:\d+\/v3\/mg\.example\.com\/events\//);
  });

  it('returns no items for an unknown Message-ID', async () => {
    const s = await start();
    await post(s, form());
    const { body } = await events(s, 'message-id=other%40mg.example.com');
    assert.deepEqual(body.items, []);
  });

  it('pages through results with the paging URLs it returns', async () => {
    const s = await start();
    for (let i = 0; i < 3; i++) await post(s, form({ 'h:Message-Id': `<m-${i}@x>` }));
    const first = await events(s, 'limit=2');
    assert.equal(first.body.items.length, 2);
    const next = await fetch(first.body.paging.next!, { headers: { authorization: auth() } }).then((r) => r.json() as Promise<{ items: unknown[] }>);
    assert.equal(next.items.length, 1);
  });

  it('hides accepted events until eventsLagMs has passed', async () => {
    const s = await start({ eventsLagMs: 80 });
    await post(s, form());
    assert.equal((await events(s, 'message-id=r-1%40mg.example.com')).body.items.length, 0);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await events(s, 'message-id=r-1%40mg.example.com')).body.items.length, 1);
  });

  it('plays scenarios queued for the events route on events requests only', async () => {
    const s = await start();
    s.enqueue({ kind: 'status', status: 500, route: 'events' });
    assert.equal((await post(s, form())).status, 200);
    assert.equal((await events(s, 'event=accepted')).status, 500);
    assert.equal((await events(s, 'event=accepted')).status, 200);
  });
});
