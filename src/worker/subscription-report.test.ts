/** `explain --subscription` against a subscription on the real Pub/Sub emulator. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { PubSub } from '@google-cloud/pubsub';
import { run } from '../cli/explain.ts';

describe('explain --subscription', () => {
  it('reads the subscription and warns that it has no dead-letter or retry policy, exit code from the chain alone', async () => {
    const name = `explain-${randomUUID().slice(0, 8)}`;
    const projectId = process.env.GOOGLE_CLOUD_PROJECT ?? 'demo-test';
    const pubsub = new PubSub({ projectId });
    const [topic] = await pubsub.createTopic(name);
    await topic.createSubscription(`${name}-sub`, { ackDeadlineSeconds: 30 });
    await pubsub.close();
    let out = '';
    const code = await run(['--subscription'], {
      env: { PUBSUB_EMULATOR_HOST: process.env.PUBSUB_EMULATOR_HOST, GOOGLE_CLOUD_PROJECT: projectId, PUBSUB_TOPIC: name, PUBSUB_SUBSCRIPTION: `${name}-sub` },
      stdout: { write: (t: string) => (out += t) },
    });
    assert.equal(code, 0);
    assert.match(out, new RegExp(`Subscription projects/${projectId}/subscriptions/${name}-sub`));
    assert.match(out, /ack deadline 30s; dead letter none; retry none/);
    assert.match(out, /⚠ subscription .* has no dead-letter policy/);
    assert.match(out, /⚠ subscription .* has no retry policy/);
  });

  it('says so when the subscription cannot be read', async () => {
    let out = '';
    await run(['--subscription'], {
      env: { PUBSUB_EMULATOR_HOST: process.env.PUBSUB_EMULATOR_HOST, GOOGLE_CLOUD_PROJECT: 'demo-test', PUBSUB_SUBSCRIPTION: `missing-${randomUUID().slice(0, 8)}` },
      stdout: { write: (t: string) => (out += t) },
    });
    assert.match(out, /Subscription check: not possible — cannot read subscription missing-/);
  });
});
