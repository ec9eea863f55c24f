/**
 * Dead-letter notices (issue 8, "a job given up for good has told its sender"): a job Pub/Sub
 * dead-letters — every delivery crashed a worker, or never reached a live one — gets the failure
 * email once, from the notice subscription on the dead-letter topic, without anything being run
 * again. Real Pub/Sub and Firestore emulators; Pub/Sub's own dead-lettering.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { PubSub, type Message } from '@google-cloud/pubsub';
import type { Config } from '../src/config.ts';
import { eventually, sampleJob, startStack, type Stack } from './helpers/stack.ts';

const firestore = () => ({ LEDGER: 'firestore', LEDGER_COLLECTION: `ledger-${randomUUID().slice(0, 8)}` });
const noticeSent = (e: Record<string, unknown>) => e.message === 'Job failed; sending a failure email' && JSON.stringify(e.err).includes('EW_ERR_JOB_DEAD_LETTERED');

/**
 * Jobs go to `<topic>-crashy`, whose subscription dead-letters into the worker's dead-letter topic
 * after 5 deliveries; a subscriber that nacks every delivery plays the crashing workers. The
 * worker itself never receives these jobs on its own subscription.
 */
async function crashingDeliveries(stack: Stack): Promise<{ publish(job: Record<string, unknown>): Promise<void>; deliveries: () => number; close(): Promise<void> }> {
  const pubsub = new PubSub({ projectId: stack.config.projectId });
  const [topic] = await pubsub.createTopic(`${stack.config.pubsub.topic}-crashy`);
  const [sub] = await topic.createSubscription(`${stack.config.pubsub.topic}-crashy-sub`, {
    ackDeadlineSeconds: 10,
    deadLetterPolicy: { deadLetterTopic: pubsub.topic(stack.config.pubsub.deadLetterTopic).name, maxDeliveryAttempts: 5 },
    retryPolicy: { minimumBackoff: { seconds: 1 }, maximumBackoff: { seconds: 1 } },
  });
  let deliveries = 0;
  sub.on('message', (m: Message) => {
    deliveries += 1;
    m.nack();
  });
  return {
    publish: async (job) => void (await topic.publishMessage({ data: Buffer.from(JSON.stringify(job)) })),
    deliveries: () => deliveries,
    close: async () => {
      await sub.close();
      await pubsub.close();
    },
  };
}

/** Publishes `job` to the dead-letter topic as Pub/Sub does (data unchanged, its attributes added). */
async function deadLetter(config: Config, job: Record<string, unknown>): Promise<void> {
  const pubsub = new PubSub({ projectId: config.projectId });
  await pubsub.topic(config.pubsub.deadLetterTopic).publishMessage({
    data: Buffer.from(JSON.stringify(job)),
    attributes: { CloudPubSubDeadLetterSourceDeliveryCount: '5', CloudPubSubDeadLetterSourceSubscription: config.pubsub.subscription },
  });
  await pubsub.close();
}

describe('dead-letter notices', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });

  it('sends one failure email for a job Pub/Sub dead-lettered before any worker answered it, and runs nothing again', async () => {
    stack = await startStack({ env: firestore() });
    const crashy = await crashingDeliveries(stack);
    try {
      const id = `job-${randomUUID()}`;
      const job = sampleJob({ id, subject: 'Poison message' });
      await crashy.publish(job);
      await stack.waitForLog(noticeSent, 60_000);
      await eventually(() => stack!.mailgun.messages.length === 1, 10_000);
      const [mail] = stack.mailgun.messages;
      assert.equal(mail!.headers['In-Reply-To'], job.messageId, 'threaded under the lost message');
      assert.match(String(mail!.fields.text), /could not be processed, even after several attempts/);
      assert.equal(crashy.deliveries(), 5, 'Pub/Sub gave up after its five deliveries');
      assert.equal(stack.gemini.requests.length, 0, 'the job was not run again');
      // The email can land just before the ledger's final write.
      let record = await stack.app.ledger.get(id);
      for (const end = Date.now() + 5_000; record?.state !== 'failed' && Date.now() < end; await sleep(20)) record = await stack.app.ledger.get(id);
      assert.equal(record?.state, 'failed');
      assert.equal(record?.outcome, 'EW_ERR_JOB_DEAD_LETTERED');
      // Acknowledged: no second notice.
      await sleep(2500);
      assert.equal(stack.mailgun.messages.length, 1);
    } finally {
      await crashy.close();
    }
  });

  it('sends nothing for a dead letter of a job that was already answered', async () => {
    stack = await startStack({ env: firestore() });
    const job = sampleJob({ id: `job-${randomUUID()}` });
    await stack.publish(job);
    await stack.waitForLog((e) => e.message === 'Job finished: reply sent', 20_000);
    await deadLetter(stack.config, job);
    await stack.waitForLog((e) => e.message === 'Job already finished; acknowledging duplicate delivery' && e.jobId === job.id, 20_000);
    await sleep(1000);
    assert.equal(stack.mailgun.messages.length, 1, 'the answer only');
  });

  it('leaves a dead letter whose job another live worker holds until that worker has answered', async () => {
    stack = await startStack({ env: firestore() });
    const id = `job-${randomUUID()}`;
    const job = sampleJob({ id });
    // Another instance holds the job under a live lease (e.g. a long push request).
    const other = 'other-instance';
    await stack.app.ledger.claim(id, other, 60_000, `<held-${randomUUID()}@mg.test.localhost>`);
    await deadLetter(stack.config, job);
    await stack.waitForLog((e) => e.message === 'Job is leased by another live worker; refusing this delivery' && e.jobId === id, 20_000);
    assert.equal(stack.mailgun.messages.length, 0, 'refused without side effects');
    // The holder answers; the notice's next delivery finds the job finished.
    assert.equal(await stack.app.ledger.markReplyPending(id, other), true);
    assert.equal(await stack.app.ledger.finish(id, other, 'sent', 'replied'), true);
    await stack.waitForLog((e) => e.message === 'Job already finished; acknowledging duplicate delivery' && e.jobId === id, 20_000);
    assert.equal(stack.mailgun.messages.length, 0);
  });

  it('takes dead-letter notices by push on PUSH_DEAD_LETTER_PATH in push mode', async () => {
    stack = await startStack({ env: { WORKER_MODE: 'push', REQUIRE_PUSH_AUTH: 'false' } });
    const pubsub = new PubSub({ projectId: stack.config.projectId });
    try {
      await pubsub.topic(stack.config.pubsub.deadLetterTopic).createSubscription(`${stack.config.pubsub.topic}-notice-push`, {
        ackDeadlineSeconds: 10,
        pushConfig: { pushEndpoint: `${stack.app.url}/pubsub/dead-letter` },
        retryPolicy: { minimumBackoff: { seconds: 1 }, maximumBackoff: { seconds: 2 } },
      });
      const job = sampleJob({ id: `job-${randomUUID()}` });
      await deadLetter(stack.config, job);
      await stack.waitForLog(noticeSent, 20_000);
      await eventually(() => stack!.mailgun.messages.length === 1, 10_000);
      assert.equal(stack.mailgun.messages[0]!.headers['In-Reply-To'], job.messageId);
      assert.equal(stack.gemini.requests.length, 0);
    } finally {
      await pubsub.close();
    }
  });

  it('reads dead-letter notices by default in pull mode, and not with DEAD_LETTER_NOTICES=false', async () => {
    stack = await startStack({ env: { DEAD_LETTER_NOTICES: 'false' } });
    assert.equal(stack.config.deadLetterNotices, undefined);
    assert.ok(!stack.logs.some((e) => String(e.message).startsWith('Pull worker started: dead-letter notices')));
    await stack.stop();
    stack = await startStack();
    assert.ok(stack.logs.some((e) => e.message === 'Pull worker started: dead-letter notices'), 'read by default in pull mode');
  });
});
