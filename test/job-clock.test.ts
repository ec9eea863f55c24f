/**
 * The job's own clock and count (issue 8): on a subscription made by hand WITHOUT a dead-letter
 * policy (Pub/Sub then reports no deliveryAttempt and, without a retry policy, redelivers at
 * once), a job whose Gemini calls always fail ends with exactly one failure email — after the
 * ledger's last delivery, or when the hard cap counted from the first claim runs out. Real Pub/Sub
 * and Firestore emulators; TIMEOUT_SCALE=0.001 (hard cap 3 s unless raised).
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PubSub } from '@google-cloud/pubsub';
import type { Config } from '../src/config.ts';
import { getTimeouts } from '../src/timeouts/engine.ts';
import { eventually, sampleJob, startStack, type Stack } from './helpers/stack.ts';

/** The subscription an operator made by hand: no dead-letter policy, no retry policy. */
async function bareSubscription(config: Config, pubsub: PubSub): Promise<void> {
  const [topic] = await pubsub.createTopic(config.pubsub.topic);
  await topic.createSubscription(config.pubsub.subscription, { ackDeadlineSeconds: 10 });
}

/** Polls the ledger until the job is finished (the email can land just before the ledger write). */
async function finishedRecord(stack: Stack, id: string) {
  for (const end = Date.now() + 10_000; Date.now() < end; await sleep(20)) {
    const r = await stack.app.ledger.get(id);
    if (r && (r.state === 'sent' || r.state === 'failed')) return r;
  }
  return stack.app.ledger.get(id);
}

const failedEmail = (e: Record<string, unknown>) => e.message === 'Job failed; sending a failure email';

describe('job clock and delivery count on a subscription without a dead-letter policy', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });

  it('stops redelivering at the ledger’s last delivery and sends one failure email (Firestore ledger)', async () => {
    stack = await startStack({
      // A 30 s cap (3000 s × 0.001 … raised to 30000 s) so the delivery count, not the clock, ends it.
      env: { LEDGER: 'firestore', LEDGER_COLLECTION: `ledger-${randomUUID().slice(0, 8)}`, TIMEOUT_HARD_TIMEOUT: '30000', PUBSUB_MAX_DELIVERY_ATTEMPTS: '5' },
      beforeStart: bareSubscription,
    });
    assert.deepEqual(stack.app.subscriptionWarnings.map((w) => w.rule), ['no-dead-letter', 'no-retry-policy']);
    const ready = (await (await fetch(`${stack.app.url}/readyz`)).json()) as { status: string; details?: { subscriptionWarnings?: string[] } };
    assert.deepEqual(ready.details?.subscriptionWarnings, ['no-dead-letter', 'no-retry-policy'], 'shown in /readyz details');
    assert.ok(stack.logs.some((e) => e.severity === 'WARNING' && String(e.message).startsWith('Subscription check: ') && e.rule === 'no-dead-letter'), 'logged as a warning');
    stack.gemini.setDefault({ kind: 'status', status: 503 });
    const id = `job-${randomUUID()}`;
    await stack.publish(sampleJob({ id, subject: 'Always failing' }));
    const failure = await stack.waitForLog(failedEmail, 30_000);
    await eventually(() => stack!.mailgun.messages.length === 1);
    const record = await finishedRecord(stack, id);
    assert.equal(record?.state, 'failed');
    assert.equal(record?.deliveries, 5, 'five deliveries by the ledger’s count, although Pub/Sub reported none');
    assert.match(JSON.stringify(failure.err), /EW_ERR_UPSTREAM_HTTP/);
    // Acknowledged for good: no further delivery reaches Gemini.
    const calls = stack.gemini.requests.length;
    await sleep(1500);
    assert.equal(stack.gemini.requests.length, calls);
    assert.equal(stack.mailgun.messages.length, 1);
  });

  it('ends with one failure email within the hard cap counted from the first claim, however many deliveries remain (memory ledger)', async () => {
    stack = await startStack({ env: { PUBSUB_MAX_DELIVERY_ATTEMPTS: '100' }, beforeStart: bareSubscription });
    stack.gemini.setDefault({ kind: 'status', status: 503 });
    const id = `job-${randomUUID()}`;
    await stack.publish(sampleJob({ id, subject: 'Always failing' }));
    await stack.waitForLog(failedEmail, 30_000);
    await eventually(() => stack!.mailgun.messages.length === 1);
    const sentAt = Date.now();
    const record = await finishedRecord(stack, id);
    assert.equal(record?.state, 'failed');
    assert.equal(record?.outcome, 'EW_ERR_DEADLINE_EXCEEDED');
    assert.ok(record!.deliveries >= 2, `redelivered (${record!.deliveries} deliveries) yet one deadline`);
    const t = getTimeouts('email');
    const capMs = t.hardTimeoutMs + 2 * t.mailgunApiMs;
    assert.ok(sentAt - record!.firstClaimedAt <= capMs + 1500, `failure email ${sentAt - record!.firstClaimedAt}ms after the first claim; cap + one send ${capMs}ms`);
    const calls = stack.gemini.requests.length;
    await sleep(1000);
    assert.equal(stack.gemini.requests.length, calls, 'acknowledged: no more deliveries');
    assert.equal(stack.mailgun.messages.length, 1);
  });
});
