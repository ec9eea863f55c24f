import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isWorkerError } from '../errors.ts';
import { createStreamTimers } from './stream-timers.ts';

const LIMITS = { operation: 'gemini.stream', firstChunkMs: 100, idleMs: 50, totalMs: 300 };

function phaseOf(signal: AbortSignal): unknown {
  assert.ok(signal.aborted, 'signal aborted');
  assert.ok(isWorkerError(signal.reason));
  return signal.reason.details.phase;
}

describe('createStreamTimers', () => {
  it('fires first-chunk when no chunk arrives in time', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    using timers = createStreamTimers(new AbortController().signal, LIMITS);
    t.mock.timers.tick(99);
    assert.equal(timers.signal.aborted, false);
    t.mock.timers.tick(1);
    assert.equal(phaseOf(timers.signal), 'first-chunk');
  });

  it('switches to the idle limit after the first chunk and re-arms it on every chunk', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    using timers = createStreamTimers(new AbortController().signal, LIMITS);
    t.mock.timers.tick(90);
    timers.chunk();
    assert.equal(timers.phase, 'idle');
    t.mock.timers.tick(40);
    timers.chunk();
    t.mock.timers.tick(40);
    assert.equal(timers.signal.aborted, false, 'each chunk re-arms the idle timer');
    t.mock.timers.tick(10);
    assert.equal(phaseOf(timers.signal), 'idle');
  });

  it('fires total when chunks keep coming but the stream runs too long', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    using timers = createStreamTimers(new AbortController().signal, LIMITS);
    for (let elapsed = 0; elapsed < 300; elapsed += 30) {
      timers.chunk();
      t.mock.timers.tick(30);
    }
    assert.equal(phaseOf(timers.signal), 'total');
  });

  it('passes the parent\'s reason through unchanged', () => {
    const parent = new AbortController();
    using timers = createStreamTimers(parent.signal, LIMITS);
    const reason = new Error('deadline');
    parent.abort(reason);
    assert.equal(timers.signal.reason, reason);
  });

  it('aborts the signal on dispose so an abandoned response is released', () => {
    const timers = createStreamTimers(new AbortController().signal, LIMITS);
    timers.dispose();
    assert.equal(timers.signal.aborted, true);
  });

  it('does not abort on dispose once the stream was read to its end, and still stops the timers', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const timers = createStreamTimers(new AbortController().signal, LIMITS);
    timers.ended();
    timers.dispose();
    t.mock.timers.tick(LIMITS.totalMs);
    assert.equal(timers.signal.aborted, false);
  });
});
