import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkSubscription, pushDeliveriesWithin, type SubscriptionFacts } from './subscription-check.ts';

const expect = { mode: 'pull' as const, hardTimeoutS: 3000, ledgerLeaseS: 120, maxDeliveryAttempts: 5 };
const good: SubscriptionFacts = {
  name: 'projects/p/subscriptions/s',
  ackDeadlineSeconds: 60,
  deadLetter: { topic: 'projects/p/topics/dead', maxDeliveryAttempts: 5 },
  retry: { minimumBackoffS: 10, maximumBackoffS: 600 },
};

describe('subscription check', () => {
  it('passes a pull subscription with a dead-letter policy, a retry policy and the same delivery limit', () => {
    assert.deepEqual(checkSubscription(good, expect), []);
  });

  it('warns when there is no dead-letter policy (Pub/Sub then reports no delivery attempt)', () => {
    const { deadLetter: _, ...noDlq } = good;
    assert.deepEqual(checkSubscription(noDlq, expect).map((w) => w.rule), ['no-dead-letter']);
  });

  it('warns when Pub/Sub dead-letters before the worker reaches its own last delivery', () => {
    const w = checkSubscription({ ...good, deadLetter: { topic: 't', maxDeliveryAttempts: 5 } }, { ...expect, maxDeliveryAttempts: 7 });
    assert.deepEqual(w.map((x) => x.rule), ['dead-letter-before-last-delivery']);
    assert.match(w[0]!.message, /PUBSUB_MAX_DELIVERY_ATTEMPTS=7/);
  });

  it('warns when there is no retry policy', () => {
    const { retry: _, ...noRetry } = good;
    assert.deepEqual(checkSubscription(noRetry, expect).map((w) => w.rule), ['no-retry-policy']);
  });

  it('counts push deliveries of a held job: second at the ack deadline, then one per doubling backoff', () => {
    // Pushes at 0, 600, then 600 + 10, 30, 70, 150, 310, 630, 1230, 1830, 2430 (all ≤ 3120): 11.
    assert.equal(pushDeliveriesWithin(3120, { ackDeadlineSeconds: 600, retry: { minimumBackoffS: 10, maximumBackoffS: 600 } }), 11);
    assert.equal(pushDeliveriesWithin(3120, { ackDeadlineSeconds: 600, retry: { minimumBackoffS: 600, maximumBackoffS: 600 } }), 6, 'at 0, 600, 1200, 1800, 2400, 3000');
    assert.equal(pushDeliveriesWithin(500, { ackDeadlineSeconds: 600 }), 1);
    assert.equal(pushDeliveriesWithin(3120, { ackDeadlineSeconds: 600 }), Number.POSITIVE_INFINITY);
  });

  it('warns in push mode when a running job would reach the dead-letter limit, and on a pull subscription', () => {
    const push = { ...good, ackDeadlineSeconds: 600, pushEndpoint: 'https://w.example/pubsub/push' };
    assert.deepEqual(checkSubscription(push, { ...expect, mode: 'push' }).map((w) => w.rule), ['push-dead-letters-running-job']);
    const roomy = { ...push, deadLetter: { topic: 't', maxDeliveryAttempts: 12 }, retry: { minimumBackoffS: 10, maximumBackoffS: 600 } };
    assert.deepEqual(checkSubscription(roomy, { ...expect, mode: 'push' }), []);
    assert.deepEqual(checkSubscription(good, { ...expect, mode: 'push' }).map((w) => w.rule), ['mode-mismatch', 'push-dead-letters-running-job']);
  });
});
