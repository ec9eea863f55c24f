import { describe, it, beforeEach, afterEach, mock } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { ErrorCodes, isWorkerError, permanent, type WorkerError } from '../errors.ts';
import { abortReason, Deadline, operationTimeout } from './deadline.ts';

const reasonOf = (signal: AbortSignal) => signal.reason as WorkerError;

describe('Deadline', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  it('counts time left and elapsed', () => {
    using deadline = Deadline.after(1000);
    mock.timers.tick(300);
    assert.equal(deadline.remainingMs(), 700);
    assert.equal(deadline.elapsedMs(), 300);
    assert.equal(deadline.expired, false);
  });

  it('aborts at its budget with a non-retryable EW_ERR_DEADLINE_EXCEEDED naming itself', () => {
    using deadline = Deadline.after(100, { label: 'job email' });
    mock.timers.tick(99);
    assert.equal(deadline.signal.aborted, false);
    mock.timers.tick(1);
    const reason = reasonOf(deadline.signal);
    assert.equal(reason.code, ErrorCodes.DEADLINE_EXCEEDED);
    assert.equal(reason.retryable, false);
    assert.equal(reason.message, 'job email deadline of 100ms exceeded');
    assert.deepEqual(reason.details, { deadline: 'job email', limitMs: 100 });
    assert.equal(deadline.remainingMs(), 0);
    assert.throws(() => deadline.throwIfExpired(), (e) => e === reason);
  });

  it('child: its own timer fires first with a retryable EW_ERR_TIMEOUT naming the operation and phase', () => {
    using deadline = Deadline.after(1000);
    using child = deadline.child('gemini.stream', 30, 'first-chunk');
    mock.timers.tick(30);
    const reason = reasonOf(child.signal);
    assert.equal(reason.code, ErrorCodes.TIMEOUT);
    assert.equal(reason.retryable, true);
    assert.equal(reason.message, 'gemini.stream first-chunk timed out after 30ms');
    assert.deepEqual(reason.details, { operation: 'gemini.stream', phase: 'first-chunk', limitMs: 30 });
    assert.equal(deadline.signal.aborted, false);
  });

  it('child: bounded by the time left, it aborts with the deadline’s own reason', () => {
    using deadline = Deadline.after(100, { label: 'job' });
    mock.timers.tick(70);
    using child = deadline.child('mailgun.send', 50);
    mock.timers.tick(29);
    assert.equal(child.signal.aborted, false);
    mock.timers.tick(1);
    assert.equal(reasonOf(child.signal).code, ErrorCodes.DEADLINE_EXCEEDED);
    assert.equal(reasonOf(child.signal).message, 'job deadline of 100ms exceeded');
  });

  it('child: without a timeout of its own it ends with the deadline', () => {
    using deadline = Deadline.after(100);
    using child = deadline.child('export.quarto');
    mock.timers.tick(100);
    assert.equal(child.signal.reason, deadline.signal.reason);
  });

  it('keeps the parent’s reason when the job is cancelled (shutdown), for itself and its children', () => {
    const shutdown = new AbortController();
    using deadline = Deadline.after(1000, { parent: shutdown.signal });
    using child = deadline.child('gemini.stream', 500);
    const reason = permanent(ErrorCodes.SHUTTING_DOWN, 'shutting down');
    shutdown.abort(reason);
    assert.equal(deadline.signal.reason, reason);
    assert.equal(child.signal.reason, reason);
  });

  it('abort ends the job now, with EW_ERR_ABORTED by default', () => {
    using deadline = Deadline.after(1000, { label: 'job' });
    deadline.abort();
    assert.equal(reasonOf(deadline.signal).code, ErrorCodes.ABORTED);
    assert.equal(reasonOf(deadline.signal).message, 'job aborted');
    assert.equal(deadline.remainingMs(), 0);
  });

  it('counts as expired once the clock passes it, even before its timer has fired', () => {
    let now = 0;
    using deadline = Deadline.after(100, { now: () => now });
    now = 100;
    // The (mocked) timer has not fired: only the clock moved.
    assert.equal(deadline.remainingMs(), 0);
    assert.equal(deadline.signal.aborted, true);
    assert.equal(reasonOf(deadline.signal).code, ErrorCodes.DEADLINE_EXCEEDED);
    assert.equal(deadline.expired, true);
  });

  it('rejects a negative or non-finite budget', () => {
    assert.throws(() => Deadline.after(-1), TypeError);
    assert.throws(() => Deadline.after(Number.NaN), TypeError);
    assert.throws(() => Deadline.after(Number.POSITIVE_INFINITY), TypeError);
  });

  it('unlinks from its parent when disposed', () => {
    const shutdown = new AbortController();
    const deadline = Deadline.after(1000, { parent: shutdown.signal });
    deadline.dispose();
    shutdown.abort('late');
    assert.equal(deadline.signal.aborted, false);
    mock.timers.tick(2000);
    assert.equal(deadline.signal.aborted, false, 'its timer was cleared');
  });

  it('does not grow the listeners on its signal after 10,000 disposed children', () => {
    using deadline = Deadline.after(60_000);
    deadline.child('op', 10).dispose();
    const afterOne = getEventListeners(deadline.signal, 'abort').length;
    for (let i = 0; i < 10_000; i++) {
      using child = deadline.child('op', 10 + (i % 50));
      void child;
    }
    assert.equal(getEventListeners(deadline.signal, 'abort').length, afterOne);
    assert.ok(afterOne <= 1);
  });
});

describe('abortReason', () => {
  it('returns our own reason as is', () => {
    const controller = new AbortController();
    const reason = operationTimeout('op', 'attempt', 5);
    controller.abort(reason);
    assert.equal(abortReason(controller.signal, 'op'), reason);
  });

  it('wraps a foreign reason in EW_ERR_ABORTED, keeping it as cause', () => {
    const controller = new AbortController();
    controller.abort();
    const error = abortReason(controller.signal, 'attachment.download');
    assert.ok(isWorkerError(error));
    assert.equal(error.code, ErrorCodes.ABORTED);
    assert.equal(error.message, 'attachment.download aborted');
    assert.equal((error.cause as DOMException).name, 'AbortError');
  });
});

describe('operationTimeout', () => {
  it('is retryable and says which operation, phase and limit', () => {
    const error = operationTimeout('gemini.stream', 'idle', 300_000.4);
    assert.equal(error.retryable, true);
    assert.equal(error.message, 'gemini.stream idle timed out after 300000ms');
  });
});
