/**
 * Push delivery end to end on the real Pub/Sub emulator: the emulator POSTs to the worker's
 * /pubsub/push, the worker holds the request while the job runs. The emulator pushes again when
 * the ack deadline (10 s, its minimum) passes while the first request is still open; that delivery
 * must get a non-2xx without side effects, and the sender one reply.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { PubSub } from '@google-cloud/pubsub';
import { eventually, sampleJob, startStack, type Stack } from './helpers/stack.ts';

const finished = (e: Record<string, unknown>) => e.message === 'Job finished: reply sent';
const refused = (e: Record<string, unknown>) => e.message === 'Job is leased by another live worker; refusing this delivery';

async function pushSubscription(stack: Stack): Promise<PubSub> {
  const pubsub = new PubSub({ projectId: stack.config.projectId });
  await pubsub.topic(stack.config.pubsub.topic).createSubscription(stack.config.pubsub.subscription, {
    ackDeadlineSeconds: 10,
    pushConfig: { pushEndpoint: `${stack.app.url}/pubsub/push` },
    retryPolicy: { minimumBackoff: { seconds: 1 }, maximumBackoff: { seconds: 2 } },
  });
  return pubsub;
}

describe('push mode on the Pub/Sub emulator', () => {
  let stack: Stack | undefined;
  let pubsub: PubSub | undefined;
  afterEach(async () => {
    await stack?.stop();
    await pubsub?.close();
    stack = undefined;
  });

  it('answers a pushed job with one reply and acknowledges it', async () => {
    stack = await startStack({ env: { WORKER_MODE: 'push', REQUIRE_PUSH_AUTH: 'false' } });
    pubsub = await pushSubscription(stack);
    await stack.publish(sampleJob());
    await stack.waitForLog(finished, 20_000);
    await sleep(1500);
    assert.equal(stack.mailgun.messages.length, 1);
    assert.equal(stack.gemini.requests.length, 1, 'acknowledged: not pushed again');
  });

  it('refuses the push that comes after the ack deadline while the job runs, without side effects, and replies once', async () => {
    // 0.02: hard cap 60 s, idle limit 6 s; four chunks 4 s apart hold the first push past 10 s.
    stack = await startStack({ env: { WORKER_MODE: 'push', REQUIRE_PUSH_AUTH: 'false', TIMEOUT_SCALE: '0.02' } });
    pubsub = await pushSubscription(stack);
    stack.gemini.enqueue({ kind: 'slow', chunkDelayMs: 4000 });
    await stack.publish(sampleJob({ subject: 'Long one' }));
    await stack.waitForLog(refused, 30_000);
    assert.equal(stack.mailgun.messages.length, 0, 'the refused delivery sent nothing');
    await stack.waitForLog(finished, 40_000);
    await eventually(() => stack!.logs.some((e) => e.message === 'Job already finished; acknowledging duplicate delivery') || undefined, 15_000).catch(() => undefined);
    await sleep(1000);
    assert.equal(stack.mailgun.messages.length, 1);
    assert.equal(stack.gemini.requests.length, 1, 'the refused delivery never reached Gemini');
  });
});
