/** Ingress counters on the app's Prometheus registry: posts by outcome, ignored mail by reason. */
import { Counter, Histogram, type Registry } from 'prom-client';
import { DURATION_BUCKETS_MS } from '../observability/metrics.ts';

export interface IngressMetrics {
  /** One answered webhook post: its route action and HTTP status. */
  post(action: string, status: number, durationMs: number): void;
  /** Mail not answered: one count per reason (loop-guard rule, cap, policy). */
  ignored(where: 'ingress' | 'worker', reason: string): void;
}

export function createIngressMetrics(registry: Registry): IngressMetrics {
  const posts = new Counter({ name: 'ingress_posts_total', help: 'Mailgun webhook posts by route action and HTTP status', labelNames: ['action', 'status'], registers: [registry] });
  const duration = new Histogram({ name: 'ingress_post_duration_ms', help: 'Webhook post handling time to the answer, ms', labelNames: ['action'], buckets: [...DURATION_BUCKETS_MS], registers: [registry] });
  const ignored = new Counter({ name: 'mail_ignored_total', help: 'Mail never answered, by where it was stopped and why (loop guard, caps, sender policy)', labelNames: ['where', 'reason'], registers: [registry] });
  // Labelled children are cached: prom-client validates and hashes the labels on every call otherwise.
  const postChildren = new Map<string, { inc(): void }>();
  const durationChildren = new Map<string, { observe(v: number): void }>();
  return {
    post(action, status, durationMs) {
      const key = `${action} ${status}`;
      let p = postChildren.get(key);
      if (!p) postChildren.set(key, (p = posts.labels(action, String(status))));
      p.inc();
      let d = durationChildren.get(action);
      if (!d) durationChildren.set(action, (d = duration.labels(action)));
      d.observe(durationMs);
    },
    ignored(where, reason) {
      ignored.inc({ where, reason });
    },
  };
}
