import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, permanent } from '../errors.ts';
import { PandocEngine } from './pandoc-engine.ts';
import { rejection } from '../../test/helpers/worker-error.ts';

/** A document big enough that converting it to DOCX takes seconds. */
const BIG = '# Section\n\nSome *text* and a table\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n'.repeat(3000);


describe('PandocEngine', () => {
  let engine: PandocEngine | undefined;
  afterEach(async () => {
    await engine?.close();
    engine = undefined;
  });

  it('converts off the main thread: timers keep firing while the wasm loads and converts', async () => {
    engine = new PandocEngine();
    let ticks = 0;
    const interval = setInterval(() => ticks++, 5);
    try {
      const out = await engine.render('# Hello', 'html', { timeoutMs: 30_000 });
      assert.match(Buffer.from(out.bytes).toString('utf8'), /Hello/);
    } finally {
      clearInterval(interval);
    }
    // Loading the ~58 MB wasm alone takes far longer than a few 5 ms ticks; a blocked loop gives ~0.
    assert.ok(ticks >= 10, `event loop ticked ${ticks} times during the render`);
  });

  it('a timeout terminates a running conversion and the next call gets a fresh worker', async () => {
    engine = new PandocEngine();
    await engine.sanitize('warm up', { timeoutMs: 30_000 });
    assert.equal(engine.warm, true);
    const error = await rejection(engine.render(BIG, 'docx', { timeoutMs: 200 }));
    assert.equal(error.code, ErrorCodes.TIMEOUT);
    assert.equal(error.retryable, true);
    assert.equal(error.details.phase, 'builtin');
    assert.equal(engine.warm, false, 'the busy worker was terminated');
    const out = await engine.render('# After', 'html', { timeoutMs: 30_000 });
    assert.match(Buffer.from(out.bytes).toString('utf8'), /After/);
  });

  it('an aborted job signal stops the conversion with the signal\'s reason', async () => {
    engine = new PandocEngine();
    await engine.sanitize('warm up', { timeoutMs: 30_000 });
    const job = new AbortController();
    const reason = permanent(ErrorCodes.DEADLINE_EXCEEDED, 'job deadline exceeded');
    const running = engine.render(BIG, 'docx', { timeoutMs: 30_000, signal: job.signal });
    await sleep(50);
    job.abort(reason);
    assert.equal(await rejection(running), reason);
    assert.equal(engine.warm, false);
  });

  it('runs calls one at a time; a queued call that is aborted leaves the running one alone', async () => {
    engine = new PandocEngine();
    const queued = new AbortController();
    const first = engine.sanitize('first *call*', { timeoutMs: 30_000 });
    const second = engine.sanitize('second', { timeoutMs: 30_000, signal: queued.signal });
    queued.abort(permanent(ErrorCodes.ABORTED, 'cancelled'));
    assert.equal((await rejection(second)).code, ErrorCodes.ABORTED);
    assert.match((await first).markdown, /first \*call\*/);
  });

  it('rejects at once when the signal is already aborted, without starting a worker', async () => {
    engine = new PandocEngine();
    const job = new AbortController();
    job.abort(permanent(ErrorCodes.ABORTED, 'gone'));
    assert.equal((await rejection(engine.sanitize('x', { timeoutMs: 30_000, signal: job.signal }))).code, ErrorCodes.ABORTED);
    assert.equal(engine.warm, false);
  });

  it('terminates the idle worker after idleTimeoutMs', async () => {
    engine = new PandocEngine({ idleTimeoutMs: 50 });
    await engine.sanitize('x', { timeoutMs: 30_000 });
    assert.equal(engine.warm, true);
    for (let i = 0; i < 100 && engine.warm; i++) await sleep(20);
    assert.equal(engine.warm, false);
  });

  it('close() rejects queued calls and refuses new ones', async () => {
    engine = new PandocEngine();
    const pending = rejection(engine.sanitize('x', { timeoutMs: 30_000 }));
    await engine.close();
    assert.equal((await pending).code, ErrorCodes.SHUTTING_DOWN);
    assert.equal((await rejection(engine.sanitize('y', { timeoutMs: 30_000 }))).code, ErrorCodes.SHUTTING_DOWN);
  });
});
