/**
 * `email-worker publish`: publishes one job (SPEC §3.1) to the Pub/Sub topic.
 *
 *   email-worker publish --from alice@example.com --subject "Q3 numbers" --text "Summarise this" \
 *     --attach report.pdf --export pdf,docx
 *
 * The gcloud equivalent (the JSON is the same job):
 *   gcloud pubsub topics publish email-worker-jobs \
 *     --message='{"version":1,"kind":"api","from":"alice@example.com","subject":"Q3","text":"…","messageId":"<id@host>"}' \
 *     --attribute=context=api
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.ts';
import { parseJob, type JobInput } from '../jobs/schema.ts';
import { createPubSub } from '../worker/pubsub-resources.ts';

const HELP = `Usage: email-worker publish --from ADDRESS [options]

Publishes one job to PUBSUB_TOPIC (PUBSUB_EMULATOR_HOST for the local emulator).

Options:
  --from ADDRESS        sender who gets the reply (required)
  --subject TEXT        subject of the question
  --text TEXT           the question (or --text-file FILE)
  --text-file FILE      read the question from a file
  --attach FILE         attach a file inline (base64); repeatable
  --attach-url URL      attach a file by URL (downloaded by the worker); repeatable
  --export FORMATS      comma-separated: pdf,docx,html
  --kind email|api      job kind (default api)
  --context ui|email|api  timeout profile override
  --message-id ID       Message-ID of the question (default: a new one)
  --dry-run             print the job JSON instead of publishing
  -h, --help            this help`;

const MIME: Record<string, string> = {
  '.pdf': 'application/pdf', '.txt': 'text/plain', '.md': 'text/markdown', '.csv': 'text/csv', '.json': 'application/json',
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp', '.html': 'text/html',
  '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
};

export async function buildJobFromArgs(argv: string[]): Promise<JobInput> {
  const { values } = parseArgs({
    args: argv,
    options: {
      from: { type: 'string' }, subject: { type: 'string' }, text: { type: 'string' }, 'text-file': { type: 'string' },
      attach: { type: 'string', multiple: true }, 'attach-url': { type: 'string', multiple: true }, export: { type: 'string' },
      kind: { type: 'string' }, context: { type: 'string' }, 'message-id': { type: 'string' }, 'dry-run': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (!values.from) throw new Error('--from is required');
  const text = values['text-file'] ? await readFile(values['text-file'], 'utf8') : (values.text ?? '');
  const attachments: NonNullable<JobInput['attachments']> = [];
  for (const file of values.attach ?? []) {
    const info = await stat(file);
    attachments.push({ name: basename(file), contentType: MIME[extname(file).toLowerCase()] ?? 'application/octet-stream', size: info.size, base64: (await readFile(file)).toString('base64') });
  }
  for (const url of values['attach-url'] ?? []) {
    attachments.push({ name: basename(new URL(url).pathname) || 'attachment', url });
  }
  const formats = values.export ? values.export.split(',').map((f) => f.trim()).filter(Boolean) : [];
  return {
    version: 1,
    kind: (values.kind ?? 'api') as 'email' | 'api',
    ...(values.context ? { context: values.context as 'ui' | 'email' | 'api' } : {}),
    from: values.from,
    to: [],
    subject: values.subject ?? '',
    text,
    messageId: values['message-id'] ?? `<${randomUUID()}@email-worker.cli>`,
    attachments,
    ...(formats.length ? { export: { formats: formats as Array<'pdf' | 'docx' | 'html'> } } : {}),
  };
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  let input: JobInput;
  try {
    input = await buildJobFromArgs(argv);
  } catch (error) {
    console.error(`email-worker publish: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  const data = Buffer.from(JSON.stringify(input));
  const parsed = parseJob(data);
  if (!parsed.ok) {
    console.error(`email-worker publish: ${parsed.error.message}`);
    return 2;
  }
  if (argv.includes('--dry-run')) {
    console.log(JSON.stringify(input, null, 2));
    return 0;
  }
  const config = loadConfig(process.env, { worker: false });
  const pubsub = createPubSub(config);
  try {
    const messageId = await pubsub.topic(config.pubsub.topic).publishMessage({
      data,
      attributes: { kind: parsed.job.kind, ...(parsed.job.context ? { context: parsed.job.context } : {}) },
    });
    console.log(JSON.stringify({ published: messageId, jobId: parsed.job.id, topic: config.pubsub.topic }));
    return 0;
  } catch (error) {
    console.error(`email-worker publish: publishing to ${config.pubsub.topic} failed: ${(error as Error).message}`);
    return 1;
  } finally {
    await pubsub.close();
  }
}
