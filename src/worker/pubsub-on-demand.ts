/**
 * The Pub/Sub client and its resources, loaded when first needed. Pull mode needs them before it
 * is ready (it subscribes). Push mode does not: pushes arrive over HTTP, and the client — about
 * 200 ms of module loading (gRPC, google-gax, protobufjs) and 140 ms more for google-gax's first
 * RPC — is only needed to publish (webhook, API) and for the subscription check, which push mode
 * runs after it is ready (bench/README.md, startup).
 */
import type { PubSub, Subscription, Topic } from '@google-cloud/pubsub';
import type { Config } from '../config.ts';
import { describeError } from '../errors.ts';
import { lazy } from '../lazy.ts';
import type { ensureResources } from './pubsub-resources.ts';

export interface LoadedPubSub {
  client: PubSub;
  topic: Topic;
  subscription: Subscription;
}

export interface PubSubOnDemand {
  /** Loads the client and looks up (on the emulator: creates) the resources, once. */
  get(): Promise<LoadedPubSub>;
  /** For readiness details: 'not loaded', 'ok' or 'failed: <reason>' (the next `get` tries again). */
  readonly state: string;
  /** Closes the client if it was loaded. */
  close(): Promise<void>;
}

export function pubsubOnDemand(
  config: Pick<Config, 'projectId' | 'pubsub' | 'deadLetterSubscription' | 'deadLetterNotices'>,
  resourceOptions: Parameters<typeof ensureResources>[2],
): PubSubOnDemand {
  let loaded: PubSub | undefined;
  let state = 'not loaded';
  const get = lazy(async () => {
    const { createPubSub, ensureResources } = await import('./pubsub-resources.ts');
    const client = createPubSub(config);
    try {
      const resources = await ensureResources(client, config, resourceOptions);
      loaded = client;
      state = 'ok';
      return { client, ...resources };
    } catch (error) {
      state = `failed: ${describeError(error)}`;
      await client.close().catch(() => undefined);
      throw error;
    }
  });
  return {
    get,
    get state() {
      return state;
    },
    close: async () => {
      await loaded?.close();
      loaded = undefined;
    },
  };
}
