import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { LEVEL_TABLE } from '../timeouts/levels.ts';
import { LEVELS } from '../timeouts/types.ts';
import { createAlertEvaluator } from './alerts.ts';
import { createLogger } from './logger.ts';
import { createMetrics, type Metrics } from './metrics.ts';

function setup(options: { minSamples?: number; intervalMs?: number } = {}) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const clock = { now: 1_000_000 };
  const metrics = createMetrics({ windowMs: 60_000, bucketMs: 1000, now: () => clock.now });
  const logger = createLogger({ env: {}, stream, level: 'debug' });
  const evaluator = createAlertEvaluator({ metrics, logger, minSamples: options.minSamples ?? 1, ...(options.intervalMs ? { intervalMs: options.intervalMs } : {}) });
  return { lines, clock, metrics, evaluator, alertLines: () => lines.filter((l) => l.alert !== undefined) };
}

/** `total` operations of `level`, the last `timedOut` of them timed out. */
function observeMany(metrics: Metrics, level: string, total: number, timedOut: number): void {
  for (let i = 0; i < total; i++) metrics.observe(level, 'op', 1, i >= total - timedOut);
}

describe('createAlertEvaluator', () => {
  it('uses the seed 004 thresholds and severities exactly', () => {
    const { evaluator } = setup();
    assert.deepEqual(
      evaluator.state().map((s) => [s.level, s.thresholdPercent, s.severity]),
      [
        ['T1', 1, 'CRITICAL'],
        ['T2', 5, 'WARNING'],
        ['T3', 10, 'INFO'],
        ['T4', 20, 'WARNING'],
        ['T5', 30, 'INFO'],
      ],
    );
    for (const s of evaluator.state()) assert.equal(s.thresholdPercent, LEVEL_TABLE[s.level].alertPercent);
    evaluator.stop();
  });

  it('does not fire T1 at exactly 1 % and fires it at 1.01 %, logging at CRITICAL', () => {
    // minSamples = 10,000: the rule is first judged on the full window, not on its way there.
    const exact = setup({ minSamples: 10_000 });
    observeMany(exact.metrics, 'T1', 10_000, 100);
    assert.equal(exact.evaluator.evaluate().find((s) => s.level === 'T1')!.percentage, 1);
    assert.equal(exact.evaluator.state().find((s) => s.level === 'T1')!.firing, false);
    assert.equal(exact.alertLines().length, 0);
    exact.evaluator.stop();

    const above = setup({ minSamples: 10_000 });
    observeMany(above.metrics, 'T1', 10_000, 101);
    const t1 = above.evaluator.state().find((s) => s.level === 'T1')!;
    assert.equal(t1.firing, true);
    assert.equal(t1.percentage, 1.01);
    const [line] = above.alertLines();
    assert.equal(line!.severity, 'CRITICAL');
    assert.equal(line!.message, 'Timeout alert T1 firing: 1.01% of T1 operations timed out in the last 1 min (10000 operations; threshold > 1%)');
    assert.deepEqual(line!.alert, { level: 'T1', state: 'firing', percentage: 1.01, thresholdPercent: 1, samples: 10_000, severity: 'CRITICAL' });
    above.evaluator.stop();
  });

  it('fires each level at its own severity', () => {
    const { metrics, evaluator, alertLines } = setup();
    const above: Record<string, [number, number]> = { T2: [100, 6], T3: [100, 11], T4: [100, 21], T5: [100, 31] };
    for (const [level, [total, timedOut]] of Object.entries(above)) observeMany(metrics, level, total, timedOut);
    assert.deepEqual(
      alertLines().map((l) => [(l.alert as { level: string }).level, l.severity]),
      [
        ['T2', 'WARNING'],
        ['T3', 'INFO'],
        ['T4', 'WARNING'],
        ['T5', 'INFO'],
      ],
    );
    evaluator.stop();
  });

  it('logs once per crossing: firing once, silent while firing, resolved at INFO, firing again', () => {
    const { metrics, clock, evaluator, alertLines } = setup();
    observeMany(metrics, 'T2', 10, 1); // 10 % > 5 %
    metrics.observe('T2', 'op', 1, true); // still firing: no new line
    evaluator.evaluate();
    assert.deepEqual(alertLines().map((l) => (l.alert as { state: string }).state), ['firing']);
    observeMany(metrics, 'T2', 200, 0); // 2 / 211 < 5 %
    assert.deepEqual(alertLines().map((l) => [(l.alert as { state: string }).state, l.severity]), [
      ['firing', 'WARNING'],
      ['resolved', 'INFO'],
    ]);
    clock.now += 120_000; // window drained
    observeMany(metrics, 'T2', 10, 5);
    assert.deepEqual(alertLines().map((l) => (l.alert as { state: string }).state), ['firing', 'resolved', 'firing']);
    evaluator.stop();
  });

  it('does not fire below minSamples', () => {
    const { metrics, evaluator, alertLines } = setup({ minSamples: 20 });
    observeMany(metrics, 'T1', 19, 19);
    assert.equal(alertLines().length, 0);
    metrics.observe('T1', 'op', 1, true);
    assert.equal(alertLines().length, 1);
    evaluator.stop();
  });

  it('resolves on evaluate() once the window drains without new traffic', () => {
    const { metrics, clock, evaluator, alertLines } = setup();
    observeMany(metrics, 'T5', 10, 10);
    clock.now += 61_000;
    const t5 = evaluator.evaluate().find((s) => s.level === 'T5')!;
    assert.equal(t5.firing, false);
    assert.equal(t5.samples, 0);
    assert.deepEqual(alertLines().map((l) => (l.alert as { state: string }).state), ['firing', 'resolved']);
    evaluator.stop();
  });

  it('evaluates on its interval when one is set, and stops with stop()', async () => {
    const { metrics, clock, evaluator, alertLines } = setup({ intervalMs: 10 });
    observeMany(metrics, 'T4', 10, 10);
    clock.now += 61_000;
    await sleep(40);
    assert.deepEqual(alertLines().map((l) => (l.alert as { state: string }).state), ['firing', 'resolved']);
    evaluator.stop();
    observeMany(metrics, 'T4', 10, 10); // unsubscribed: no evaluation
    assert.equal(alertLines().length, 2);
  });

  it('exposes the firing state on the metrics registry', async () => {
    const { metrics, evaluator } = setup();
    observeMany(metrics, 'T3', 10, 5);
    const text = await metrics.registry.metrics();
    assert.match(text, /^timeout_alert_firing\{level="T3",severity="INFO"\} 1$/m);
    assert.match(text, /^timeout_alert_firing\{level="T1",severity="CRITICAL"\} 0$/m);
    assert.equal(evaluator.state().filter((s) => s.firing).length, 1);
    assert.equal(LEVELS.length, evaluator.state().length);
    evaluator.stop();
  });
});
