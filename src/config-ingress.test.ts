import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from './config.ts';
import { hashApiKey } from './api/api-keys.ts';

const base = { GEMINI_BASE_URL: 'http://127.0.0.1:1' };

test('a missing MAILGUN_WEBHOOK_SIGNING_KEY refuses start-up in push mode, naming the variable; a pull worker (a worker pool) starts without it', () => {
  assert.throws(() => loadConfig({ ...base, WORKER_MODE: 'push', REQUIRE_PUSH_AUTH: 'false' }), /MAILGUN_WEBHOOK_SIGNING_KEY: required in push mode/);
  assert.throws(() => loadConfig({ ...base, WORKER_MODE: 'push', REQUIRE_PUSH_AUTH: 'false', K_SERVICE: 'email-worker' }), /MAILGUN_WEBHOOK_SIGNING_KEY: required/);
  assert.doesNotThrow(() => loadConfig(base));
  // Whether or not Cloud Run sets K_SERVICE in a worker pool, the pool (pull, no webhook key) starts.
  assert.doesNotThrow(() => loadConfig({ ...base, WORKER_MODE: 'pull', K_SERVICE: 'email-worker-pool' }));
  assert.doesNotThrow(() => loadConfig({ ...base, WORKER_MODE: 'push', REQUIRE_PUSH_AUTH: 'false', MAILGUN_WEBHOOK_SIGNING_KEY: 'k' }));
});

test('sender controls and caps are on by default', () => {
  const c = loadConfig(base);
  assert.deepEqual(c.allowedSenders, ['*']);
  assert.equal(c.ingress.requireSenderAuth, false);
  assert.deepEqual(c.ingress.caps, { perSender: 20, senderWindowMs: 3_600_000, perThread: 10, threadWindowMs: 86_400_000, perDay: 500 });
});

test('API_KEYS: digests with tiers parse; a bad entry is named by position, never by value', () => {
  const c = loadConfig({ ...base, API_KEYS: `${hashApiKey('k1')}:mid, ${hashApiKey('k2')}:enterprise` });
  assert.deepEqual(c.apiKeys.map((k) => k.tier), ['mid', 'enterprise']);
  assert.throws(() => loadConfig({ ...base, API_KEYS: 'plain-secret-key:mid' }), (e: Error) => /API_KEYS: entry 1 is not <sha256 hex>:<tier>/.test(e.message) && !e.message.includes('plain-secret-key'));
  assert.throws(() => loadConfig({ ...base, API_KEYS: `${hashApiKey('k')}:gold` }), /API_KEYS: entry 1 has tier "gold"/);
});

test('METRICS_TOKEN is a secret (redacted in logs)', () => {
  const c = loadConfig({ ...base, METRICS_TOKEN: 'metrics-secret-123' });
  assert.equal(c.metricsToken, 'metrics-secret-123');
  assert.ok(c.secrets.includes('metrics-secret-123'));
});
