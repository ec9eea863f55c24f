/**
 * SIGTERM semantics (SPEC §3.4): stop taking work, give running jobs the grace period, then
 * interrupt them, release their leases and nack, so another instance answers — exactly once.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, sampleJob, startStack, type Stack } from './helpers/stack.ts';

describe('shutdown', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });

  it('interrupts a running job after the grace period, nacks it, and the next worker sends the one reply', async () => {
    // Scale 0.01: grace 80 ms, stream idle limit 3 s; the first stream is far slower than the grace.
    stack = await startStack({ env: { TIMEOUT_SCALE: '0.01' } });
    stack.gemini.enqueue({ kind: 'slow', chunkDelayMs: 1000 });
    await stack.publish(sampleJob({ subject: 'Interrupted' }));
    await eventually(() => stack!.gemini.requests.length === 1);

    await stack.restartApp();
    const interrupted = await stack.waitForLog((e) => e.message === 'Job interrupted by shutdown; lease released for another instance');
    assert.ok(interrupted);
    assert.equal(stack.mailgun.messages.length, 0, 'no reply from the interrupted worker');

    await stack.waitForLog((e) => e.message === 'Job finished: reply sent', 20_000);
    assert.equal(stack.mailgun.messages.length, 1);
    assert.equal(stack.mailgun.messages[0]!.fields.subject, 'Re: Interrupted');
  });

  it('lets a job that finishes within the grace period complete before stopping', async () => {
    stack = await startStack({ env: { TIMEOUT_SCALE: '0.1', SHUTDOWN_GRACE_S: '10' } });
    // Grace 10 s × 0.1 = 1 s; the stream (4 chunks × 15 ms), the first-use module loads and the
    // reply end well inside it even on a loaded machine (100 ms was seen to be too tight).
    stack.gemini.enqueue({ kind: 'slow', chunkDelayMs: 15 });
    await stack.publish(sampleJob({ subject: 'Quick' }));
    await eventually(() => stack!.gemini.requests.length === 1);
    await stack.app.stop();
    assert.equal(stack.mailgun.messages.length, 1, 'the running job was allowed to finish');
    assert.ok(!stack.logs.some((e) => e.message === 'Job interrupted by shutdown; lease released for another instance'));
  });
});
