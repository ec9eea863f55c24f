/**
 * One screen for every mail before it may cost a model call or a reply: the loop guard, the
 * sender policy and the reply caps, in that order. Used by the webhook and, for jobs published
 * directly to Pub/Sub and before failure emails, by the worker.
 *
 * `ignore` → answered 200 `{ignored}` at ingress (Mailgun stops), never replied to;
 * `reject` → 406 at ingress (policy), never replied to.
 */
import type { IngressStore } from '../ledger/ingress-store.ts';
import { checkCaps, type CapLimits } from './caps.ts';
import { loopGuard } from './loop-guard.ts';
import { headersFromRecord, type HeaderLookup } from './mail-headers.ts';
import type { Config } from '../config.ts';
import type { Job } from '../jobs/schema.ts';
import { checkSender, type SenderPolicy } from './sender-policy.ts';

export interface ScreenPolicy extends SenderPolicy {
  ownAddresses: readonly string[];
  ownDomains: readonly string[];
  caps: CapLimits;
}

export interface ScreenInput {
  jobId: string;
  sender: string;
  subject: string;
  headers: HeaderLookup;
  threadKey?: string;
}

export type ScreenVerdict = { action: 'accept' } | { action: 'ignore'; reasons: string[] } | { action: 'reject'; reason: string };

export async function screenMail(input: ScreenInput, policy: ScreenPolicy, store: IngressStore): Promise<ScreenVerdict> {
  const loop = loopGuard({ headers: input.headers, from: input.sender, subject: input.subject, ownAddresses: policy.ownAddresses, ownDomains: policy.ownDomains });
  if (loop.ignore) return { action: 'ignore', reasons: loop.reasons };
  const sender = checkSender(input.sender, input.headers, policy);
  if (!sender.ok) return { action: 'reject', reason: sender.reason };
  const caps = await checkCaps(store, policy.caps, { jobId: input.jobId, sender: input.sender, ...(input.threadKey ? { threadKey: input.threadKey } : {}) });
  if (!caps.ok) return { action: 'ignore', reasons: [caps.reason] };
  return { action: 'accept' };
}

/** The screen policy from the configuration: our own address and domain, allowlist, caps. */
export function ingressPolicy(config: Pick<Config, 'allowedSenders' | 'mailFrom' | 'mailgun' | 'ingress'>): ScreenPolicy {
  const own = /<([^<>]+)>/.exec(config.mailFrom)?.[1] ?? config.mailFrom;
  return {
    allowedSenders: config.allowedSenders,
    requireAuth: config.ingress.requireSenderAuth,
    ownAddresses: [own.trim().toLowerCase()],
    ownDomains: [config.mailgun.domain.toLowerCase()],
    caps: config.ingress.caps,
  };
}

/**
 * The worker's screen of a job (published directly, or before a failure email): the same rules
 * on what the job carries — its loop-relevant headers, sender, subject and thread.
 */
export type ScreenableJob = Pick<Job, 'id' | 'from' | 'subject'> & Partial<Pick<Job, 'kind' | 'headers' | 'references' | 'inReplyTo' | 'messageId'>>;

export function screenJob(
  job: ScreenableJob,
  policy: ScreenPolicy,
  store: IngressStore,
): Promise<ScreenVerdict> {
  const threadKey = job.references?.[0] ?? job.inReplyTo ?? job.messageId;
  return screenMail(
    { jobId: job.id, sender: job.from.toLowerCase(), subject: job.subject, headers: headersFromRecord(job.headers), ...(threadKey ? { threadKey } : {}) },
    policy,
    store,
  );
}
