/**
 * The main job end to end: Pub/Sub (real emulator) → attachments (loopback) → Gemini (stand-in,
 * real SDK) → reply (Mailgun stand-in, real mailgun.js). Durations run at TIMEOUT_SCALE=0.001 —
 * the product's real code paths with a 3 s hard cap.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getTimeouts } from '../src/timeouts/engine.ts';
import { GEMINI_KEY, MAILGUN_KEY, eventually, sampleJob, startStack, type Stack } from './helpers/stack.ts';

const finished = (e: Record<string, unknown>) => e.message === 'Job finished: reply sent';
const failed = (e: Record<string, unknown>) => typeof e.message === 'string' && e.message.startsWith('Job failed');

describe('pipeline: pull → reply', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });

  it('answers a job with one threaded reply and feeds the attachment text to Gemini', async () => {
    // T1–T5 scale too: at 0.001 the T3 attachment read has 2 ms and may fall back to a partial
    // (empty) excerpt. 0.05 gives it 100 ms, so the text itself must arrive.
    stack = await startStack({ env: { TIMEOUT_SCALE: '0.05' } });
    stack.files.routes.set('/budget.txt', (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('Travel: 1200 EUR; Hardware: 800 EUR'));
    const job = sampleJob({
      subject: 'Budget question',
      attachments: [
        { name: 'budget.txt', contentType: 'text/plain', url: `${stack.files.url}/budget.txt` },
        { name: 'inline.txt', contentType: 'text/plain', base64: Buffer.from('inline attachment words').toString('base64') },
      ],
    });
    await stack.publish(job);
    await stack.waitForLog(finished);

    assert.equal(stack.mailgun.messages.length, 1);
    const reply = stack.mailgun.messages[0]!;
    assert.equal(reply.fields.subject, 'Re: Budget question');
    assert.equal(reply.fields.to, 'alice@example.com');
    assert.equal(reply.headers['In-Reply-To'], job.messageId);
    assert.deepEqual(String(reply.headers['References']).split(/\s+/), ['<root@mail.example.com>', job.messageId]);
    assert.equal(reply.headers['Auto-Submitted'], 'auto-replied');
    assert.match(String(reply.headers['Message-Id']), /^<[^@]+@mg\.test\.localhost>$/);

    const sentToGemini = JSON.stringify(stack.gemini.requests.at(-1)?.body);
    assert.match(sentToGemini, /Travel: 1200 EUR/);
    assert.match(sentToGemini, /inline attachment words/);
    assert.match(String(reply.fields.text), /Gemini stand-in/);
  });

  it('retries Gemini 503, 503 and sends exactly one reply', async () => {
    stack = await startStack();
    stack.gemini.enqueue({ kind: 'status', status: 503 }, { kind: 'status', status: 503 });
    await stack.publish(sampleJob());
    const done = await stack.waitForLog(finished);
    assert.equal(done.attempts, 3);
    assert.equal(stack.gemini.requests.length, 3);
    assert.equal(stack.mailgun.messages.length, 1);
    assert.equal(stack.logs.filter((l) => l.message && String(l.message).startsWith('Retrying gemini')).length, 2);
  });

  it('honours a 429 RetryInfo delay as sent, even at a compressed timeout scale', async () => {
    stack = await startStack();
    stack.gemini.enqueue({ kind: 'status', status: 429, retryDelay: '0.4s' });
    await stack.publish(sampleJob());
    await stack.waitForLog(finished);
    const retryLog = stack.logs.find((l) => String(l.message).startsWith('Retrying gemini'));
    assert.ok(retryLog, 'a retry was logged');
    assert.equal(retryLog.delayMs, 400);
    assert.equal(retryLog.delaySource, 'server');
  });

  it('cuts a Gemini stream that never sends a first chunk, retries, then sends one failure reply within the hard cap', async () => {
    stack = await startStack({ maxDeliveryAttempts: 1 });
    stack.gemini.setDefault({ kind: 'hang-before-first-chunk' });
    const started = Date.now();
    await stack.publish(sampleJob({ subject: 'Will hang' }));
    const failure = await stack.waitForLog(failed);
    await eventually(() => stack!.mailgun.messages.length === 1);
    const elapsed = Date.now() - started;
    const hardCapMs = getTimeouts('email').hardTimeoutMs;
    assert.ok(elapsed <= hardCapMs + 1500, `failure reply after ${elapsed}ms, hard cap ${hardCapMs}ms`);
    assert.ok(stack.gemini.requests.length >= 2, 'the hung stream was retried');
    assert.match(JSON.stringify(failure.err), /EW_ERR_TIMEOUT|EW_ERR_DEADLINE_EXCEEDED/);
    const text = String(stack.mailgun.messages[0]!.fields.text);
    assert.match(text, /could not answer|could not be answered|We could not/i);
    assert.doesNotMatch(text, /EW_ERR|stack|at .*\.ts/);
  });

  it('sends the partial answer with a clear note when the stream hangs mid-way every time', async () => {
    stack = await startStack({ maxDeliveryAttempts: 1 });
    stack.gemini.setDefault({ kind: 'hang-after', chunks: 2 });
    await stack.publish(sampleJob({ subject: 'Long answer' }));
    const done = await stack.waitForLog(finished);
    assert.equal(done.complete, false);
    assert.equal(stack.mailgun.messages.length, 1);
    const text = String(stack.mailgun.messages[0]!.fields.text);
    assert.match(text, /Gemini stand-in/);
    assert.match(text, /incomplete/i);
  });

  it('retries a stream reset mid-way and replies with the full answer', async () => {
    stack = await startStack();
    stack.gemini.enqueue({ kind: 'reset-after', chunks: 1 });
    await stack.publish(sampleJob());
    const done = await stack.waitForLog(finished);
    assert.equal(done.complete, true);
    assert.equal(stack.gemini.requests.length, 2);
    assert.equal(stack.mailgun.messages.length, 1);
  });

  it('retries Mailgun 500 twice and delivers exactly one reply', async () => {
    stack = await startStack();
    stack.mailgun.enqueue({ kind: 'status', status: 500 }, { kind: 'status', status: 500 });
    await stack.publish(sampleJob());
    await stack.waitForLog(finished);
    assert.equal(stack.mailgun.messages.length, 1);
    assert.equal(stack.logs.filter((l) => String(l.message).startsWith('Retrying mailgun')).length, 2);
  });

  it('does not retry a Mailgun 400', async () => {
    stack = await startStack({ maxDeliveryAttempts: 1 });
    stack.mailgun.enqueue({ kind: 'status', status: 400 });
    await stack.publish(sampleJob());
    await stack.waitForLog(failed);
    assert.equal(stack.logs.filter((l) => String(l.message).startsWith('Retrying mailgun')).length, 0);
  });

  it('skips a refused attachment, says why in the reply, and still answers', async () => {
    stack = await startStack();
    const job = sampleJob({
      attachments: [{ name: 'evil.txt', contentType: 'text/plain', url: 'http://169.254.169.254/latest/meta-data' }],
    });
    await stack.publish(job);
    await stack.waitForLog(finished);
    const text = String(stack.mailgun.messages[0]!.fields.text);
    assert.match(text, /evil\.txt/);
    assert.match(text, /skipped/);
  });

  it('sends one reply for a job published twice', async () => {
    stack = await startStack();
    const job = sampleJob();
    await stack.publish(job);
    await stack.publish(job);
    await stack.waitForLog(finished);
    await stack.waitForLog((e) => e.message === 'Job already finished; acknowledging duplicate delivery' || String(e.message).includes('leased by another'));
    await eventually(() => stack!.logs.some((e) => e.message === 'Job already finished; acknowledging duplicate delivery'), 10_000);
    assert.equal(stack.mailgun.messages.length, 1);
  });

  it('acknowledges a malformed job, logs the reason and tells the sender', async () => {
    stack = await startStack();
    await stack.publish({ version: 1, from: 'bob@example.com', subject: 'broken', messageId: 'not-a-message-id' });
    const logged = await stack.waitForLog((e) => e.message === 'Invalid job: acknowledged and not processed');
    assert.match(JSON.stringify(logged.err), /messageId/);
    await eventually(() => stack!.mailgun.messages.length === 1);
    assert.equal(stack.mailgun.messages[0]!.fields.to, 'bob@example.com');
  });

  it('writes the reply as an RFC 5322 .eml file to OUTBOX_DIR when Mailgun is not configured', async () => {
    const outbox = await mkdtemp(join(tmpdir(), 'outbox-'));
    stack = await startStack({ env: { MAILGUN_API_KEY: '', OUTBOX_DIR: outbox } });
    const job = sampleJob({ subject: 'Offline' });
    await stack.publish(job);
    const done = await stack.waitForLog(finished);
    const files = (await readdir(outbox)).filter((f) => f.endsWith('.eml'));
    assert.equal(files.length, 1);
    assert.equal(done.path, join(outbox, files[0]!));
    const eml = await readFile(join(outbox, files[0]!), 'utf8');
    assert.match(eml, /^Subject: Re: Offline\r?$/m);
    assert.match(eml, new RegExp(`^In-Reply-To: ${String(job.messageId)}\\r?$`, 'm'));
    assert.match(eml, /^Auto-Submitted: auto-replied\r?$/m);
    assert.equal(stack.mailgun.messages.length, 0);
    await rm(outbox, { recursive: true, force: true });
  });

  it('never puts secrets into a reply or the logs', async () => {
    stack = await startStack();
    await stack.publish(sampleJob({ export: { formats: ['html'] } }));
    await stack.waitForLog(finished);
    const everything = JSON.stringify(stack.mailgun.messages) + JSON.stringify(stack.logs);
    for (const secret of [MAILGUN_KEY, GEMINI_KEY]) assert.ok(!everything.includes(secret), 'a key leaked into a reply or a log line');
    assert.ok(stack.logs.length > 5, 'logs were captured');
  });
});
