import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, isWorkerError, permanent } from '../errors.ts';
import { LEVEL_TABLE } from './levels.ts';
import { loadTimeoutSettings } from './settings.ts';
import type { Level } from './types.ts';
import { setLevelMetricsSink, withTimeout, type FallbackInfo, type LevelMetricsSink } from './with-timeout.ts';

// Scale 0.001: T1 → 1 ms, T3 → 2 ms, T5 → 10 ms. Scale 1 for calls that must finish in time.
const tiny = loadTimeoutSettings({ TIMEOUT_SCALE: '0.001' });
const real = loadTimeoutSettings({});

function recorder() {
  const entries: Array<{ severity: 'warn' | 'error'; message: string; meta: Record<string, unknown> }> = [];
  return {
    entries,
    warn: (message: string, meta?: object) => void entries.push({ severity: 'warn', message, meta: { ...meta } }),
    error: (message: string, meta?: object) => void entries.push({ severity: 'error', message, meta: { ...meta } }),
  };
}

function sink() {
  const observed: Array<{ level: Level; operation: string; durationMs: number; timedOut: boolean }> = [];
  const metrics: LevelMetricsSink = { observe: (level, operation, durationMs, timedOut) => void observed.push({ level, operation, durationMs, timedOut }) };
  return { observed, metrics };
}

/** Work that only ends when its signal aborts (then rejects with the reason, as undici would). */
function stuck(seen: { signal?: AbortSignal }) {
  return (signal: AbortSignal) =>
    new Promise<string>((_resolve, reject) => {
      seen.signal = signal;
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
}

describe('LEVEL_TABLE (seed 004)', () => {
  const SEED: Array<[Level, string, number, string, string, number, string]> = [
    ['T1', 'Cache', 100, 'skip cache', 'T1 cache timeout - skipping cache', 1, 'CRITICAL'],
    ['T2', 'File', 500, 'use fallback', 'T2 file timeout - using fallback', 5, 'WARNING'],
    ['T3', 'Layer', 2000, 'partial load', 'T3 layer timeout - returning partial', 10, 'INFO'],
    ['T4', 'Full', 5000, 'core only', 'T4 full timeout - returning core only', 20, 'WARNING'],
    ['T5', 'Complex', 10000, 'abort + summary', 'T5 analysis timeout - returning summary', 30, 'INFO'],
  ];
  for (const [level, name, budgetMs, fallback, fallbackLog, alertPercent, alertSeverity] of SEED) {
    it(`holds ${level} exactly as the seed: ${budgetMs} ms, "${fallbackLog}", alert > ${alertPercent}% ${alertSeverity}`, () => {
      assert.deepEqual({ ...LEVEL_TABLE[level] }, { name, budgetMs, fallback, fallbackLog, alertPercent, alertSeverity });
    });
  }
});

describe('withTimeout', () => {
  afterEach(() => setLevelMetricsSink(undefined));

  it('returns the value and does not call the fallback when fn finishes in time', async () => {
    const log = recorder();
    const { observed, metrics } = sink();
    let fallbackCalls = 0;
    const value = await withTimeout('T2', 'read template', async () => 'template', () => {
      fallbackCalls++;
      return 'built-in';
    }, { settings: real, logger: log, metrics });
    assert.equal(value, 'template');
    assert.equal(fallbackCalls, 0);
    assert.deepEqual(log.entries, []);
    assert.equal(observed.length, 1);
    assert.deepEqual({ ...observed[0], durationMs: 0 }, { level: 'T2', operation: 'read template', durationMs: 0, timedOut: false });
  });

  it('on timeout returns the fallback, logs the seed line with the operation and reports a timed-out observation', async () => {
    const log = recorder();
    const { observed, metrics } = sink();
    const infos: FallbackInfo[] = [];
    const seen: { signal?: AbortSignal } = {};
    const value = await withTimeout('T3', 'load knowledge/policies', stuck(seen), (info) => {
      infos.push(info);
      return 'partial';
    }, { settings: tiny, logger: log, metrics });

    assert.equal(value, 'partial');
    assert.deepEqual(log.entries.map((e) => [e.severity, e.message, e.meta.operation, e.meta.level, e.meta.budgetMs]), [
      ['warn', 'T3 layer timeout - returning partial', 'load knowledge/policies', 'T3', 2],
    ]);
    assert.equal(infos.length, 1);
    assert.equal(infos[0]!.level, 'T3');
    assert.equal(infos[0]!.operation, 'load knowledge/policies');
    assert.equal(infos[0]!.budgetMs, 2);
    assert.ok(Number.isFinite(infos[0]!.elapsedMs) && infos[0]!.elapsedMs >= 0);
    assert.equal(infos[0]!.signal.aborted, false);
    assert.deepEqual(observed.map((o) => [o.level, o.operation, o.timedOut]), [['T3', 'load knowledge/policies', true]]);
  });

  it("aborts fn's signal with a retryable timeout naming the operation and level", async () => {
    const seen: { signal?: AbortSignal } = {};
    await withTimeout('T1', 'dedup cache', stuck(seen), () => 'skipped', { settings: tiny, logger: recorder() });
    assert.equal(seen.signal?.aborted, true);
    const reason: unknown = seen.signal?.reason;
    assert.ok(isWorkerError(reason));
    assert.equal(reason.code, 'EW_ERR_TIMEOUT');
    assert.equal(reason.retryable, true);
    assert.match(reason.message, /dedup cache T1 timed out after 1ms/);
  });

  for (const level of ['T1', 'T2', 'T3', 'T4', 'T5'] as const) {
    const severity = level === 'T5' ? 'error' : 'warn';
    it(`logs ${level}'s fallback line at ${severity}`, async () => {
      const log = recorder();
      await withTimeout(level, 'op', stuck({}), () => 'fallback', { settings: tiny, logger: log });
      assert.deepEqual(log.entries.map((e) => [e.severity, e.message]), [[severity, LEVEL_TABLE[level].fallbackLog]]);
    });
  }

  it('propagates an error from fn unchanged and records it as not timed out', async () => {
    const { observed, metrics } = sink();
    const boom = new Error('disk on fire');
    let fallbackCalls = 0;
    await assert.rejects(
      withTimeout('T2', 'read file', async () => { throw boom; }, () => { fallbackCalls++; return ''; }, { settings: real, logger: recorder(), metrics }),
      (error) => error === boom,
    );
    assert.equal(fallbackCalls, 0);
    assert.deepEqual(observed.map((o) => o.timedOut), [false]);
  });

  it('propagates a synchronous throw from fn', async () => {
    const boom = new TypeError('bad path');
    await assert.rejects(
      withTimeout('T2', 'read file', () => { throw boom; }, () => '', { settings: real, logger: recorder() }),
      (error) => error === boom,
    );
  });

  it('propagates an error thrown by the fallback', async () => {
    await assert.rejects(
      withTimeout('T5', 'rank context', stuck({}), () => { throw new Error('no summary'); }, { settings: tiny, logger: recorder() }),
      /no summary/,
    );
  });

  it('rejects at once with the parent reason when the job is cancelled, without a fallback', async () => {
    const parent = new AbortController();
    const seen: { signal?: AbortSignal } = {};
    const { observed, metrics } = sink();
    let fallbackCalls = 0;
    const pending = withTimeout('T5', 'rank context', stuck(seen), () => { fallbackCalls++; return ''; }, {
      settings: real,
      logger: recorder(),
      metrics,
      parentSignal: parent.signal,
    });
    const reason = permanent(ErrorCodes.SHUTTING_DOWN, 'shutting down');
    parent.abort(reason);
    await assert.rejects(pending, (error) => error === reason);
    assert.equal(seen.signal?.aborted, true);
    assert.equal(seen.signal?.reason, reason);
    assert.equal(fallbackCalls, 0);
    assert.deepEqual(observed, []);
  });

  it('does not start fn when the parent is already aborted', async () => {
    const parent = new AbortController();
    parent.abort(new Error('gone'));
    let calls = 0;
    await assert.rejects(
      withTimeout('T1', 'cache', async () => { calls++; return 1; }, () => 0, { settings: real, parentSignal: parent.signal }),
      (error: unknown) => isWorkerError(error) && error.code === 'EW_ERR_ABORTED',
    );
    assert.equal(calls, 0);
  });

  it('passes the parent signal to the fallback for its own work', async () => {
    const parent = new AbortController();
    let given: AbortSignal | undefined;
    await withTimeout('T1', 'cache', stuck({}), (info) => { given = info.signal; return ''; }, { settings: tiny, logger: recorder(), parentSignal: parent.signal });
    assert.equal(given, parent.signal);
  });

  it('leaves no unhandled rejection when fn rejects after the timeout', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await withTimeout('T1', 'late', async () => { await sleep(15); throw new Error('late failure'); }, () => 'fallback', { settings: tiny, logger: recorder() });
      await sleep(30);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('uses the sink set with setLevelMetricsSink when none is passed', async () => {
    const { observed, metrics } = sink();
    setLevelMetricsSink(metrics);
    await withTimeout('T4', 'load kb', async () => 'kb', () => 'core', { settings: real, logger: recorder() });
    assert.deepEqual(observed.map((o) => [o.level, o.operation, o.timedOut]), [['T4', 'load kb', false]]);
  });
});
