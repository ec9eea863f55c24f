import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  getHttpTimeouts,
  getRetryConfig,
  getTierTimeouts,
  getTimeouts,
  levelBudgetMs,
  nextTier,
  parseTier,
  scaleMs,
  tierTimeoutMessage,
} from './engine.ts';
import { loadTimeoutSettings } from './settings.ts';
import type { Level, Tier } from './types.ts';

const seed = loadTimeoutSettings({});

// Literal figures from seed 002 (seconds, genai in ms), converted to ms by hand.
const EMAIL_API_MS = {
  streamTimeoutMs: 1_800_000,
  toolHeartbeatMs: 300_000,
  hardTimeoutMs: 3_000_000,
  httpReadMs: 300_000,
  httpWriteMs: 300_000,
  genaiTimeoutMs: 300_000,
  retryAttempts: 5,
  retryMinMs: 5_000,
  retryMaxMs: 300_000,
  quartoExportMs: 600_000,
  fileDownloadMs: 300_000,
  attachmentDownloadMs: 180_000,
  mailgunApiMs: 120_000,
};
const UI_MS = {
  streamTimeoutMs: 120_000,
  toolHeartbeatMs: 120_000,
  hardTimeoutMs: 600_000,
  httpReadMs: 30_000,
  httpWriteMs: 60_000,
  genaiTimeoutMs: 60_000,
  retryAttempts: 7,
  retryMinMs: 1_000,
  retryMaxMs: 32_000,
  // seed: ui has no own values; export → hardTimeout, downloads → httpRead, mailgun → httpWrite
  quartoExportMs: 600_000,
  fileDownloadMs: 30_000,
  attachmentDownloadMs: 30_000,
  mailgunApiMs: 60_000,
};

describe('getTimeouts', () => {
  for (const [context, expected] of [['ui', UI_MS], ['email', EMAIL_API_MS], ['api', EMAIL_API_MS]] as const) {
    it(`returns the seed 002 ${context} profile in ms at scale 1`, () => {
      assert.deepEqual(getTimeouts(context, seed), { context, ...expected });
    });
  }

  it('multiplies every duration by TIMEOUT_SCALE but never the attempt count', () => {
    const t = getTimeouts('email', loadTimeoutSettings({ TIMEOUT_SCALE: '0.01' }));
    assert.equal(t.hardTimeoutMs, 30_000);
    assert.equal(t.streamTimeoutMs, 18_000);
    assert.equal(t.genaiTimeoutMs, 3_000);
    assert.equal(t.retryMinMs, 50);
    assert.equal(t.attachmentDownloadMs, 1_800);
    assert.equal(t.retryAttempts, 5);
    assert.equal(getTimeouts('ui', loadTimeoutSettings({ TIMEOUT_SCALE: '0.01' })).retryAttempts, 7);
  });

  it('reads the process-wide settings when none are passed', () => {
    assert.equal(typeof getTimeouts('email').hardTimeoutMs, 'number');
  });
});

describe('scaleMs', () => {
  it('multiplies a product-chosen duration by the scale', () => {
    assert.equal(scaleMs(30_000, loadTimeoutSettings({ TIMEOUT_SCALE: '0.001' })), 30);
    assert.equal(scaleMs(8_000, loadTimeoutSettings({ TIMEOUT_SCALE: '2' })), 16_000);
    assert.equal(scaleMs(8_000, seed), 8_000);
  });

  it('rounds to whole ms and keeps a positive duration at least 1 ms', () => {
    const tiny = loadTimeoutSettings({ TIMEOUT_SCALE: '0.001' });
    assert.equal(scaleMs(100, tiny), 1);
    assert.equal(scaleMs(1_500, tiny), 2);
    assert.equal(scaleMs(0, tiny), 0);
  });
});

describe('getRetryConfig', () => {
  it('gives total attempts, scaled waits, factor 2 and full jitter per context', () => {
    assert.deepEqual(getRetryConfig('ui', seed), { attempts: 7, minDelayMs: 1_000, maxDelayMs: 32_000, factor: 2, jitter: 'full' });
    assert.deepEqual(getRetryConfig('email', seed), { attempts: 5, minDelayMs: 5_000, maxDelayMs: 300_000, factor: 2, jitter: 'full' });
    assert.deepEqual(getRetryConfig('api', loadTimeoutSettings({ TIMEOUT_SCALE: '0.1' })), {
      attempts: 5,
      minDelayMs: 500,
      maxDelayMs: 30_000,
      factor: 2,
      jitter: 'full',
    });
  });
});

describe('getHttpTimeouts', () => {
  it('caps connect at 10 s and uses httpRead for headers and body, httpWrite for write', () => {
    assert.deepEqual(getHttpTimeouts('email', seed), { connectTimeoutMs: 10_000, headersTimeoutMs: 300_000, bodyTimeoutMs: 300_000, writeTimeoutMs: 300_000 });
    assert.deepEqual(getHttpTimeouts('ui', seed), { connectTimeoutMs: 10_000, headersTimeoutMs: 30_000, bodyTimeoutMs: 30_000, writeTimeoutMs: 60_000 });
  });

  it('uses httpRead for connect when it is shorter than 10 s, and scales everything', () => {
    const s = loadTimeoutSettings({ TIMEOUT_UI_HTTP_READ: '4', TIMEOUT_SCALE: '0.5' });
    assert.deepEqual(getHttpTimeouts('ui', s), { connectTimeoutMs: 2_000, headersTimeoutMs: 2_000, bodyTimeoutMs: 2_000, writeTimeoutMs: 30_000 });
  });
});

describe('tiers', () => {
  // Seed 000, seconds.
  const SEED_TIERS: Array<[Tier, number, number, number, number, number]> = [
    ['free', 8, 8, 10, 2, 1],
    ['early', 8, 8, 10, 2, 1],
    ['mid', 60, 60, 90, 20, 1],
    ['platform', 120, 120, 150, 30, 1],
    ['enterprise', 300, 300, 360, 60, 5],
  ];
  for (const [tier, agent, streaming, idle, phase, phases] of SEED_TIERS) {
    it(`gives ${tier} the seed 000 limits in ms`, () => {
      assert.deepEqual(getTierTimeouts(tier, seed), {
        tier,
        agentMs: agent * 1000,
        streamingMs: streaming * 1000,
        streamIdleMs: idle * 1000,
        phaseMs: phase * 1000,
        phases,
      });
    });
  }

  it('scales tier durations but not the phase count', () => {
    assert.deepEqual(getTierTimeouts('enterprise', loadTimeoutSettings({ TIMEOUT_SCALE: '0.01' })), {
      tier: 'enterprise',
      agentMs: 3_000,
      streamingMs: 3_000,
      streamIdleMs: 3_600,
      phaseMs: 600,
      phases: 5,
    });
  });

  it('defaults an absent tier to free and accepts any case', () => {
    assert.equal(parseTier(undefined), 'free');
    assert.equal(parseTier(''), 'free');
    assert.equal(parseTier('Enterprise'), 'enterprise');
    assert.equal(parseTier('mid'), 'mid');
  });

  it('rejects an unknown tier with a permanent error naming the valid tiers', () => {
    assert.throws(() => parseTier('gold'), (error: Error & { code?: string; retryable?: boolean }) => {
      assert.equal(error.code, 'EW_ERR_INVALID_ARGUMENT');
      assert.equal(error.retryable, false);
      assert.match(error.message, /"gold"/);
      assert.match(error.message, /free, early, mid, platform, enterprise/);
      return true;
    });
    assert.throws(() => parseTier(3), /EW_ERR_INVALID_ARGUMENT|Invalid tier/);
  });

  it('names the next tier that gives more time', () => {
    assert.equal(nextTier('free'), 'mid');
    assert.equal(nextTier('early'), 'mid');
    assert.equal(nextTier('mid'), 'platform');
    assert.equal(nextTier('platform'), 'enterprise');
    assert.equal(nextTier('enterprise'), undefined);
  });

  it('words the tier timeout error exactly as the spec does, with an upgrade hint below enterprise', () => {
    assert.equal(tierTimeoutMessage('mid', true, seed), 'Agent execution timed out after 60s (tier: mid, streaming: true). Upgrade to platform for 120s.');
    assert.equal(tierTimeoutMessage('free', false, seed), 'Agent execution timed out after 8s (tier: free, streaming: false). Upgrade to mid for 60s.');
    assert.equal(tierTimeoutMessage('platform', false, seed), 'Agent execution timed out after 120s (tier: platform, streaming: false). Upgrade to enterprise for 300s.');
    assert.equal(tierTimeoutMessage('enterprise', true, seed), 'Agent execution timed out after 300s (tier: enterprise, streaming: true).');
  });

  it('states the effective (scaled) seconds in the tier message', () => {
    assert.equal(
      tierTimeoutMessage('mid', true, loadTimeoutSettings({ TIMEOUT_SCALE: '0.01' })),
      'Agent execution timed out after 0.6s (tier: mid, streaming: true). Upgrade to platform for 1.2s.',
    );
  });
});

describe('levelBudgetMs', () => {
  // Seed 004: 100 ms, 500 ms, 2 s, 5 s, 10 s.
  const SEED_LEVELS: Array<[Level, number]> = [['T1', 100], ['T2', 500], ['T3', 2_000], ['T4', 5_000], ['T5', 10_000]];
  for (const [level, ms] of SEED_LEVELS) {
    it(`gives ${level} its seed 004 budget of ${ms} ms, scaled`, () => {
      assert.equal(levelBudgetMs(level, seed), ms);
      assert.equal(levelBudgetMs(level, loadTimeoutSettings({ TIMEOUT_SCALE: '0.1' })), ms / 10);
    });
  }
});
