/**
 * `email-worker dlq list|replay`: inspect and republish dead letters (docs/delivery.md §5).
 *
 *   email-worker dlq list [--wait 3] [--max 100] [--json]
 *   email-worker dlq replay (--id ID … | --all) [--wait 3]
 *
 * Reads PUBSUB_DEAD_LETTER_SUBSCRIPTION (a subscription on the dead-letter topic). `list` leaves
 * every message where it is (nack); `replay` republishes the chosen ones to PUBSUB_TOPIC with their
 * attributes (without Pub/Sub's dead-letter bookkeeping) and only then acknowledges them. Replaying
 * is safe: the ledger acknowledges a finished job as a duplicate, and an unfinished one continues
 * under its first claim's deadline (usually spent: its sender gets the failure email).
 * An ID is the dead letter's Pub/Sub message id or the job id.
 */
import { parseArgs } from 'node:util';
import type { Message } from '@google-cloud/pubsub';
import { loadConfig } from '../config.ts';
import { describeError } from '../errors.ts';
import { createPubSub } from '../worker/pubsub-resources.ts';

const HELP = `Usage: email-worker dlq list [--wait S] [--max N] [--json]
       email-worker dlq replay (--id ID ... | --all) [--wait S]

Dead letters from PUBSUB_DEAD_LETTER_SUBSCRIPTION. list: show them, leave them. replay: republish
to PUBSUB_TOPIC, then remove them from the dead-letter subscription. ID: Pub/Sub message id or job id.

Options:
  --wait S   seconds to collect messages (default 3)
  --max N    at most N messages (default 100)
  --id ID    a dead letter to replay; repeatable
  --all      replay every dead letter collected
  --json     one JSON object per line`;

export interface DeadLetter {
  pubsubMessageId: string;
  publishTime: string;
  jobId?: string;
  from?: string;
  subject?: string;
  deliveries?: string;
  sourceSubscription?: string;
}

function describe(m: Message): DeadLetter {
  let job: { id?: unknown; from?: unknown; subject?: unknown } = {};
  try {
    job = JSON.parse(m.data.toString('utf8')) as typeof job;
  } catch {
    // Not JSON: shown by its Pub/Sub id only.
  }
  return {
    pubsubMessageId: m.id,
    publishTime: m.publishTime.toISOString(),
    ...(typeof job.id === 'string' ? { jobId: job.id } : {}),
    ...(typeof job.from === 'string' ? { from: job.from } : {}),
    ...(typeof job.subject === 'string' ? { subject: job.subject } : {}),
    ...(m.attributes.CloudPubSubDeadLetterSourceDeliveryCount ? { deliveries: m.attributes.CloudPubSubDeadLetterSourceDeliveryCount } : {}),
    ...(m.attributes.CloudPubSubDeadLetterSourceSubscription ? { sourceSubscription: m.attributes.CloudPubSubDeadLetterSourceSubscription } : {}),
  };
}

export async function run(argv: string[], io: { stdout?: { write(t: string): unknown }; env?: NodeJS.ProcessEnv } = {}): Promise<number> {
  const out = io.stdout ?? process.stdout;
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { wait: { type: 'string' }, max: { type: 'string' }, id: { type: 'string', multiple: true }, all: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    process.stderr.write(`email-worker dlq: ${(error as Error).message}\n\n${HELP}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const action = positionals[0];
  if (values.help) {
    out.write(`${HELP}\n`);
    return 0;
  }
  const waitMs = Number(values.wait ?? 3) * 1000;
  const max = Number(values.max ?? 100);
  const ids = new Set(values.id ?? []);
  if ((action !== 'list' && action !== 'replay') || !Number.isFinite(waitMs) || !Number.isInteger(max) || max < 1 || (action === 'replay' && !ids.size && !values.all)) {
    process.stderr.write(`${HELP}\n`);
    return 2;
  }
  let config;
  try {
    config = loadConfig(io.env ?? process.env, { worker: false });
  } catch (error) {
    process.stderr.write(`email-worker dlq: ${describeError(error)}\n`);
    return 2;
  }
  const pubsub = createPubSub(config);
  const subscription = pubsub.subscription(config.deadLetterSubscription, { flowControl: { maxMessages: max, allowExcessMessages: false } });
  const collected: Message[] = [];
  subscription.on('message', (m: Message) => {
    // Seen twice within one run only when a nack came back; keep the first.
    if (collected.length < max && !collected.some((c) => c.id === m.id)) collected.push(m);
    else m.nack();
  });
  let failure: Error | undefined;
  subscription.on('error', (e: Error) => (failure = e));
  await new Promise((r) => setTimeout(r, waitMs));
  let code = 0;
  try {
    if (failure) throw failure;
    for (const m of collected) {
      const d = describe(m);
      const chosen = action === 'replay' && (values.all || ids.has(d.pubsubMessageId) || (d.jobId !== undefined && ids.has(d.jobId)));
      if (chosen) {
        const attributes = Object.fromEntries(Object.entries(m.attributes).filter(([k]) => !k.startsWith('CloudPubSubDeadLetter')));
        const newId = await pubsub.topic(config.pubsub.topic).publishMessage({ data: m.data, attributes });
        m.ack();
        out.write(values.json ? `${JSON.stringify({ replayed: d, newPubsubMessageId: newId })}\n` : `replayed ${d.pubsubMessageId} (job ${d.jobId ?? '?'}) as ${newId}\n`);
      } else {
        m.nack();
        if (action === 'list') {
          out.write(values.json ? `${JSON.stringify(d)}\n` : `${d.pubsubMessageId}  ${d.publishTime}  job ${d.jobId ?? '?'}  from ${d.from ?? '?'}  deliveries ${d.deliveries ?? '?'}  ${d.subject ?? ''}\n`);
        }
      }
    }
    if (!collected.length && !values.json) out.write(`no dead letters in ${config.deadLetterSubscription}\n`);
  } catch (error) {
    process.stderr.write(`email-worker dlq: ${describeError(error)}\n`);
    code = 1;
  } finally {
    await subscription.close();
    await pubsub.close();
  }
  return code;
}
