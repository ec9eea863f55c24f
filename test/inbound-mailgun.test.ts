/**
 * POST /inbound/mailgun end to end: real worker (startApp) on the real Pub/Sub emulator, the
 * Mailgun stand-in (replies, and Mailgun's attachment storage with Basic auth), the Gemini
 * stand-in. Posts are built and signed exactly as Mailgun does (src/ingress/mailgun-post.ts).
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { jobIdFor } from '../src/jobs/schema.ts';
import { forwardPost, storePost, type RoutePostInput } from '../src/ingress/mailgun-post.ts';
import { startStack, type Stack } from './helpers/stack.ts';

const SIGNING_KEY = 'test-webhook-signing-key-0123456789';
const finished = (id: string) => (e: Record<string, unknown>) => e.message === 'Job finished: reply sent' && e.jobId === id;

function mail(overrides: Partial<RoutePostInput> = {}): RoutePostInput & { messageId: string } {
  return {
    signingKey: SIGNING_KEY,
    from: 'Alice Example <alice@example.com>',
    recipient: 'ask@mg.test.localhost',
    subject: 'Budget question',
    text: 'What is in the budget?',
    messageId: `<${randomUUID()}@mail.example.com>`,
    references: ['<root@mail.example.com>'],
    ...overrides,
  };
}

async function post(stack: Stack, body: URLSearchParams | FormData | string, headers: Record<string, string> = {}) {
  const res = await fetch(`${stack.app.url}/inbound/mailgun`, { method: 'POST', body, headers });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { status: res.status, json };
}

const start = (env: Record<string, string> = {}) => startStack({ env: { MAILGUN_WEBHOOK_SIGNING_KEY: SIGNING_KEY, TIMEOUT_SCALE: '0.05', ...env } });

describe('POST /inbound/mailgun', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });

  it('store(): a signed post is published, answers 200 with the job id, and is answered in the thread', async () => {
    stack = await start();
    const m = mail();
    const res = await post(stack, storePost(m));
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { id: jobIdFor(m.messageId) });
    await stack.waitForLog(finished(jobIdFor(m.messageId)));
    const reply = stack.mailgun.messages.at(-1)!;
    assert.equal(reply.fields.to, 'alice@example.com');
    assert.equal(reply.fields.subject, 'Re: Budget question');
    assert.equal(reply.headers['In-Reply-To'], m.messageId);
    assert.deepEqual(String(reply.headers.References).split(/\s+/), ['<root@mail.example.com>', m.messageId]);
    const metrics = await (await fetch(`${stack.app.url}/metrics`)).text();
    assert.match(metrics, /ingress_posts_total\{action="store",status="200"\} 1/);
  });

  it('refuses forged, unsigned, stale and replayed posts with 401 and publishes nothing', async () => {
    stack = await start();
    const forged = await post(stack, storePost(mail({ signingKey: 'not-the-key' })));
    assert.equal(forged.status, 401);
    assert.match(String(forged.json.message), /mismatch/);

    const unsigned = storePost(mail());
    unsigned.delete('signature');
    assert.equal((await post(stack, unsigned)).status, 401);

    const stale = await post(stack, storePost(mail({ timestamp: Math.floor(Date.now() / 1000) - 16 * 60 })));
    assert.equal(stale.status, 401);
    assert.match(String(stale.json.message), /stale/);

    const future = await post(stack, storePost(mail({ timestamp: Math.floor(Date.now() / 1000) + 10 * 60 })));
    assert.equal(future.status, 401);

    const body = storePost(mail());
    assert.equal((await post(stack, body)).status, 200);
    const replay = await post(stack, body);
    assert.equal(replay.status, 401);
    assert.match(String(replay.json.message), /replayed/);
    // Same token, other content: still a replay.
    const tampered = new URLSearchParams(body);
    tampered.set('subject', 'Something else');
    assert.equal((await post(stack, tampered)).status, 401);
  });

  it('store(): attachments are downloaded from Mailgun storage with Basic auth and reach the model', async () => {
    stack = await start();
    const url = stack.mailgun.storeAttachment('mg.test.localhost', { name: 'budget.txt', contentType: 'text/plain', data: Buffer.from('Travel: 1200 EUR; Hardware: 800 EUR') });
    const m = mail();
    assert.equal((await post(stack, storePost(m, [{ url, name: 'budget.txt', contentType: 'text/plain', size: 35 }]))).status, 200);
    await stack.waitForLog(finished(jobIdFor(m.messageId)));
    const download = stack.mailgun.requests.find((r) => r.route === 'storage');
    assert.equal(download?.outcome, 200, 'the storage URL was fetched with the Mailgun credentials');
    assert.match(JSON.stringify(stack.gemini.requests.at(-1)?.body), /Travel: 1200 EUR/);
    assert.doesNotMatch(String(stack.mailgun.messages.at(-1)!.fields.text), /skipped/);
  });

  it('forward(): small attachments are inlined, an oversize one is named in the reply as not received', async () => {
    stack = await start({ FORWARD_INLINE_MAX_BYTES: '1000' });
    const m = mail();
    const form = forwardPost(m, [
      { name: 'notes.txt', contentType: 'text/plain', data: Buffer.from('inline note: SSO docs are out of date') },
      { name: 'huge.bin', contentType: 'application/octet-stream', data: Buffer.alloc(5000, 1) },
    ]);
    assert.equal((await post(stack, form)).status, 200);
    await stack.waitForLog(finished(jobIdFor(m.messageId)));
    assert.match(JSON.stringify(stack.gemini.requests.at(-1)?.body), /SSO docs are out of date/);
    const text = String(stack.mailgun.messages.at(-1)!.fields.text);
    assert.match(text, /Attachment "huge\.bin" \(5 KiB\) was not received/);
    assert.match(text, /store\(\)/);
  });

  it('three posts of one mail (Mailgun retries, duplicate routes) become one job id and one reply', async () => {
    stack = await start();
    const m = mail();
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await post(stack, storePost(m))).json.id);
    assert.deepEqual(ids, Array(3).fill(jobIdFor(m.messageId)));
    await stack.waitForLog(finished(jobIdFor(m.messageId)));
    // The two other deliveries are refused by the ledger (done, or busy and then done).
    for (let seen = 0; seen < 2; ) {
      await sleep(100);
      seen = stack.logs.filter((e) => e.jobId === jobIdFor(m.messageId) && e.message === 'Job already finished; acknowledging duplicate delivery').length;
    }
    assert.equal(stack.mailgun.messages.filter((r) => r.headers['In-Reply-To'] === m.messageId).length, 1);
  });

  it('the loop guard drops auto-replies with 200 {ignored}: no model call, no reply', async () => {
    stack = await start();
    const m = mail({ subject: 'Automatic reply: Budget question', headers: [['Auto-Submitted', 'auto-replied'], ['X-Auto-Response-Suppress', 'All']] });
    const res = await post(stack, storePost(m));
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { ignored: ['auto-submitted', 'auto-response-suppress', 'out-of-office-subject'], id: jobIdFor(m.messageId) });
    const spam = await post(stack, storePost(mail({ headers: [['X-Mailgun-Sflag', 'Yes']] })));
    assert.deepEqual(spam.json.ignored, ['spam-flagged']);
    const bounce = await post(stack, storePost(mail({ from: 'MAILER-DAEMON@mx.example.net', headers: [['Return-Path', '<>'], ['Content-Type', 'multipart/report; report-type=delivery-status']] })));
    assert.deepEqual(bounce.json.ignored, ['empty-return-path', 'delivery-report', 'system-sender']);
    await sleep(300);
    assert.equal(stack.gemini.requests.length, 0);
    assert.equal(stack.mailgun.messages.length, 0);
    const metrics = await (await fetch(`${stack.app.url}/metrics`)).text();
    assert.match(metrics, /mail_ignored_total\{where="ingress",reason="auto-submitted"\} 1/);
  });

  it('a sender outside ALLOWED_SENDERS gets 406; an allowed domain passes', async () => {
    stack = await start({ ALLOWED_SENDERS: '@example.com, boss@partner.example' });
    const refused = await post(stack, storePost(mail({ from: 'mallory@evil.example' })));
    assert.equal(refused.status, 406);
    assert.match(String(refused.json.message), /sender-not-allowed/);
    assert.equal((await post(stack, storePost(mail({ from: 'boss@partner.example' })))).status, 200);
    assert.equal((await post(stack, storePost(mail()))).status, 200);
  });

  it('REQUIRE_SENDER_AUTH refuses a From that Mailgun could not authenticate', async () => {
    stack = await start({ REQUIRE_SENDER_AUTH: 'true' });
    assert.equal((await post(stack, storePost(mail({ headers: [['X-Mailgun-Spf', 'Fail'], ['X-Mailgun-Dkim-Check-Result', 'Fail']] })))).status, 406);
    assert.equal((await post(stack, storePost(mail({ headers: [['X-Mailgun-Spf', 'Fail'], ['X-Mailgun-Dkim-Check-Result', 'Pass']] })))).status, 200);
  });

  it('per-sender, per-thread and daily caps answer 200 {ignored} with the cap as reason', async () => {
    stack = await start({ REPLY_CAP_PER_SENDER: '2', REPLY_CAP_PER_THREAD: '3', DAILY_JOB_CAP: '5' });
    const fromAlice = () => post(stack!, storePost(mail({ references: [`<${randomUUID()}@t>`] })));
    assert.equal((await fromAlice()).json.id !== undefined, true);
    assert.equal((await fromAlice()).json.ignored, undefined);
    assert.deepEqual((await fromAlice()).json.ignored, ['sender-cap']);

    // Two bots answering each other: one thread, different senders.
    const thread = ['<loop-root@bots.example>'];
    const inThread = (from: string) => post(stack!, storePost(mail({ from, references: thread })));
    assert.equal((await inThread('bot1@bots.example')).json.ignored, undefined);
    assert.equal((await inThread('bot2@bots.example')).json.ignored, undefined);
    assert.equal((await inThread('bot3@bots.example')).json.ignored, undefined);
    assert.deepEqual((await inThread('bot4@bots.example')).json.ignored, ['thread-cap']);

    // Jobs so far: 2 (alice) + 3 (thread) = 5 = the daily cap.
    assert.deepEqual((await post(stack, storePost(mail({ from: 'carol@example.org' })))).json.ignored, ['daily-cap']);
    const metrics = await (await fetch(`${stack.app.url}/metrics`)).text();
    assert.match(metrics, /mail_ignored_total\{where="ingress",reason="sender-cap"\} 1/);
    assert.match(metrics, /mail_ignored_total\{where="ingress",reason="daily-cap"\} 1/);
  });

  it('a retry of the same post after it was capped stays one count (no double counting)', async () => {
    stack = await start({ REPLY_CAP_PER_SENDER: '1' });
    const m = mail();
    assert.equal((await post(stack, storePost(m))).status, 200);
    const again = await post(stack, storePost(m));
    assert.equal(again.status, 200);
    assert.equal(again.json.ignored, undefined, 'the same mail posted again is the same job, not a second reply');
  });

  it('malformed posts: 406 with the reason, 405, 415, 413', async () => {
    stack = await start({ INBOUND_STORE_MAX_BYTES: '4096' });
    const broken = storePost(mail());
    broken.set('message-headers', '{not json');
    const r1 = await post(stack, broken);
    assert.equal(r1.status, 406);
    assert.match(String(r1.json.message), /message-headers is not JSON/);

    const twoFrom = storePost(mail({ from: 'a@example.com, b@example.com' }));
    assert.equal((await post(stack, twoFrom)).status, 406);
    const crlf = storePost(mail());
    crlf.set('from', 'a@example.com\r\nBcc: victim@example.com');
    assert.equal((await post(stack, crlf)).status, 406);

    const brokenMultipart = await post(stack, '--xyz\r\nContent-Disposition: form-data; name="from"\r\n\r\nalice@example.com', { 'content-type': 'multipart/form-data; boundary=xyz' });
    assert.equal(brokenMultipart.status, 406);
    assert.match(String(brokenMultipart.json.message), /broken multipart/);

    assert.equal((await fetch(`${stack.app.url}/inbound/mailgun`)).status, 405);
    assert.equal((await post(stack, JSON.stringify({ a: 1 }), { 'content-type': 'application/json' })).status, 415);
    const big = storePost(mail({ text: 'x'.repeat(10_000) }));
    assert.equal((await post(stack, big)).status, 413);
    assert.equal(stack.gemini.requests.length, 0);
  });

  it('forward(): a chunked body (no Content-Length) over the limit is cut off with 413 while streaming', async () => {
    stack = await start({ INBOUND_FORWARD_MAX_BYTES: '65536' });
    const form = forwardPost(mail(), [{ name: 'big.bin', contentType: 'application/octet-stream', data: Buffer.alloc(1024 * 1024, 7) }]);
    // A stream body is sent chunked: the limit must hold while reading, not from Content-Length.
    const encoded = new Response(form);
    const res = await fetch(`${stack.app.url}/inbound/mailgun`, {
      method: 'POST',
      body: encoded.body,
      headers: { 'content-type': encoded.headers.get('content-type')! },
      duplex: 'half',
    } as RequestInit).catch((error: unknown) => error as Error);
    // Either the 413 arrives, or the server closed the connection before the client finished sending.
    if (res instanceof Response) assert.equal(res.status, 413);
    assert.equal(stack.gemini.requests.length, 0);
    await sleep(200);
    assert.ok(stack.logs.some((e) => e.message === 'Inbound post refused (413)'), 'refused as too large');
  });
});
