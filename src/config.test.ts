import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from './config.ts';

const base = { GEMINI_API_KEY: 'g-key' };

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig(base);
    assert.equal(c.workerMode, 'pull');
    assert.equal(c.workerConcurrency, 4);
    assert.equal(c.port, 8080);
    assert.equal(c.pubsub.topic, 'email-worker-jobs');
    assert.equal(c.pubsub.maxDeliveryAttempts, 5);
    assert.equal(c.attachments.maxBytes, 25 * 1024 * 1024);
    assert.equal(c.attachments.allowPrivate, false);
    assert.equal(c.emailProcessingMode, false);
    assert.equal(c.timeouts.cloudRunTimeoutS, 3600);
    assert.equal(c.timeouts.shutdownGraceS, 8);
    assert.equal(c.mailFrom, 'Email Worker <worker@mg.localhost>');
    assert.equal(c.gemini.standIn, false);
  });

  it('caps Gemini output at GEMINI_MAX_OUTPUT_TOKENS (default 32768) and refuses a non-positive cap by name', () => {
    assert.equal(loadConfig(base).geminiMaxOutputTokens, 32_768);
    assert.equal(loadConfig({ ...base, GEMINI_MAX_OUTPUT_TOKENS: '2048' }).geminiMaxOutputTokens, 2048);
    assert.throws(() => loadConfig({ ...base, GEMINI_MAX_OUTPUT_TOKENS: '0' }), /GEMINI_MAX_OUTPUT_TOKENS/);
  });

  it('lists every invalid variable by name in one error', () => {
    assert.throws(
      () => loadConfig({ ...base, WORKER_CONCURRENCY: 'many', PORT: '70000', ATTACHMENT_ALLOW_PRIVATE: 'maybe', TIMEOUT_HARD_TIMEOUT: '-1' }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'EW_ERR_CONFIG_INVALID');
        for (const name of ['WORKER_CONCURRENCY', 'PORT', 'ATTACHMENT_ALLOW_PRIVATE', 'TIMEOUT_HARD_TIMEOUT']) {
          assert.ok(error.message.includes(name), `${name} missing from: ${error.message}`);
        }
        return true;
      },
    );
  });

  it('requires a Gemini key unless a compatible base URL is given, for workers only', () => {
    assert.throws(() => loadConfig({}), /GEMINI_API_KEY/);
    assert.equal(loadConfig({ GEMINI_BASE_URL: 'http://127.0.0.1:9' }).gemini.standIn, true);
    assert.doesNotThrow(() => loadConfig({}, { worker: false }));
  });

  it('collects secrets for redaction', () => {
    const c = loadConfig({ ...base, MAILGUN_API_KEY: 'mg-key', MAILGUN_DOMAIN: 'mg.example.com', MAILGUN_WEBHOOK_SIGNING_KEY: 'sign' });
    assert.deepEqual(c.secrets.sort(), ['g-key', 'mg-key', 'sign']);
  });

  it('requires MAILGUN_DOMAIN with a Mailgun key', () => {
    assert.throws(() => loadConfig({ ...base, MAILGUN_API_KEY: 'k' }), /MAILGUN_DOMAIN/);
  });

  it('reads truthy EMAIL_PROCESSING_MODE in any case', () => {
    for (const v of ['1', 'true', 'YES', 'On']) assert.equal(loadConfig({ ...base, EMAIL_PROCESSING_MODE: v }).emailProcessingMode, true);
    assert.equal(loadConfig({ ...base, EMAIL_PROCESSING_MODE: 'off' }).emailProcessingMode, false);
  });
  it('issue 8: reads the shared-ledger, in-doubt and push settings with their defaults, and refuses a retention shorter than Pub/Sub keeps messages', () => {
    const d = loadConfig(base);
    assert.equal(d.ledger, 'memory');
    assert.deepEqual(d.ledgerStore, { collection: 'email-worker-ledger', retentionDays: 14 });
    assert.equal(d.mailEventsLagS, 300);
    assert.equal(d.pushPath, '/pubsub/push');
    assert.equal(d.checkSubscription, true);
    const c = loadConfig({ ...base, LEDGER: 'firestore', LEDGER_COLLECTION: 'jobs', LEDGER_RETENTION_DAYS: '30', MAILGUN_EVENTS_LAG_S: '0', PUBSUB_CHECK_SUBSCRIPTION: 'false' });
    assert.equal(c.ledger, 'firestore');
    assert.deepEqual(c.ledgerStore, { collection: 'jobs', retentionDays: 30 });
    assert.equal(c.mailEventsLagS, 0);
    assert.equal(c.checkSubscription, false);
    assert.throws(() => loadConfig({ ...base, LEDGER_RETENTION_DAYS: '7' }), /LEDGER_RETENTION_DAYS: expected an integer from 8/);
    assert.throws(() => loadConfig({ ...base, LEDGER: 'redis' }), /LEDGER/);
  });

  it('issue 8: WORKER_MODE=push needs PUSH_AUDIENCE when push auth is required', () => {
    assert.throws(() => loadConfig({ ...base, WORKER_MODE: 'push', REQUIRE_PUSH_AUTH: 'true', MAILGUN_WEBHOOK_SIGNING_KEY: 'k' }), /PUSH_AUDIENCE: required/);
    assert.equal(loadConfig({ ...base, WORKER_MODE: 'push', REQUIRE_PUSH_AUTH: 'true', PUSH_AUDIENCE: 'https://w/', MAILGUN_WEBHOOK_SIGNING_KEY: 'k' }).push.requireAuth, true);
  });
});
