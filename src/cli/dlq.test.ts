/** `email-worker dlq` on the real Pub/Sub emulator. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { PubSub, type Message } from '@google-cloud/pubsub';
import { run } from './dlq.ts';

describe('email-worker dlq', () => {
  it('lists dead letters without removing them, then replays one to the job topic and removes it', async () => {
    const name = `dlq-${randomUUID().slice(0, 8)}`;
    const projectId = process.env.GOOGLE_CLOUD_PROJECT ?? 'demo-test';
    const env = { PUBSUB_EMULATOR_HOST: process.env.PUBSUB_EMULATOR_HOST, GOOGLE_CLOUD_PROJECT: projectId, PUBSUB_TOPIC: name, PUBSUB_DEAD_LETTER_TOPIC: `${name}-dead` };
    const pubsub = new PubSub({ projectId });
    const [topic] = await pubsub.createTopic(name);
    const [main] = await topic.createSubscription(`${name}-check`);
    const [dead] = await pubsub.createTopic(`${name}-dead`);
    await dead.createSubscription(`${name}-dead-sub`);
    const job = { version: 1, id: 'job-dead-1', from: 'alice@example.com', subject: 'Lost one' };
    await dead.publishMessage({ json: job, attributes: { context: 'email', CloudPubSubDeadLetterSourceDeliveryCount: '5' } });

    let out = '';
    const io = { env, stdout: { write: (t: string) => (out += t) } };
    assert.equal(await run(['list', '--wait', '1.5'], io), 0);
    assert.match(out, /job job-dead-1 {2}from alice@example\.com {2}deliveries 5 {2}Lost one/);
    out = '';
    assert.equal(await run(['list', '--wait', '1.5', '--json'], io), 0, 'still there after list');
    assert.equal(JSON.parse(out.trim()).jobId, 'job-dead-1');

    out = '';
    assert.equal(await run(['replay', '--id', 'job-dead-1', '--wait', '1.5'], io), 0);
    assert.match(out, /replayed \S+ \(job job-dead-1\)/);
    const replayed = await new Promise<Message>((resolve) => main.once('message', (m: Message) => { m.ack(); resolve(m); }));
    assert.deepEqual(JSON.parse(replayed.data.toString()), job);
    assert.deepEqual(replayed.attributes, { context: 'email' }, 'without the dead-letter bookkeeping');
    await main.close();

    out = '';
    assert.equal(await run(['list', '--wait', '1.5'], io), 0);
    assert.match(out, /no dead letters/);
    await pubsub.close();
  });
});
