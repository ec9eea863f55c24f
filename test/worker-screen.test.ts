/**
 * The worker screens every job again before any model call (jobs published straight to Pub/Sub
 * never passed the webhook) and before failure emails: loop guard, sender policy, reply caps.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { storePost } from '../src/ingress/mailgun-post.ts';
import { jobIdFor } from '../src/jobs/schema.ts';
import { sampleJob, startStack, type Stack } from './helpers/stack.ts';

const SIGNING_KEY = 'worker-screen-signing-key';
const stopped = (id: string) => (e: Record<string, unknown>) => e.message === 'Job not answered: stopped by the loop guard, sender policy or reply caps' && e.jobId === id;

describe('worker-side screen', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });

  it('a directly published auto-reply never reaches the model and gets no reply', async () => {
    stack = await startStack();
    const job = sampleJob({ headers: { 'auto-submitted': 'auto-replied' } });
    await stack.publish(job);
    const entry = await stack.waitForLog(stopped(jobIdFor(String(job.messageId))));
    assert.deepEqual(entry.reasons, ['auto-submitted']);
    const own = sampleJob({ from: 'worker@mg.test.localhost' });
    await stack.publish(own);
    assert.deepEqual((await stack.waitForLog(stopped(jobIdFor(String(own.messageId))))).reasons, ['own-address', 'own-domain']);
    assert.equal(stack.gemini.requests.length, 0);
    assert.equal(stack.mailgun.messages.length, 0);
    assert.equal((await stack.app.ledger.get(jobIdFor(String(job.messageId))))?.state, 'failed');
  });

  it('reply caps apply to directly published jobs; a job counted at ingress is not counted twice', async () => {
    stack = await startStack({ env: { REPLY_CAP_PER_SENDER: '1', MAILGUN_WEBHOOK_SIGNING_KEY: SIGNING_KEY } });
    const messageId = `<${randomUUID()}@mail.example.com>`;
    const res = await fetch(`${stack.app.url}/inbound/mailgun`, {
      method: 'POST',
      body: storePost({ signingKey: SIGNING_KEY, from: 'bob@example.com', recipient: 'ask@mg.test.localhost', subject: 'First', text: 'Q1', messageId }),
    });
    assert.equal(res.status, 200);
    await stack.waitForLog((e) => e.message === 'Job finished: reply sent' && e.jobId === jobIdFor(messageId));

    const second = sampleJob({ from: 'bob@example.com', subject: 'Second' });
    await stack.publish(second);
    assert.deepEqual((await stack.waitForLog(stopped(jobIdFor(String(second.messageId))))).reasons, ['sender-cap']);
    assert.equal(stack.mailgun.messages.length, 1);
  });

  it('an invalid job from a no-reply sender gets no failure email', async () => {
    stack = await startStack();
    await stack.publish({ version: 1, from: 'no-reply@service.example', subject: 'broken', messageId: `<${randomUUID()}@x.example>`, attachments: 'nope' });
    await stack.waitForLog((e) => e.message === 'No failure email for the invalid job: stopped by the inbound screen');
    await stack.publish({ version: 1, from: 'carol@example.com', subject: 'broken too', messageId: `<${randomUUID()}@x.example>`, attachments: 'nope' });
    await stack.waitForLog((e) => e.message === 'Invalid job: acknowledged and not processed' && e.sender === 'carol@example.com');
    for (let i = 0; i < 50 && stack.mailgun.messages.length === 0; i++) await sleep(100);
    assert.equal(stack.mailgun.messages.length, 1, 'only the human sender got a failure email');
    assert.equal(stack.mailgun.messages[0]!.fields.to, 'carol@example.com');
  });
});
