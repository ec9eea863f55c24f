/**
 * What /readyz means per mode (issue 9): pull mode is ready once it is subscribed and Pub/Sub and
 * the ledger answer; push mode once the ledger answers — it loads the Pub/Sub client after ready,
 * or on the first publish, whichever comes first.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { hashApiKey } from '../src/api/api-keys.ts';
import { startStack, type Stack } from './helpers/stack.ts';

const KEY = 'key-readiness-0123456789';
const readyz = async (stack: Stack) => {
  const res = await fetch(`${stack.app.url}/readyz`);
  return { status: res.status, body: (await res.json()) as { checks: Record<string, string>; details?: { pubsub?: string } } };
};

describe('readiness per mode', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });

  it('push mode is ready on the ledger alone, before the Pub/Sub client is loaded; the first API publish loads it', async () => {
    stack = await startStack({
      env: { WORKER_MODE: 'push', REQUIRE_PUSH_AUTH: 'false', LEDGER: 'firestore', LEDGER_COLLECTION: `ledger-${randomUUID().slice(0, 8)}`, API_KEYS: `${hashApiKey(KEY)}:mid` },
      // Far beyond the test: only the publish can load the client.
      deferredStartMs: 600_000,
    });
    const before = await readyz(stack);
    assert.equal(before.status, 200);
    assert.deepEqual(before.body.checks, { ledger: 'ok' });
    assert.equal(before.body.details?.pubsub, 'not loaded');

    const created = await fetch(`${stack.app.url}/v1/jobs`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ subject: 'Q3', text: 'Summarise Q3' }) });
    assert.equal(created.status, 202, 'published: the client and the topic (created on the emulator) were loaded on demand');
    assert.equal((await readyz(stack)).body.details?.pubsub, 'ok');
  });

  it('pull mode checks Pub/Sub and the ledger, and runs the subscription check after ready', async () => {
    stack = await startStack();
    const ready = await readyz(stack);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body.checks, { pubsub: 'ok', ledger: 'ok' });
    assert.equal(ready.body.details?.pubsub, undefined, 'no deferred client in pull mode');
    // The subscription the app made on the emulator follows the deadline chain: nothing to warn about.
    assert.deepEqual(stack.app.subscriptionWarnings, []);
  });
});
