import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Deadline } from '../resilience/deadline.ts';
import type { RetryEvent, RetryPolicy } from '../resilience/retry.ts';
import { startMailgunStandin, type MailgunStandin, type MailgunStandinOptions } from '../dev/mailgun-standin.ts';
import { composeReply } from './compose.ts';
import { createMailgunTransport } from './mailgun.ts';
import { createOutboxTransport } from './outbox.ts';
import { sendExactlyOnce } from './send.ts';
import { rejection as failure } from '../../test/helpers/worker-error.ts';

const KEY = 'key-send-test-9b1e7c3d5a2f4e60';
const DOMAIN = 'mg.example.com';
const policy: RetryPolicy = { attempts: 4, minDelayMs: 5, maxDelayMs: 20 };

let standin: MailgunStandin | undefined;
afterEach(async () => {
  await standin?.close();
  standin = undefined;
});

async function setup(options: MailgunStandinOptions = {}) {
  standin = await startMailgunStandin({ apiKey: KEY, ...options });
  return { standin, transport: createMailgunTransport({ apiKey: KEY, domain: DOMAIN, url: standin.url }) };
}

const reply = (messageId = '<r-1@mg.example.com>') =>
  composeReply({ parent: { from: 'alice@example.com', subject: 'Q', messageId: '<p@example.com>' }, from: 'ask@mg.example.com', messageId, text: 'Answer' });

const posts = (s: MailgunStandin) => s.requests.filter((r) => r.route === 'messages').length;


describe('sendExactlyOnce with Mailgun (stand-in)', () => {
  it('retries 500 twice and records exactly one message', async () => {
    const { standin, transport } = await setup();
    standin.enqueue({ kind: 'status', status: 500 }, { kind: 'status', status: 500 });
    const retries: RetryEvent[] = [];
    using deadline = Deadline.after(5_000);
    const result = await sendExactlyOnce(transport, reply(), { deadline, policy, attemptTimeoutMs: 2_000, onRetry: (e) => retries.push(e) });
    assert.equal(result.status, 'sent');
    assert.equal(standin.messages.length, 1);
    assert.equal(posts(standin), 3);
    assert.deepEqual(retries.map((e) => e.error.status), [500, 500]);
  });

  it('does not retry a 400', async () => {
    const { standin, transport } = await setup();
    standin.enqueue({ kind: 'status', status: 400 });
    using deadline = Deadline.after(5_000);
    const error = await failure(sendExactlyOnce(transport, reply(), { deadline, policy, attemptTimeoutMs: 2_000 }));
    assert.equal(error.code, 'EW_ERR_SEND_REJECTED');
    assert.equal(error.retryable, false);
    assert.equal(posts(standin), 1);
    assert.equal(standin.messages.length, 0);
  });

  it('retries after a connection reset once the provider says it has not accepted the message', async () => {
    const { standin, transport } = await setup();
    standin.enqueue({ kind: 'reset' });
    using deadline = Deadline.after(5_000);
    const result = await sendExactlyOnce(transport, reply(), { deadline, policy, attemptTimeoutMs: 2_000 });
    assert.equal(result.status, 'sent');
    assert.equal(posts(standin), 2);
    assert.equal(standin.messages.length, 1);
    // The events API was asked between the two sends.
    assert.deepEqual(standin.requests.map((r) => r.route), ['messages', 'events', 'messages']);
  });

  it('turns an accepted-but-hung send into already-sent instead of a second message', async () => {
    const { standin, transport } = await setup();
    standin.enqueue({ kind: 'accept-then-hang', ms: 2_000 });
    using deadline = Deadline.after(5_000);
    const result = await sendExactlyOnce(transport, reply(), { deadline, policy, attemptTimeoutMs: 100 });
    assert.equal(result.status, 'already-sent');
    assert.equal(result.id, '<r-1@mg.example.com>');
    assert.equal(standin.messages.length, 1);
    assert.equal(posts(standin), 1);
  });

  it('turns an accepted send whose answer was dropped into already-sent', async () => {
    const { standin, transport } = await setup();
    standin.enqueue({ kind: 'accept-then-reset' });
    using deadline = Deadline.after(5_000);
    const result = await sendExactlyOnce(transport, reply(), { deadline, policy, attemptTimeoutMs: 2_000 });
    assert.equal(result.status, 'already-sent');
    assert.equal(standin.messages.length, 1);
  });

  it('keeps asking during acceptanceLagMs when the provider shows accepted messages late', async () => {
    const { standin, transport } = await setup({ eventsLagMs: 120 });
    standin.enqueue({ kind: 'accept-then-reset' });
    using deadline = Deadline.after(5_000);
    const result = await sendExactlyOnce(transport, reply(), { deadline, policy, attemptTimeoutMs: 2_000, acceptanceLagMs: 1_000, pollIntervalMs: 20 });
    assert.equal(result.status, 'already-sent');
    assert.equal(standin.messages.length, 1);
    assert.ok(standin.requests.filter((r) => r.route === 'events').length >= 2);
  });

  it('does not resend while the events API cannot answer, and asks again on the next attempt', async () => {
    const { standin, transport } = await setup();
    standin.enqueue({ kind: 'accept-then-reset' }, { kind: 'status', status: 503, route: 'events' });
    using deadline = Deadline.after(5_000);
    const result = await sendExactlyOnce(transport, reply(), { deadline, policy, attemptTimeoutMs: 2_000 });
    assert.equal(result.status, 'already-sent');
    assert.equal(posts(standin), 1);
    assert.deepEqual(standin.requests.map((r) => r.outcome), ['reset', 503, 200]);
  });

  it('gives up with a retryable outcome-unknown error when the attempts end before the outcome is known', async () => {
    const { standin, transport } = await setup();
    standin.enqueue({ kind: 'accept-then-reset' }, { kind: 'status', status: 503, route: 'events' });
    using deadline = Deadline.after(5_000);
    const error = await failure(sendExactlyOnce(transport, reply(), { deadline, policy: { ...policy, attempts: 2 }, attemptTimeoutMs: 2_000 }));
    assert.equal(error.code, 'EW_ERR_SEND_OUTCOME_UNKNOWN');
    assert.equal(error.retryable, true);
    assert.equal(posts(standin), 1);
  });

  it('asks before the first attempt with checkFirst, and sends nothing when the message was accepted before', async () => {
    const { standin, transport } = await setup();
    await transport.send(reply(), { signal: new AbortController().signal });
    using deadline = Deadline.after(5_000);
    const result = await sendExactlyOnce(transport, reply(), { deadline, policy, attemptTimeoutMs: 2_000, checkFirst: true });
    assert.equal(result.status, 'already-sent');
    assert.equal(posts(standin), 1);
    assert.equal(standin.messages.length, 1);
  });

  it('sends normally with checkFirst when the message was never accepted', async () => {
    const { standin, transport } = await setup();
    using deadline = Deadline.after(5_000);
    const result = await sendExactlyOnce(transport, reply(), { deadline, policy, attemptTimeoutMs: 2_000, checkFirst: true });
    assert.equal(result.status, 'sent');
    assert.deepEqual(standin.requests.map((r) => r.route), ['events', 'messages']);
  });
});

describe('sendExactlyOnce with the outbox', () => {
  it('writes the reply once; a second call reports already-sent', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'send-outbox-'));
    try {
      const transport = createOutboxTransport({ dir });
      using deadline = Deadline.after(5_000);
      const first = await sendExactlyOnce(transport, reply(), { deadline, policy, attemptTimeoutMs: 1_000 });
      const second = await sendExactlyOnce(transport, reply(), { deadline, policy, attemptTimeoutMs: 1_000 });
      assert.equal(first.status, 'sent');
      assert.equal(second.status, 'already-sent');
      assert.equal((await readdir(dir)).length, 1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('sendExactlyOnce for a reply in doubt since an earlier delivery (inDoubtSince)', () => {
  it('keeps looking through the window and sends nothing when the earlier send shows up late', async () => {
    const { standin, transport } = await setup({ eventsLagMs: 300 });
    using first = Deadline.after(5_000);
    await sendExactlyOnce(transport, reply('<doubt-1@mg.example.com>'), { deadline: first, policy, attemptTimeoutMs: 2_000 });
    // A crashed worker's send: accepted, but its event is not visible yet.
    using deadline = Deadline.after(5_000);
    const result = await sendExactlyOnce(transport, reply('<doubt-1@mg.example.com>'), { deadline, policy, attemptTimeoutMs: 2_000, inDoubtSince: Date.now(), acceptanceLagMs: 800, pollIntervalMs: 50 });
    assert.equal(result.status, 'already-sent');
    assert.equal(standin.messages.length, 1);
  });

  it('sends once the window has passed with no sign of the earlier send (and a lag beyond the window is the duplicate left)', async () => {
    const { standin, transport } = await setup({ eventsLagMs: 1_000 });
    using first = Deadline.after(5_000);
    await sendExactlyOnce(transport, reply('<doubt-2@mg.example.com>'), { deadline: first, policy, attemptTimeoutMs: 2_000 });
    using deadline = Deadline.after(5_000);
    const started = Date.now();
    const result = await sendExactlyOnce(transport, reply('<doubt-2@mg.example.com>'), { deadline, policy, attemptTimeoutMs: 2_000, inDoubtSince: started, acceptanceLagMs: 200, pollIntervalMs: 50 });
    assert.equal(result.status, 'sent');
    assert.ok(standin.requests.filter((r) => r.route === 'events').length >= 2, 'asked more than once within the window');
    assert.equal(standin.messages.length, 2, 'the lag exceeded the window: the documented duplicate');
  });
});
