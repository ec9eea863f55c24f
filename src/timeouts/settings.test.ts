import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isWorkerError } from '../errors.ts';
import { configureTimeouts, getTimeoutSettings, loadTimeoutSettings, resetTimeoutSettings } from './settings.ts';

/** Asserts one permanent EW_ERR_CONFIG_INVALID whose message contains every fragment. */
function assertConfigError(env: NodeJS.ProcessEnv, fragments: string[]): void {
  assert.throws(
    () => loadTimeoutSettings(env),
    (error: unknown) => {
      assert.ok(isWorkerError(error));
      assert.equal(error.code, 'EW_ERR_CONFIG_INVALID');
      assert.equal(error.retryable, false);
      for (const f of fragments) assert.ok(error.message.includes(f), `missing ${JSON.stringify(f)} in:\n${error.message}`);
      return true;
    },
  );
}

describe('loadTimeoutSettings', () => {
  it('holds the seed 002 values in seed units with no overrides', () => {
    const s = loadTimeoutSettings({});
    assert.deepEqual({ ...s.profiles.email }, {
      streamTimeout: 1800,
      toolHeartbeat: 300,
      hardTimeout: 3000,
      httpRead: 300,
      httpWrite: 300,
      genaiTimeout: 300000,
      retryAttempts: 5,
      retryMin: 5,
      retryMax: 300,
      quartoExport: 600,
      fileDownload: 300,
      attachmentDownload: 180,
      mailgunApi: 120,
    });
    assert.deepEqual({ ...s.profiles.api }, { ...s.profiles.email });
    assert.deepEqual({ ...s.profiles.ui }, {
      streamTimeout: 120,
      toolHeartbeat: 120,
      hardTimeout: 600,
      httpRead: 30,
      httpWrite: 60,
      genaiTimeout: 60000,
      retryAttempts: 7,
      retryMin: 1,
      retryMax: 32,
      quartoExport: 600,
      fileDownload: 30,
      attachmentDownload: 30,
      mailgunApi: 60,
    });
    assert.equal(s.scale, 1);
    assert.equal(s.cloudRunTimeoutS, 3600);
    assert.equal(s.shutdownGraceS, 8);
    assert.deepEqual(s.overrides, []);
  });

  it('applies TIMEOUT_<KEY> to email and api only, and records the override', () => {
    const s = loadTimeoutSettings({ TIMEOUT_HARD_TIMEOUT: '2400', TIMEOUT_GENAI_TIMEOUT: '120000', TIMEOUT_RETRY_ATTEMPTS: '3' });
    assert.equal(s.profiles.email.hardTimeout, 2400);
    assert.equal(s.profiles.api.hardTimeout, 2400);
    assert.equal(s.profiles.email.genaiTimeout, 120000);
    assert.equal(s.profiles.email.retryAttempts, 3);
    assert.equal(s.profiles.ui.hardTimeout, 600);
    assert.deepEqual(
      s.overrides.find((o) => o.key === 'hardTimeout'),
      { variable: 'TIMEOUT_HARD_TIMEOUT', context: 'email/api', key: 'hardTimeout', value: 2400 },
    );
  });

  it('applies TIMEOUT_UI_<KEY> to ui only', () => {
    const s = loadTimeoutSettings({ TIMEOUT_UI_STREAM_TIMEOUT: '90.5' });
    assert.equal(s.profiles.ui.streamTimeout, 90.5);
    assert.equal(s.profiles.email.streamTimeout, 1800);
    assert.deepEqual(s.overrides, [{ variable: 'TIMEOUT_UI_STREAM_TIMEOUT', context: 'ui', key: 'streamTimeout', value: 90.5 }]);
  });

  it('makes ui derived keys follow their source after overrides', () => {
    const s = loadTimeoutSettings({ TIMEOUT_UI_HARD_TIMEOUT: '900', TIMEOUT_UI_HTTP_READ: '45', TIMEOUT_UI_HTTP_WRITE: '75' });
    assert.equal(s.profiles.ui.quartoExport, 900);
    assert.equal(s.profiles.ui.fileDownload, 45);
    assert.equal(s.profiles.ui.attachmentDownload, 45);
    assert.equal(s.profiles.ui.mailgunApi, 75);
    // email/api keep their own values
    assert.equal(s.profiles.email.quartoExport, 600);
    assert.equal(s.profiles.email.attachmentDownload, 180);
  });

  it('lets a ui derived key be overridden itself, which beats following its source', () => {
    const s = loadTimeoutSettings({ TIMEOUT_UI_HTTP_READ: '45', TIMEOUT_UI_ATTACHMENT_DOWNLOAD: '20' });
    assert.equal(s.profiles.ui.attachmentDownload, 20);
    assert.equal(s.profiles.ui.fileDownload, 45);
  });

  it('reads TIMEOUT_SCALE, CLOUD_RUN_TIMEOUT_S and SHUTDOWN_GRACE_S without treating them as profile keys', () => {
    const s = loadTimeoutSettings({ TIMEOUT_SCALE: '0.01', CLOUD_RUN_TIMEOUT_S: '1800', SHUTDOWN_GRACE_S: '5' });
    assert.equal(s.scale, 0.01);
    assert.equal(s.cloudRunTimeoutS, 1800);
    assert.equal(s.shutdownGraceS, 5);
    assert.deepEqual(s.overrides, []);
  });

  it('treats empty values as unset and ignores unrelated variables', () => {
    const s = loadTimeoutSettings({ TIMEOUT_HARD_TIMEOUT: '', TIMEOUT_SCALE: ' ', PATH: '/bin', HTTP_TIMEOUT: 'x' });
    assert.equal(s.profiles.email.hardTimeout, 3000);
    assert.equal(s.scale, 1);
  });

  it('names the bad variable and the expected unit for a non-numeric value', () => {
    assertConfigError({ TIMEOUT_HARD_TIMEOUT: 'abc' }, ['TIMEOUT_HARD_TIMEOUT: expected a number > 0 (seconds), got "abc"']);
    assertConfigError({ TIMEOUT_GENAI_TIMEOUT: '5m' }, ['TIMEOUT_GENAI_TIMEOUT: expected a number > 0 (milliseconds), got "5m"']);
  });

  it('rejects negative, zero, NaN, Infinity and hex durations', () => {
    for (const raw of ['-5', '0', 'NaN', 'Infinity', '0x10', '1e400']) {
      assertConfigError({ TIMEOUT_UI_HTTP_READ: raw }, [`TIMEOUT_UI_HTTP_READ: expected a number > 0 (seconds), got ${JSON.stringify(raw)}`]);
    }
  });

  it('requires retry attempts to be a positive integer', () => {
    for (const raw of ['0', '2.5', '-1', 'three']) {
      assertConfigError({ TIMEOUT_RETRY_ATTEMPTS: raw }, [`TIMEOUT_RETRY_ATTEMPTS: expected a positive integer (attempts), got ${JSON.stringify(raw)}`]);
    }
  });

  it('rejects an unknown key and points a seed-style name to ours', () => {
    assertConfigError({ TIMEOUT_FOO: '1' }, ['TIMEOUT_FOO: unknown timeout key "FOO"', 'HARD_TIMEOUT']);
    assertConfigError({ TIMEOUT_UI_BAR: '1' }, ['TIMEOUT_UI_BAR: unknown timeout key "BAR"']);
    assertConfigError({ TIMEOUT_TOOL_HARD_TIMEOUT: '2400' }, ['did you mean TIMEOUT_HARD_TIMEOUT?']);
  });

  it('rejects a bad scale and bad platform figures', () => {
    assertConfigError({ TIMEOUT_SCALE: '0' }, ['TIMEOUT_SCALE: expected a finite number > 0, got "0"']);
    assertConfigError({ TIMEOUT_SCALE: '-1' }, ['TIMEOUT_SCALE:']);
    assertConfigError({ TIMEOUT_SCALE: 'Infinity' }, ['TIMEOUT_SCALE:']);
    assertConfigError({ CLOUD_RUN_TIMEOUT_S: '7200' }, ['CLOUD_RUN_TIMEOUT_S: expected an integer number of seconds in 1..3600']);
    assertConfigError({ SHUTDOWN_GRACE_S: '-1' }, ['SHUTDOWN_GRACE_S: expected a number of seconds in 0..10']);
  });

  it('rejects a retry ceiling below its floor, naming the variables set', () => {
    assertConfigError({ TIMEOUT_RETRY_MAX: '3' }, ['TIMEOUT_RETRY_MAX', 'retryMax (3s) must be ≥ retryMin (5s) in the email/api profile']);
    assertConfigError({ TIMEOUT_UI_RETRY_MIN: '40' }, ['TIMEOUT_UI_RETRY_MIN', 'retryMax (32s) must be ≥ retryMin (40s) in the ui profile']);
  });

  it('lists every bad variable in one error', () => {
    assertConfigError(
      { TIMEOUT_HARD_TIMEOUT: 'abc', TIMEOUT_UI_HTTP_READ: '-1', TIMEOUT_FOO: '3', TIMEOUT_SCALE: 'fast', TIMEOUT_RETRY_ATTEMPTS: '0', SHUTDOWN_GRACE_S: 'x' },
      ['TIMEOUT_HARD_TIMEOUT', 'TIMEOUT_UI_HTTP_READ', 'TIMEOUT_FOO', 'TIMEOUT_SCALE', 'TIMEOUT_RETRY_ATTEMPTS', 'SHUTDOWN_GRACE_S'],
    );
  });

  it('returns frozen settings', () => {
    const s = loadTimeoutSettings({});
    assert.ok(Object.isFrozen(s) && Object.isFrozen(s.profiles.ui) && Object.isFrozen(s.profiles.email));
  });
});

describe('process-wide settings', () => {
  afterEach(() => resetTimeoutSettings());

  it('returns what configureTimeouts set, until reset', () => {
    const mine = loadTimeoutSettings({ TIMEOUT_SCALE: '0.5' });
    configureTimeouts(mine);
    assert.equal(getTimeoutSettings(), mine);
    resetTimeoutSettings();
    assert.notEqual(getTimeoutSettings(), mine);
  });

  it('loads lazily from process.env once and caches', () => {
    const saved = process.env.TIMEOUT_SCALE;
    process.env.TIMEOUT_SCALE = '0.25';
    try {
      const first = getTimeoutSettings();
      assert.equal(first.scale, 0.25);
      process.env.TIMEOUT_SCALE = '0.75';
      assert.equal(getTimeoutSettings(), first);
    } finally {
      if (saved === undefined) delete process.env.TIMEOUT_SCALE;
      else process.env.TIMEOUT_SCALE = saved;
    }
  });
});
