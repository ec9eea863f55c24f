/**
 * `npm run demo` (SPEC §6): the main job, end to end, on a machine with no cloud account.
 *
 * Starts the local stack (`local-stack.ts`: Pub/Sub emulator, Gemini and Mailgun stand-ins, a
 * loopback file server, the worker as `node src/main.ts`), posts a sample email with two
 * attachments to `/inbound/mailgun` exactly as a Mailgun store() route would (signed; the
 * attachments wait in the stand-in's message storage), waits for the reply, prints where it is,
 * the time of each step and the active profile, then stops everything it started.
 *
 * With GEMINI_API_KEY set the real Gemini API is used; with MAILGUN_API_KEY (+ MAILGUN_DOMAIN,
 * DEMO_TO) the real Mailgun.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { storePost, type StoredAttachmentRef } from '../ingress/mailgun-post.ts';
import { ROOT, startLocalStack, type LocalStack } from './local-stack.ts';
import { getTimeouts } from '../timeouts/engine.ts';
import { loadTimeoutSettings } from '../timeouts/settings.ts';

// No metadata server here: without this the Google clients print MetadataLookupWarning.
process.env.METADATA_SERVER_DETECTION ??= 'none';
const demoDir = join(ROOT, '.demo');
const log = (line: string) => process.stdout.write(`${line}\n`);

/**
 * The demo asks for every format (the plus tag on the inbound address); the built-in engine makes
 * all three without Quarto.
 */
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
      files: { '/attachments/q3-support-report.txt': SAMPLE_ATTACHMENT, '/attachments/notes.md': '# Notes\nSSO setup docs are out of date.\n' },
      log,
    });

    const jobMessageId = `<${randomUUID()}@demo.example.com>`;
    // Attachments of a store() route stay at Mailgun (here: the stand-in's storage, fetched with
    // Basic auth); with the real Mailgun the loopback file server stands in for the storage.
    const notes = Buffer.from('# Notes\nSSO setup docs are out of date.\n');
    const attachments: StoredAttachmentRef[] = stack.mailgun
      ? [
          { url: stack.mailgun.storeAttachment('mg.demo.localhost', { name: 'q3-support-report.txt', contentType: 'text/plain', data: Buffer.from(SAMPLE_ATTACHMENT) }), name: 'q3-support-report.txt', contentType: 'text/plain', size: Buffer.byteLength(SAMPLE_ATTACHMENT) },
          { url: stack.mailgun.storeAttachment('mg.demo.localhost', { name: 'notes.md', contentType: 'text/markdown', data: notes }), name: 'notes.md', contentType: 'text/markdown', size: notes.length },
        ]
      : [
          { url: `${stack.filesUrl}/attachments/q3-support-report.txt`, name: 'q3-support-report.txt', contentType: 'text/plain', size: Buffer.byteLength(SAMPLE_ATTACHMENT) },
          { url: `${stack.filesUrl}/attachments/notes.md`, name: 'notes.md', contentType: 'text/markdown', size: notes.length },
        ];
    // Export formats are asked for with a plus tag on the inbound address (ask+html.docx@…).
    const domain = stack.env.MAILGUN_DOMAIN ?? 'mg.demo.localhost';
    const body = storePost(
      {
        signingKey: stack.env.MAILGUN_WEBHOOK_SIGNING_KEY!,
        from: `Alice <${process.env.DEMO_TO ?? 'alice@example.com'}>`,
        recipient: `ask+${EXPORT_FORMATS.join('.')}@${domain}`,
        subject: 'Q3 support report — what should we fix first?',
        text: 'Hi! Attached is our Q3 support report. Which two problems should we fix first, and why?\n\nThanks, Alice',
        messageId: jobMessageId,
        references: ['<thread-start@demo.example.com>'],
      },
      attachments,
    );
    const response = await fetch(`${stack.workerUrl}/inbound/mailgun`, { method: 'POST', body });
    const answer = await response.text();
    if (response.status !== 200) {
      log(`✗ the worker refused the webhook post: ${response.status} ${answer}`);
      return 1;
    }
    log(`▶ posted a signed Mailgun store() webhook to ${stack.workerUrl}/inbound/mailgun → ${response.status} ${answer}`);
    log(`  (Message-ID ${jobMessageId}, 2 attachments at Mailgun storage, export ${EXPORT_FORMATS.join('+')})`);

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
