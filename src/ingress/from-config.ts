/** The webhook router bound to the configuration (used by the app and the ingress benchmark). */
import type { Logger } from 'winston';
import type { Config } from '../config.ts';
import type { Job } from '../jobs/schema.ts';
import type { IngressStore } from '../ledger/ingress-store.ts';
import type { IngressMetrics } from './ingress-metrics.ts';
import { createMailgunRouter } from './mailgun-router.ts';
import { ingressPolicy } from './screen.ts';

export function mailgunRouterFromConfig(
  config: Config,
  deps: { store: IngressStore; publish(job: Job): Promise<string>; logger: Logger; metrics?: IngressMetrics },
) {
  return createMailgunRouter({
    ...(config.mailgun.webhookSigningKey ? { signingKey: config.mailgun.webhookSigningKey } : {}),
    store: deps.store,
    policy: ingressPolicy(config),
    publish: deps.publish,
    limits: { storeMaxBytes: config.ingress.storeMaxBytes, forwardMaxBytes: config.ingress.forwardMaxBytes, inlineMaxBytes: config.forwardInlineMaxBytes },
    logger: deps.logger,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
  });
}

/** Publishes a job to the topic the way the ingress does: JSON data, `kind` (and `context`) attributes. */
export function jobPublisher(topic: { publishMessage(message: { data: Buffer; attributes: Record<string, string> }): Promise<string> }) {
  return (job: Job) => topic.publishMessage({ data: Buffer.from(JSON.stringify(job)), attributes: { kind: job.kind, ...(job.context ? { context: job.context } : {}) } });
}
