/**
 * Crash and duplicate tests with real worker processes (`src/main.ts`) on the real Pub/Sub and
 * Firestore emulators (issue 8): SIGKILL at chosen points, restart, count the replies the Mailgun
 * stand-in accepted — exactly one every time: mid-stream, during export, right before and right
 * after the Mailgun call; duplicates; SIGTERM. More trials at random points: `npm run bench -- crash`.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCrashHarness, until, type CrashHarness } from './helpers/crash-harness.ts';

const finished = (e: Record<string, unknown>) => e.message === 'Job finished: reply sent';

function job(overrides: Record<string, unknown> = {}) {
  return {
    version: 1,
    kind: 'email',
    id: `job-${randomUUID()}`,
    from: 'alice@example.com',
    to: ['ask@mg.crash.localhost'],
    subject: 'Crash question',
    text: 'What happens after a crash?',
    messageId: `<${randomUUID()}@mail.example.com>`,
    ...overrides,
  };
}

describe('crashes and duplicates (worker processes, Firestore ledger)', { timeout: 180_000 }, () => {
  let h: CrashHarness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('kill -9 mid-stream: a restarted worker takes the job over and sends one reply', async () => {
    h = await startCrashHarness({ ledger: 'firestore' });
    const first = await h.startWorker();
    h.gemini.enqueue({ kind: 'slow', chunkDelayMs: 1000 });
    const j = job();
    await h.publish(j);
    assert.ok(await until(() => h!.gemini.requests.length >= 1, 30_000), 'the stream started');
    await sleep(300);
    await first.kill('SIGKILL');
    const second = await h.startWorker();
    const done = await second.waitForLog(finished, 90_000);
    await sleep(1000);
    assert.equal(h.repliesTo(j.messageId), 1);
    assert.ok(second.logs.some((e) => e.message === 'Job taken over from an expired lease'), 'taken over, not claimed afresh');
    assert.ok(done.replyMessageId);
  });

  it('kill -9 during export (html made, pdf under way): a restarted worker takes the job over and sends one reply with both files', async () => {
    h = await startCrashHarness({ ledger: 'firestore' });
    const first = await h.startWorker();
    const j = job({ export: { formats: ['html', 'pdf'] } });
    await h.publish(j);
    await first.waitForLog((e) => e.message === 'Export made' && e.format === 'html', 90_000);
    assert.equal(h.repliesTo(j.messageId), 0, 'killed before the reply');
    await first.kill('SIGKILL');
    const second = await h.startWorker();
    await second.waitForLog(finished, 120_000);
    await sleep(1000);
    assert.equal(h.repliesTo(j.messageId), 1);
    assert.ok(second.logs.some((e) => e.message === 'Job taken over from an expired lease'), 'taken over, not claimed afresh');
    const reply = h.mailgun.messages.find((m) => m.headers['In-Reply-To'] === j.messageId)!;
    assert.deepEqual(reply.attachments.map((a) => a.filename).sort(), ['answer.html', 'answer.pdf']);
  });

  it('kill -9 right after Mailgun accepted the reply: the next worker finds it accepted and sends nothing', async () => {
    h = await startCrashHarness({ ledger: 'firestore' });
    const first = await h.startWorker();
    h.mailgun.enqueue({ kind: 'accept-then-hang', ms: 60_000 });
    const j = job();
    await h.publish(j);
    assert.ok(await until(() => h!.repliesTo(j.messageId) === 1, 30_000), 'Mailgun accepted the reply');
    await first.kill('SIGKILL');
    const second = await h.startWorker();
    await second.waitForLog((e) => e.message === 'Reply was already accepted by the provider before a restart; not sending again', 90_000);
    await sleep(1000);
    assert.equal(h.repliesTo(j.messageId), 1);
  });

  it('kill -9 right before the Mailgun call succeeds: the next worker looks for the reply, then sends it once', async () => {
    h = await startCrashHarness({ ledger: 'firestore' });
    const first = await h.startWorker();
    // The first send attempt fails (nothing stored); the worker dies before its retry.
    h.mailgun.enqueue({ kind: 'status', status: 503 });
    const j = job();
    await h.publish(j);
    assert.ok(await until(() => h!.mailgun.requests.some((r) => r.route === 'messages'), 30_000), 'the send was attempted');
    await first.kill('SIGKILL');
    assert.equal(h.repliesTo(j.messageId), 0);
    const second = await h.startWorker();
    await second.waitForLog(finished, 90_000);
    await sleep(1000);
    assert.equal(h.repliesTo(j.messageId), 1);
    assert.ok(h.mailgun.requests.some((r) => r.route === 'events'), 'the provider was asked before the resend');
  });

  it('two workers on one subscription, the job published twice: one reply', async () => {
    h = await startCrashHarness({ ledger: 'firestore' });
    const [a, b] = await Promise.all([h.startWorker(), h.startWorker()]);
    const j = job();
    h.gemini.enqueue({ kind: 'slow', chunkDelayMs: 200 }, { kind: 'slow', chunkDelayMs: 200 });
    await Promise.all([h.publish(j), h.publish(j)]);
    assert.ok(await until(() => h!.repliesTo(j.messageId) >= 1, 60_000));
    // Both copies settled: one finished, the other refused or acknowledged as a duplicate.
    const settled = (e: Record<string, unknown>) =>
      e.message === 'Job already finished; acknowledging duplicate delivery' || e.message === 'Job finished: reply sent';
    assert.ok(await until(() => [...a.logs, ...b.logs].filter(settled).length >= 2, 60_000), 'both deliveries settled');
    await sleep(1000);
    assert.equal(h.repliesTo(j.messageId), 1);
  });

  it('SIGTERM mid-job: the lease is released, another instance finishes it, one reply', async () => {
    h = await startCrashHarness({ ledger: 'firestore' });
    const first = await h.startWorker();
    h.gemini.enqueue({ kind: 'slow', chunkDelayMs: 1000 });
    const j = job();
    await h.publish(j);
    assert.ok(await until(() => h!.gemini.requests.length >= 1, 30_000));
    const second = await h.startWorker();
    assert.equal(await first.kill('SIGTERM'), 0, 'a clean exit');
    assert.ok(first.logs.some((e) => e.message === 'Job interrupted by shutdown; lease released for another instance'));
    await second.waitForLog(finished, 90_000);
    await sleep(1000);
    assert.equal(h.repliesTo(j.messageId), 1);
  });
});
