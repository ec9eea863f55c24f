/**
 * Start-up inspection of the Pub/Sub subscription the worker consumes: settings that break the
 * deadline chain or the "one reply" promise are logged as warnings and shown by `explain` and in
 * `/readyz` details. Nothing here stops the worker: the ledger still counts deliveries and enforces
 * the job's hard cap; these settings decide what Pub/Sub does around it (docs/delivery.md).
 */
import type { Subscription } from '@google-cloud/pubsub';

export interface SubscriptionFacts {
  name: string;
  ackDeadlineSeconds: number;
  deadLetter?: { topic: string; maxDeliveryAttempts: number };
  retry?: { minimumBackoffS: number; maximumBackoffS: number };
  pushEndpoint?: string;
}

export interface DeliveryExpectations {
  mode: 'pull' | 'push';
  /** Longest job hardTimeout, s (unscaled: platform settings are compared with seed units). */
  hardTimeoutS: number;
  /** Ledger lease, s: a crashed job is taken over at most this long after its last renewal. */
  ledgerLeaseS: number;
  /** PUBSUB_MAX_DELIVERY_ATTEMPTS: the worker's own "last delivery". */
  maxDeliveryAttempts: number;
}

export interface SubscriptionWarning {
  /** Stable id of the rule. */
  rule: 'no-dead-letter' | 'dead-letter-before-last-delivery' | 'no-retry-policy' | 'push-dead-letters-running-job' | 'mode-mismatch' | 'no-dead-letter-notices';
  message: string;
}

const seconds = (d: { seconds?: number | string | Long | null; nanos?: number | null } | null | undefined): number =>
  d ? Number(d.seconds ?? 0) + (d.nanos ?? 0) / 1e9 : 0;
type Long = { toString(): string };

/** Reads what matters from the subscription's metadata. */
export async function inspectSubscription(subscription: Subscription): Promise<SubscriptionFacts> {
  const [m] = await subscription.getMetadata();
  return {
    name: subscription.name,
    ackDeadlineSeconds: m.ackDeadlineSeconds ?? 10,
    ...(m.deadLetterPolicy?.deadLetterTopic
      ? { deadLetter: { topic: m.deadLetterPolicy.deadLetterTopic, maxDeliveryAttempts: m.deadLetterPolicy.maxDeliveryAttempts || 5 } }
      : {}),
    ...(m.retryPolicy ? { retry: { minimumBackoffS: seconds(m.retryPolicy.minimumBackoff) || 10, maximumBackoffS: seconds(m.retryPolicy.maximumBackoff) || 600 } } : {}),
    ...(m.pushConfig?.pushEndpoint ? { pushEndpoint: m.pushConfig.pushEndpoint } : {}),
  };
}

/**
 * Push: Pub/Sub deliveries of one message within `spanS` of its first push, when the first is held
 * past the ack deadline and every later one is answered at once (409: the job is running). The
 * second comes at the ack deadline (counted without backoff: the conservative side), each later one
 * after the next backoff, doubling from the minimum up to the maximum (Pub/Sub's exponential retry
 * policy; with no policy, redelivery is immediate and the count has no bound).
 */
export function pushDeliveriesWithin(spanS: number, facts: Pick<SubscriptionFacts, 'ackDeadlineSeconds' | 'retry'>): number {
  const min = facts.retry?.minimumBackoffS ?? 0;
  const max = facts.retry?.maximumBackoffS ?? 0;
  if (facts.ackDeadlineSeconds > spanS) return 1;
  if (min <= 0) return Number.POSITIVE_INFINITY;
  let t = facts.ackDeadlineSeconds;
  let deliveries = 2;
  for (let backoff = min; (t += backoff) <= spanS; backoff = Math.min(max, backoff * 2)) deliveries += 1;
  return deliveries;
}

export function checkSubscription(facts: SubscriptionFacts, expect: DeliveryExpectations): SubscriptionWarning[] {
  const warnings: SubscriptionWarning[] = [];
  if (!facts.deadLetter) {
    warnings.push({
      rule: 'no-dead-letter',
      message: `subscription ${facts.name} has no dead-letter policy: Pub/Sub reports no delivery attempt, so the worker counts deliveries in its ledger (last delivery = ${expect.maxDeliveryAttempts}) and a message whose every delivery crashes is redelivered until it expires`,
    });
  } else if (facts.deadLetter.maxDeliveryAttempts < expect.maxDeliveryAttempts) {
    warnings.push({
      rule: 'dead-letter-before-last-delivery',
      message: `subscription ${facts.name} dead-letters after ${facts.deadLetter.maxDeliveryAttempts} deliveries, before the worker's last delivery (PUBSUB_MAX_DELIVERY_ATTEMPTS=${expect.maxDeliveryAttempts}) would tell the sender; set them equal`,
    });
  }
  if (!facts.retry) {
    warnings.push({
      rule: 'no-retry-policy',
      message: `subscription ${facts.name} has no retry policy: a refused or failed delivery is redelivered at once, so a job that is busy elsewhere spins through its deliveries`,
    });
  }
  if (expect.mode === 'push') {
    if (!facts.pushEndpoint) {
      warnings.push({ rule: 'mode-mismatch', message: `WORKER_MODE=push but subscription ${facts.name} is a pull subscription: no pushes will arrive` });
    }
    const spanS = expect.hardTimeoutS + expect.ledgerLeaseS;
    const deliveries = pushDeliveriesWithin(spanS, facts);
    const limit = facts.deadLetter?.maxDeliveryAttempts;
    if (limit !== undefined && deliveries >= limit) {
      warnings.push({
        rule: 'push-dead-letters-running-job',
        message: `push: a job held for hardTimeout + lease (${spanS}s) sees about ${deliveries} deliveries (ack deadline ${facts.ackDeadlineSeconds}s, backoff ${facts.retry?.minimumBackoffS ?? 0}–${facts.retry?.maximumBackoffS ?? 0}s) but the dead-letter limit is ${limit}: a running job may be dead-lettered; raise maxDeliveryAttempts above ${deliveries}, raise the backoff, or use pull (docs/delivery.md)`,
      });
    }
  } else if (facts.pushEndpoint) {
    warnings.push({ rule: 'mode-mismatch', message: `WORKER_MODE=pull but subscription ${facts.name} pushes to ${facts.pushEndpoint}` });
  }
  return warnings;
}
