import { describe, it, beforeEach, afterEach, mock } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { execFile } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { createTimeoutController } from './timeout-controller.ts';

const timedOut = (label: string) => () => new Error(`${label} timed out`);

describe('createTimeoutController', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('aborts with the onTimeout reason when its timer fires, not before', () => {
    const c = createTimeoutController(undefined, 20, timedOut('op'));
    mock.timers.tick(19);
    assert.equal(c.signal.aborted, false);
    mock.timers.tick(1);
    assert.equal(c.signal.aborted, true);
    assert.equal((c.signal.reason as Error).message, 'op timed out');
    c.dispose();
  });

  it('aborts with the parent’s reason when the parent aborts first, and its own timer never fires', () => {
    const parent = new AbortController();
    let timerFired = false;
    const c = createTimeoutController(parent.signal, 20, () => {
      timerFired = true;
      return 'own';
    });
    const reason = new Error('shutdown');
    parent.abort(reason);
    assert.equal(c.signal.reason, reason);
    mock.timers.tick(50);
    assert.equal(timerFired, false);
    c.dispose();
  });

  it('starts aborted, with the parent’s reason, when the parent already is', () => {
    const parent = new AbortController();
    parent.abort('gone');
    const c = createTimeoutController(parent.signal, 20, timedOut('op'));
    assert.equal(c.signal.aborted, true);
    assert.equal(c.signal.reason, 'gone');
    assert.equal(getEventListeners(parent.signal, 'abort').length, 0);
    c.dispose();
  });

  it('re-arms on reset (an idle timer after each chunk)', () => {
    const c = createTimeoutController(undefined, 20, timedOut('idle'));
    mock.timers.tick(15);
    c.reset(20);
    mock.timers.tick(15);
    assert.equal(c.signal.aborted, false);
    mock.timers.tick(5);
    assert.equal(c.signal.aborted, true);
    c.reset(20); // no-op once aborted
    assert.equal((c.signal.reason as Error).message, 'idle timed out');
    c.dispose();
  });

  it('clear stops the timer without aborting', () => {
    const c = createTimeoutController(undefined, 20, timedOut('op'));
    c.clear();
    mock.timers.tick(100);
    assert.equal(c.signal.aborted, false);
    c.dispose();
  });

  it('abort aborts now with the given reason and stops the timer', () => {
    let timerFired = false;
    const c = createTimeoutController(undefined, 20, () => (timerFired = true));
    c.abort('cancelled');
    mock.timers.tick(50);
    assert.equal(c.signal.reason, 'cancelled');
    assert.equal(timerFired, false);
  });

  it('never fires for an infinite timeout, and clamps one beyond setTimeout’s range instead of firing at once', () => {
    const infinite = createTimeoutController(undefined, Number.POSITIVE_INFINITY, timedOut('inf'));
    const huge = createTimeoutController(undefined, 2 ** 31 + 5, timedOut('huge'));
    mock.timers.tick(1000);
    assert.equal(infinite.signal.aborted, false);
    assert.equal(huge.signal.aborted, false);
    infinite.dispose();
    huge.dispose();
  });

  it('dispose unlinks from the parent and stops the timer; it is idempotent', () => {
    const parent = new AbortController();
    const c = createTimeoutController(parent.signal, 20, timedOut('op'));
    c.dispose();
    c.dispose();
    mock.timers.tick(50);
    parent.abort('late');
    assert.equal(c.signal.aborted, false);
  });

  it('keeps one listener on the parent however many children it has, and none grow after 10,000 disposed children', () => {
    const parent = new AbortController();
    const baseline = getEventListeners(parent.signal, 'abort').length;
    const first = createTimeoutController(parent.signal, 1000, timedOut('op'));
    first.dispose();
    const afterOne = getEventListeners(parent.signal, 'abort').length;
    assert.ok(afterOne <= baseline + 1);
    const live = Array.from({ length: 10_000 }, () => createTimeoutController(parent.signal, 1000, timedOut('op')));
    assert.equal(getEventListeners(parent.signal, 'abort').length, afterOne);
    for (const c of live) c.dispose();
    for (let i = 0; i < 10_000; i++) createTimeoutController(parent.signal, 1000, timedOut('op')).dispose();
    assert.equal(getEventListeners(parent.signal, 'abort').length, afterOne);
  });

  it('forwards the parent’s abort to every live child, and to none of the disposed ones', () => {
    const parent = new AbortController();
    const live = Array.from({ length: 1000 }, () => createTimeoutController(parent.signal, 1000, timedOut('op')));
    const disposed = Array.from({ length: 1000 }, () => createTimeoutController(parent.signal, 1000, timedOut('op')));
    for (const c of disposed) c.dispose();
    parent.abort('stop');
    assert.ok(live.every((c) => c.signal.reason === 'stop'));
    assert.ok(disposed.every((c) => !c.signal.aborted));
  });

  it('forwards an abort down a chain of its own controllers without listeners on them', () => {
    const root = new AbortController();
    const job = createTimeoutController(root.signal, 1000, timedOut('job'));
    const attempt = createTimeoutController(job.signal, 500, timedOut('attempt'));
    const phase = createTimeoutController(attempt.signal, 100, timedOut('phase'));
    assert.equal(getEventListeners(job.signal, 'abort').length, 0);
    assert.equal(getEventListeners(attempt.signal, 'abort').length, 0);
    job.abort('cancelled');
    assert.equal(attempt.signal.reason, 'cancelled');
    assert.equal(phase.signal.reason, 'cancelled');
    mock.timers.tick(1000);
    assert.equal(phase.signal.reason, 'cancelled', 'its own timer was stopped');
  });

  it('forwards a parent timer’s reason to its children', () => {
    const job = createTimeoutController(undefined, 50, timedOut('job'));
    const attempt = createTimeoutController(job.signal, 500, timedOut('attempt'));
    mock.timers.tick(50);
    assert.equal((attempt.signal.reason as Error).message, 'job timed out');
  });

  it('skips a child that another child’s abort handler disposes', () => {
    const parent = new AbortController();
    const a = createTimeoutController(parent.signal, 1000, timedOut('a'));
    const b = createTimeoutController(parent.signal, 1000, timedOut('b'));
    a.signal.addEventListener('abort', () => b.dispose());
    parent.abort('stop');
    assert.equal(a.signal.aborted, true);
    assert.equal(b.signal.aborted, false);
  });
});

describe('createTimeoutController timers', () => {
  it('do not keep the process alive (unref’d)', async () => {
    const module = pathToFileURL(new URL('./timeout-controller.ts', import.meta.url).pathname).href;
    const script = `import { createTimeoutController } from ${JSON.stringify(module)};
      createTimeoutController(undefined, 60_000, () => 'late');
      console.log('started');`;
    // If the timer held the process, this would run for a minute and the test would time out.
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 });
    assert.equal(stdout.trim(), 'started');
  });
});
