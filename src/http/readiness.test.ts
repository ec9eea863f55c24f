import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isWorkerError } from '../errors.ts';
import { runReadinessChecks, waitUntilReady, type ReadinessReport } from './readiness.ts';

const never = () => new Promise<void>(() => {});

describe('runReadinessChecks', () => {
  it('reports each check: ok, its error message, or no answer within the limit', async () => {
    const report = await runReadinessChecks(
      {
        ledger: async () => {},
        pubsub: async () => {
          throw new Error('topic jobs not found');
        },
        slow: never,
      },
      20,
    );
    assert.deepEqual(report, { ready: false, checks: { ledger: 'ok', pubsub: 'topic jobs not found', slow: 'no answer within 20ms' } });
  });

  it('is ready when every check passes', async () => {
    assert.deepEqual(await runReadinessChecks({ a: async () => {}, b: async () => {} }, 20), { ready: true, checks: { a: 'ok', b: 'ok' } });
  });
});

describe('waitUntilReady', () => {
  it('checks again after failed rounds, reporting each one, and resolves once all pass in one round', async () => {
    let calls = 0;
    const seen: ReadinessReport[] = [];
    await waitUntilReady(
      {
        ledger: async () => {
          calls += 1;
          if (calls < 3) throw new Error(`unavailable ${calls}`);
        },
        pubsub: async () => {},
      },
      { budgetMs: 5000, minDelayMs: 1, maxDelayMs: 2, onNotReady: (report) => seen.push(report) },
    );
    assert.equal(calls, 3);
    assert.deepEqual(
      seen.map((r) => r.checks),
      [
        { ledger: 'unavailable 1', pubsub: 'ok' },
        { ledger: 'unavailable 2', pubsub: 'ok' },
      ],
    );
  });

  it('gives up after its budget with EW_ERR_NOT_READY naming the checks that still fail', async () => {
    const error = await waitUntilReady(
      {
        ledger: async () => {
          throw new Error('connect ECONNREFUSED 127.0.0.1:9');
        },
        pubsub: async () => {},
        hanging: never,
      },
      { budgetMs: 60, attemptLimitMs: 10, minDelayMs: 5, maxDelayMs: 5 },
    ).then(
      () => assert.fail('resolved without passing checks'),
      (e: unknown) => e,
    );
    assert.ok(isWorkerError(error));
    assert.equal(error.code, 'EW_ERR_NOT_READY');
    // The last round is bounded by what is left of the budget, so the hanging check's limit varies.
    assert.match(error.message, /^Not ready within 60 ms: ledger: connect ECONNREFUSED 127\.0\.0\.1:9; hanging: no answer within \d+ms$/);
    const checks = error.details?.checks as Record<string, string>;
    assert.deepEqual(Object.keys(checks), ['ledger', 'pubsub', 'hanging']);
    assert.equal(checks.ledger, 'connect ECONNREFUSED 127.0.0.1:9');
    assert.equal(checks.pubsub, 'ok');
    assert.match(checks.hanging!, /^no answer within (10|[1-9])ms$/);
  });
});
