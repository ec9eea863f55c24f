/** `explain --subscription`: the start-up subscription check, run from the command line. */
import { loadConfig, type Config } from '../config.ts';
import { ledgerLeaseS } from '../timeouts/chain.ts';
import { createPubSub } from './pubsub-resources.ts';
import { checkSubscription, inspectSubscription, type SubscriptionFacts, type SubscriptionWarning } from './subscription-check.ts';

export type SubscriptionReport = { facts: SubscriptionFacts; warnings: SubscriptionWarning[] } | { error: string };

export function expectationsOf(config: Config) {
  return {
    mode: config.workerMode,
    hardTimeoutS: Math.max(config.timeouts.profiles.ui.hardTimeout, config.timeouts.profiles.email.hardTimeout),
    ledgerLeaseS,
    maxDeliveryAttempts: config.pubsub.maxDeliveryAttempts,
  };
}

export async function reportSubscription(env: NodeJS.ProcessEnv): Promise<SubscriptionReport> {
  let config: Config;
  try {
    config = loadConfig(env, { worker: false });
  } catch (error) {
    return { error: (error as Error).message };
  }
  const pubsub = createPubSub(config);
  try {
    const facts = await inspectSubscription(pubsub.subscription(config.pubsub.subscription));
    return { facts, warnings: checkSubscription(facts, expectationsOf(config)) };
  } catch (error) {
    return { error: `cannot read subscription ${config.pubsub.subscription}: ${(error as Error).message}` };
  } finally {
    await pubsub.close();
  }
}

export function renderSubscriptionReport(report: SubscriptionReport): string {
  if ('error' in report) return `Subscription check: not possible — ${report.error}\n`;
  const f = report.facts;
  const lines = [
    `Subscription ${f.name}`,
    `  ack deadline ${f.ackDeadlineSeconds}s; dead letter ${f.deadLetter ? `after ${f.deadLetter.maxDeliveryAttempts} deliveries → ${f.deadLetter.topic}` : 'none'}; retry ${f.retry ? `${f.retry.minimumBackoffS}–${f.retry.maximumBackoffS}s` : 'none (immediate)'}; ${f.pushEndpoint ? `push → ${f.pushEndpoint}` : 'pull'}`,
    ...(report.warnings.length ? report.warnings.map((w) => `  ⚠ ${w.message}`) : ['  ✓ no warnings']),
  ];
  return `${lines.join('\n')}\n`;
}
