/**
 * Pub/Sub client and resources. With PUBSUB_EMULATOR_HOST set, missing topic, subscription and
 * dead-letter topic are created (the emulator starts empty); in production they come from
 * `infra/` (Terraform) and are only looked up.
 *
 * Settings and the dead-letter arithmetic (pull: ack deadline 60 s extended by the client, backoff
 * 10–600 s, 5 deliveries) are explained in docs/delivery.md; the worker counts deliveries in its
 * ledger and checks the live subscription at start-up (`subscription-check.ts`).
 */
import { Duration, PubSub, type Subscription, type Topic } from '@google-cloud/pubsub';
import type { Config } from '../config.ts';

export function createPubSub(config: Pick<Config, 'projectId' | 'pubsub'>): PubSub {
  // The emulator needs no credentials but does need a project id. With no metadata server to ask,
  // the auth library would print a MetadataLookupWarning on every start.
  if (config.pubsub.emulatorHost) process.env.METADATA_SERVER_DETECTION ??= 'none';
  return new PubSub({ projectId: config.projectId });
}

export interface PubSubResources {
  topic: Topic;
  subscription: Subscription;
}

export async function ensureResources(
  pubsub: PubSub,
  config: Pick<Config, 'pubsub' | 'deadLetterSubscription'> & Partial<Pick<Config, 'deadLetterNotices'>>,
  options: {
    create: boolean;
    /** Create the (pull) subscription too; push subscriptions need the service URL and come from infra/ or the test. @defaultValue true */
    createSubscription?: boolean;
    ackDeadlineSeconds?: number;
    backoffSeconds?: { min: number; max: number };
  },
): Promise<PubSubResources> {
  const { topic: topicName, subscription: subName, deadLetterTopic, maxDeliveryAttempts } = config.pubsub;
  const topic = pubsub.topic(topicName);
  const subscription = pubsub.subscription(subName);
  if (!options.create) return { topic, subscription };

  const dead = pubsub.topic(deadLetterTopic);
  const deadKeeper = pubsub.subscription(config.deadLetterSubscription);
  // Dead-letter notices (pull): a second subscription on the dead-letter topic, read by the worker.
  const notices = options.createSubscription !== false && config.deadLetterNotices ? pubsub.subscription(config.deadLetterNotices.subscription) : undefined;
  // One round trip instead of five: start-up time is the time a push instance keeps a sender waiting.
  const [[topicExists], [deadExists], [keeperExists], [subExists], [noticesExist]] = await Promise.all([
    topic.exists(),
    dead.exists(),
    deadKeeper.exists(),
    options.createSubscription === false ? [true] : subscription.exists(),
    notices ? notices.exists() : [true],
  ]);
  await Promise.all([
    topicExists ? undefined : pubsub.createTopic(topicName).catch(ignoreAlreadyExists),
    deadExists ? undefined : pubsub.createTopic(deadLetterTopic).catch(ignoreAlreadyExists),
  ]);
  // Without a subscription on it, the dead-letter topic drops what it receives.
  if (!keeperExists) await dead.createSubscription(config.deadLetterSubscription).catch(ignoreAlreadyExists);
  if (options.createSubscription === false) return { topic, subscription };
  const ackDeadlineSeconds = options.ackDeadlineSeconds ?? 60;
  const retryPolicy = {
    minimumBackoff: { seconds: options.backoffSeconds?.min ?? 10 },
    maximumBackoff: { seconds: options.backoffSeconds?.max ?? 600 },
  };
  if (notices && !noticesExist) {
    await dead.createSubscription(config.deadLetterNotices!.subscription, { ackDeadlineSeconds, retryPolicy }).catch(ignoreAlreadyExists);
  }
  if (!subExists) {
    await topic
      .createSubscription(subName, {
        ackDeadlineSeconds,
        // Pub/Sub accepts 5–100.
        deadLetterPolicy: { deadLetterTopic: dead.name, maxDeliveryAttempts: Math.max(5, maxDeliveryAttempts) },
        retryPolicy,
      })
      .catch(ignoreAlreadyExists);
  }
  return { topic, subscription };
}

function ignoreAlreadyExists(error: { code?: number }): void {
  // 6 = ALREADY_EXISTS: another process created it first.
  if (error.code !== 6) throw error;
}

export { Duration };
