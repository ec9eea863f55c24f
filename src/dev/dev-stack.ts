/**
 * `npm run dev`: the demo's stack, kept running, with the worker's log on this terminal. Feed it
 * from another terminal with the printed `email-worker send` (signed webhook post) or `publish` line;
 * Ctrl-C stops everything.
 */
import { join } from 'node:path';
import { ROOT, startLocalStack } from './local-stack.ts';

process.env.METADATA_SERVER_DETECTION ??= 'none';
const log = (line: string) => process.stdout.write(`${line}\n`);

const stack = await startLocalStack({ dir: join(ROOT, '.dev'), echoWorkerLog: true, log });
log('');
log(`✔ worker ready on ${stack.workerUrl} (/healthz, /readyz, /metrics); replies land in ${stack.outboxDir}`);
log('  send an email from another terminal, signed as Mailgun would post it to /inbound/mailgun:');
log(
  `  MAILGUN_WEBHOOK_SIGNING_KEY=${stack.env.MAILGUN_WEBHOOK_SIGNING_KEY} EMAIL_WORKER_URL=${stack.workerUrl} MAILGUN_DOMAIN=${stack.env.MAILGUN_DOMAIN ?? 'mg.localhost'} \\\n` +
    `    npx email-worker send --from you@example.com --subject "Hello" --text "What can you do?" [--attach FILE]`,
);
log('  or publish a job straight to Pub/Sub:');
log(
  `  PUBSUB_EMULATOR_HOST=${stack.env.PUBSUB_EMULATOR_HOST} GOOGLE_CLOUD_PROJECT=${stack.project} PUBSUB_TOPIC=${stack.topic} \\\n` +
    `    npx email-worker publish --from you@example.com --subject "Hello" --text "What can you do?" --export html`,
);
log('  Ctrl-C stops the worker, the stand-ins and the emulator.');

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void stack.stop().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
