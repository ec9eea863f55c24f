import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { logContextTimeoutsOnce, resetContextLog } from './context-log.ts';
import { loadTimeoutSettings } from './settings.ts';

function collector() {
  const lines: Array<{ message: string; meta: object | undefined }> = [];
  return { lines, info: (message: string, meta?: object) => void lines.push({ message, meta }) };
}

describe('logContextTimeoutsOnce', () => {
  afterEach(() => resetContextLog());

  it("logs the seed's three lines for the email context", () => {
    const log = collector();
    logContextTimeoutsOnce('email', log, loadTimeoutSettings({}));
    assert.deepEqual(log.lines.map((l) => l.message), [
      `Using HTTP timeouts for context 'email': {"connectTimeoutMs":10000,"headersTimeoutMs":300000,"bodyTimeoutMs":300000,"writeTimeoutMs":300000}`,
      "Using GenAI timeout for context 'email': 300000ms",
      "Using tool orchestrator timeouts for context 'email': heartbeat=300s, hard_timeout=3000s",
    ]);
    assert.deepEqual(log.lines[0]!.meta, { context: 'email', timeoutScale: 1 });
  });

  it('logs the ui figures for the ui context', () => {
    const log = collector();
    logContextTimeoutsOnce('ui', log, loadTimeoutSettings({}));
    assert.deepEqual(log.lines.map((l) => l.message), [
      `Using HTTP timeouts for context 'ui': {"connectTimeoutMs":10000,"headersTimeoutMs":30000,"bodyTimeoutMs":30000,"writeTimeoutMs":60000}`,
      "Using GenAI timeout for context 'ui': 60000ms",
      "Using tool orchestrator timeouts for context 'ui': heartbeat=120s, hard_timeout=600s",
    ]);
  });

  it('shows the scaled values and the scale when it is not 1', () => {
    const log = collector();
    logContextTimeoutsOnce('email', log, loadTimeoutSettings({ TIMEOUT_SCALE: '0.01' }));
    assert.deepEqual(log.lines.map((l) => l.message), [
      `Using HTTP timeouts for context 'email': {"connectTimeoutMs":100,"headersTimeoutMs":3000,"bodyTimeoutMs":3000,"writeTimeoutMs":3000} (scale 0.01)`,
      "Using GenAI timeout for context 'email': 3000ms (scale 0.01)",
      "Using tool orchestrator timeouts for context 'email': heartbeat=3s, hard_timeout=30s (scale 0.01)",
    ]);
  });

  it('logs each context only on its first use', () => {
    const log = collector();
    const settings = loadTimeoutSettings({});
    logContextTimeoutsOnce('email', log, settings);
    logContextTimeoutsOnce('email', log, settings);
    logContextTimeoutsOnce('api', log, settings);
    logContextTimeoutsOnce('api', log, settings);
    logContextTimeoutsOnce('email', log, settings);
    assert.equal(log.lines.length, 6);
    assert.equal(log.lines.filter((l) => l.message.includes("'email'")).length, 3);
    assert.equal(log.lines.filter((l) => l.message.includes("'api'")).length, 3);
  });

  it('logs again after resetContextLog', () => {
    const log = collector();
    const settings = loadTimeoutSettings({});
    logContextTimeoutsOnce('ui', log, settings);
    resetContextLog();
    logContextTimeoutsOnce('ui', log, settings);
    assert.equal(log.lines.length, 6);
  });
});
