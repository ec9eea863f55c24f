/**
 * `npm run demo` (SPEC §6): the main job, end to end, on a machine with no cloud account.
 *
 * Starts the local stack (`local-stack.ts`: Pub/Sub emulator, Gemini and Mailgun stand-ins, a
 * loopback file server, the worker as `node src/main.ts`), publishes a sample email job with two
 * attachments, waits for the reply, prints where it is, the time of each step and the active
 * profile, then stops everything it started.
 *
 * With GEMINI_API_KEY set the real Gemini API is used; with MAILGUN_API_KEY (+ MAILGUN_DOMAIN,
 * DEMO_TO) the real Mailgun.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { PubSub } from '@google-cloud/pubsub';
import { ROOT, startLocalStack, type LocalStack } from './local-stack.ts';
import { getTimeouts } from '../timeouts/engine.ts';
import { loadTimeoutSettings } from '../timeouts/settings.ts';

// No metadata server here: without this the Google clients print MetadataLookupWarning.
process.env.METADATA_SERVER_DETECTION ??= 'none';
const demoDir = join(ROOT, '.demo');
const log = (line: string) => process.stdout.write(`${line}\n`);

/** The demo asks for every format; the built-in engine makes all three without Quarto. */
const EXPORT_FORMATS = ['html', 'docx', 'pdf'];

const SAMPLE_ATTACHMENT = `Quarterly support report (sample)
- Tickets opened: 1,284 (up 9 % on Q2)
- Median first response: 2 h 10 min
- Top topics: billing exports, SSO setup, API rate limits
- Churned accounts citing support: 3
`;

async function main(): Promise<number> {
  await rm(demoDir, { recursive: true, force: true });
  let stack: LocalStack | undefined;
  process.once('SIGINT', () => void (stack?.stop() ?? Promise.resolve()).then(() => process.exit(130)));
  try {
    stack = await startLocalStack({
      dir: demoDir,
      topic: `demo-jobs-${randomUUID().slice(0, 8)}`,
      files: { '/attachments/q3-support-report.txt': SAMPLE_ATTACHMENT },
      log,
    });

    const jobMessageId = `<${randomUUID()}@demo.example.com>`;
    const job = {
      version: 1,
      kind: 'email',
      from: process.env.DEMO_TO ?? 'alice@example.com',
      to: ['ask@mg.demo.localhost'],
      subject: 'Q3 support report — what should we fix first?',
      text: 'Hi! Attached is our Q3 support report. Which two problems should we fix first, and why?\n\nThanks, Alice',
      messageId: jobMessageId,
      references: ['<thread-start@demo.example.com>'],
      attachments: [
        { name: 'q3-support-report.txt', contentType: 'text/plain', url: `${stack.filesUrl}/attachments/q3-support-report.txt` },
        { name: 'notes.md', contentType: 'text/markdown', base64: Buffer.from('# Notes\nSSO setup docs are out of date.\n').toString('base64') },
      ],
      export: { formats: EXPORT_FORMATS },
    };
    process.env.PUBSUB_EMULATOR_HOST = stack.env.PUBSUB_EMULATOR_HOST;
    const pubsub = new PubSub({ projectId: stack.project });
    const published = await pubsub.topic(stack.topic).publishMessage({ json: job, attributes: { kind: 'email' } });
    await pubsub.close();
    log(`▶ published job ${published} (Message-ID ${jobMessageId}) with 2 attachments, export ${EXPORT_FORMATS.join('+')}`);

    const finished = await stack.waitForLog((e) => e.message === 'Job finished: reply sent' || String(e.message).startsWith('Job failed'), 120_000);
    if (finished.message !== 'Job finished: reply sent') {
      log(`✗ the job did not produce a reply: ${JSON.stringify(finished)}`);
      return 1;
    }
    const saved = stack.mailgun ? (await readdir(stack.outboxDir)).filter((f) => f.endsWith('.eml')) : [];
    log('');
    log('✔ reply sent');
    if (stack.mailgun) {
      const message = stack.mailgun.messages.at(-1);
      log(`  outbox:      ${saved.map((f) => join(stack!.outboxDir, f)).join(', ') || '(nothing saved?)'}`);
      log(`  subject:     ${message?.fields.subject ?? '?'}`);
      log(`  In-Reply-To: ${message?.headers['In-Reply-To'] ?? '?'}`);
      log(`  References:  ${message?.headers['References'] ?? '?'}`);
      log(`  attachments: ${message?.attachments.map((a) => `${a.filename} (${a.size} B)`).join(', ') || 'none'}`);
      const missing = EXPORT_FORMATS.filter((f) => !message?.attachments.some((a) => a.filename === `answer.${f}`));
      if (missing.length) {
        log(`✗ requested exports missing from the reply: ${missing.join(', ')}`);
        return 1;
      }
    } else {
      log(`  Mailgun message id: ${String(finished.id)}`);
    }
    log('');
    log('  step       time');
    for (const [step, ms] of Object.entries((finished.timings ?? {}) as Record<string, number>)) log(`  ${step.padEnd(10)} ${String(ms).padStart(6)} ms`);
    log(`  ${'total'.padEnd(10)} ${String(finished.totalMs).padStart(6)} ms`);
    const t = getTimeouts('email', loadTimeoutSettings(stack.env));
    log('');
    log(
      `  profile: email (EMAIL_PROCESSING_MODE=true) — stream ${t.streamTimeoutMs / 1000}s, heartbeat ${t.toolHeartbeatMs / 1000}s, ` +
        `hard cap ${t.hardTimeoutMs / 1000}s, genai ${t.genaiTimeoutMs}ms, retries ${t.retryAttempts}× ${t.retryMinMs / 1000}–${t.retryMaxMs / 1000}s, ` +
        `attachment ${t.attachmentDownloadMs / 1000}s, quarto ${t.quartoExportMs / 1000}s, mailgun ${t.mailgunApiMs / 1000}s`,
    );
    log(`  worker log: ${stack.workerLogPath}`);
    return stack.mailgun && saved.length === 0 ? 1 : 0;
  } finally {
    await stack?.stop();
  }
}

process.exitCode = await main().catch((error: unknown) => {
  log(`✗ demo failed: ${(error as Error).stack ?? String(error)}`);
  return 1;
});
