/**
 * "200 only after the publish is confirmed": the webhook in front of a topic that does not exist
 * yet (real Pub/Sub emulator) answers 5xx, and Mailgun's retry of the very same post (same token)
 * is accepted and published once the topic is there. Nothing is lost.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { Writable } from 'node:stream';
import { PubSub, type Message } from '@google-cloud/pubsub';
import { Registry } from 'prom-client';
import { createHttpApp } from '../src/http/server.ts';
import { createMailgunRouter } from '../src/ingress/mailgun-router.ts';
import { storePost } from '../src/ingress/mailgun-post.ts';
import { createIngressStore } from '../src/ledger/ingress-store.ts';
import { createLogger } from '../src/observability/logger.ts';
import { jobIdFor } from '../src/jobs/schema.ts';

const KEY = 'publish-failure-signing-key';

describe('inbound webhook: publish failure', () => {
  const pubsub = new PubSub({ projectId: process.env.GOOGLE_CLOUD_PROJECT ?? 'demo-test' });
  const topicName = `test-${randomUUID()}`;
  let server: Server;
  let url: string;
  before(async () => {
    const store = await createIngressStore('memory');
    const logger = createLogger({ level: 'error', stream: new Writable({ write: (_c, _e, done) => done() }) });
    const router = createMailgunRouter({
      signingKey: KEY,
      store,
      policy: { allowedSenders: ['*'], ownAddresses: [], ownDomains: ['mg.test.localhost'], caps: { perSender: 10, senderWindowMs: 60_000, perThread: 10, threadWindowMs: 60_000, perDay: 100 } },
      publish: (job) => pubsub.topic(topicName).publishMessage({ json: job }),
      limits: { storeMaxBytes: 1 << 20, forwardMaxBytes: 1 << 20, inlineMaxBytes: 1 << 16 },
      logger,
    });
    const app = createHttpApp({ registry: new Registry(), readinessChecks: {}, routers: [router] });
    server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/inbound/mailgun`;
  });
  after(async () => {
    server.close();
    await pubsub.close();
  });

  it('answers 5xx while publishing fails, then publishes the same post on Mailgun\'s retry', async () => {
    const messageId = `<${randomUUID()}@mail.example.com>`;
    const body = storePost({ signingKey: KEY, from: 'alice@example.com', recipient: 'ask@mg.test.localhost', subject: 'Hi', text: 'Q?', messageId });

    const first = await fetch(url, { method: 'POST', body });
    assert.equal(first.status, 503);
    assert.equal(((await first.json()) as { error: string }).error, 'EW_ERR_PUBLISH_FAILED');

    const [topic] = await pubsub.createTopic(topicName);
    const [subscription] = await topic.createSubscription(`${topicName}-sub`);
    const received = new Promise<Message>((resolve) => subscription.once('message', (m: Message) => (m.ack(), resolve(m))));

    const retry = await fetch(url, { method: 'POST', body });
    assert.equal(retry.status, 200);
    assert.deepEqual(await retry.json(), { id: jobIdFor(messageId) });
    const message = await received;
    assert.equal((JSON.parse(message.data.toString()) as { id: string }).id, jobIdFor(messageId));
    await subscription.close();

    // Once published, the token is spent: a third post of it is a replay.
    assert.equal((await fetch(url, { method: 'POST', body })).status, 401);
  });

  it('a failing ingress store (counters unavailable) answers 5xx and lets the retry of the same post through', async () => {
    // Fault injection on our own store interface: the first count fails as a Firestore outage would.
    const real = await createIngressStore('memory');
    let failures = 1;
    const store = { ...real, countOnce: (...args: Parameters<typeof real.countOnce>) => (failures-- > 0 ? Promise.reject(new Error('UNAVAILABLE: store down')) : real.countOnce(...args)) };
    const logger = createLogger({ level: 'error', stream: new Writable({ write: (_c, _e, done) => done() }) });
    const published: string[] = [];
    const app = createHttpApp({
      registry: new Registry(),
      readinessChecks: {},
      routers: [
        createMailgunRouter({
          signingKey: KEY,
          store,
          policy: { allowedSenders: ['*'], ownAddresses: [], ownDomains: [], caps: { perSender: 10, senderWindowMs: 60_000, perThread: 10, threadWindowMs: 60_000, perDay: 100 } },
          publish: async (job) => (published.push(job.id), 'm1'),
          limits: { storeMaxBytes: 1 << 20, forwardMaxBytes: 1 << 20, inlineMaxBytes: 0 },
          logger,
        }),
      ],
    });
    const s2: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    try {
      const target = `http://127.0.0.1:${(s2.address() as { port: number }).port}/inbound/mailgun`;
      const body = storePost({ signingKey: KEY, from: 'alice@example.com', recipient: 'ask@x.example', subject: 'Hi', text: 'Q?', messageId: '<s1@example.com>' });
      const first = await fetch(target, { method: 'POST', body });
      assert.ok(first.status >= 500, `got ${first.status}`);
      assert.equal((await fetch(target, { method: 'POST', body })).status, 200);
      assert.deepEqual(published, [jobIdFor('<s1@example.com>')]);
    } finally {
      s2.close();
    }
  });
});
