import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isWorkerError } from '../errors.ts';
import { assertChain, ledgerHeartbeatS, ledgerLeaseS, pullLeaseExtensionS, validateChain, type ChainCheck } from './chain.ts';
import { loadTimeoutSettings } from './settings.ts';
import { TIER_TABLE } from './tiers.ts';

const broken = (checks: ChainCheck[]) => checks.filter((c) => !c.ok).map((c) => c.rule);

describe('validateChain', () => {
  it('holds for the seed values, with every rule reported', () => {
    const checks = validateChain(loadTimeoutSettings({}));
    assert.deepEqual(broken(checks), []);
    // 2 profiles × (8 operations + Cloud Run + heartbeat + retryMax + pull lease) + ledger + 5 tiers
    assert.equal(checks.length, 2 * 12 + 1 + 5);
    assert.ok(checks.some((c) => c.rule === 'email/api: hardTimeout (3000s) < CLOUD_RUN_TIMEOUT_S (3600s) − SHUTDOWN_GRACE_S (8s) = 3592s'));
    assert.ok(checks.some((c) => c.rule === 'email/api: pull lease extension (3060s) ≥ hardTimeout (3000s)'));
    assert.ok(checks.some((c) => c.rule === 'tier enterprise: stream idle (360s) > agent (300s)'));
  });

  it('accepts the ui seed heartbeat equal to its stream timeout (120 s = 120 s)', () => {
    const rule = validateChain(loadTimeoutSettings({})).find((c) => c.rule.startsWith('ui: toolHeartbeat'));
    assert.deepEqual(rule && { rule: rule.rule, ok: rule.ok }, { rule: 'ui: toolHeartbeat (120s) ≤ streamTimeout (120s)', ok: true });
  });

  const EMAIL_OPS: Array<[string, string, string]> = [
    ['TIMEOUT_STREAM_TIMEOUT', '3001', 'email/api: streamTimeout (3001s) ≤ hardTimeout (3000s)'],
    ['TIMEOUT_GENAI_TIMEOUT', '3001000', 'email/api: genaiTimeout (3001000ms = 3001s) ≤ hardTimeout (3000s)'],
    ['TIMEOUT_HTTP_READ', '3001', 'email/api: httpRead (3001s) ≤ hardTimeout (3000s)'],
    ['TIMEOUT_HTTP_WRITE', '3001', 'email/api: httpWrite (3001s) ≤ hardTimeout (3000s)'],
    ['TIMEOUT_QUARTO_EXPORT', '3001', 'email/api: quartoExport (3001s) ≤ hardTimeout (3000s)'],
    ['TIMEOUT_FILE_DOWNLOAD', '3001', 'email/api: fileDownload (3001s) ≤ hardTimeout (3000s)'],
    ['TIMEOUT_ATTACHMENT_DOWNLOAD', '3001', 'email/api: attachmentDownload (3001s) ≤ hardTimeout (3000s)'],
    ['TIMEOUT_MAILGUN_API', '3001', 'email/api: mailgunApi (3001s) ≤ hardTimeout (3000s)'],
  ];
  for (const [variable, value, rule] of EMAIL_OPS) {
    it(`fails "operation ≤ hardTimeout" for ${variable}=${value}, naming the variable to change`, () => {
      const checks = validateChain(loadTimeoutSettings({ [variable]: value }));
      assert.deepEqual(broken(checks), [rule]);
      assert.match(checks.find((c) => !c.ok)!.detail, new RegExp(`lower ${variable} or raise TIMEOUT_HARD_TIMEOUT`));
    });
  }

  it('checks ui operations against the ui hardTimeout', () => {
    const checks = validateChain(loadTimeoutSettings({ TIMEOUT_UI_QUARTO_EXPORT: '601', TIMEOUT_UI_MAILGUN_API: '700' }));
    assert.deepEqual(broken(checks), ['ui: quartoExport (601s) ≤ hardTimeout (600s)', 'ui: mailgunApi (700s) ≤ hardTimeout (600s)']);
  });

  it('fails when hardTimeout does not end before Cloud Run minus the shutdown grace', () => {
    assert.deepEqual(broken(validateChain(loadTimeoutSettings({ TIMEOUT_HARD_TIMEOUT: '3592' }))), [
      'email/api: hardTimeout (3592s) < CLOUD_RUN_TIMEOUT_S (3600s) − SHUTDOWN_GRACE_S (8s) = 3592s',
    ]);
    assert.deepEqual(broken(validateChain(loadTimeoutSettings({ TIMEOUT_HARD_TIMEOUT: '3591' }))), []);
    assert.deepEqual(broken(validateChain(loadTimeoutSettings({ CLOUD_RUN_TIMEOUT_S: '600', SHUTDOWN_GRACE_S: '0' }))), [
      'ui: hardTimeout (600s) < CLOUD_RUN_TIMEOUT_S (600s) − SHUTDOWN_GRACE_S (0s) = 600s',
      'email/api: hardTimeout (3000s) < CLOUD_RUN_TIMEOUT_S (600s) − SHUTDOWN_GRACE_S (0s) = 600s',
    ]);
  });

  it('fails when toolHeartbeat exceeds streamTimeout', () => {
    assert.deepEqual(broken(validateChain(loadTimeoutSettings({ TIMEOUT_TOOL_HEARTBEAT: '1801' }))), [
      'email/api: toolHeartbeat (1801s) ≤ streamTimeout (1800s)',
    ]);
    assert.deepEqual(broken(validateChain(loadTimeoutSettings({ TIMEOUT_UI_STREAM_TIMEOUT: '100' }))), [
      'ui: toolHeartbeat (120s) ≤ streamTimeout (100s)',
    ]);
  });

  it('fails when retryMax is not below hardTimeout', () => {
    assert.deepEqual(broken(validateChain(loadTimeoutSettings({ TIMEOUT_RETRY_MAX: '3000' }))), ['email/api: retryMax (3000s) < hardTimeout (3000s)']);
  });

  it('fails when the pull lease extension is shorter than a hardTimeout', () => {
    assert.deepEqual(broken(validateChain(loadTimeoutSettings({}), { pullLeaseExtensionS: 2999 })), [
      'email/api: pull lease extension (2999s) ≥ hardTimeout (3000s)',
    ]);
  });

  it('fails when the ledger lease does not outlast its heartbeat interval', () => {
    assert.deepEqual(broken(validateChain(loadTimeoutSettings({}), { ledgerLeaseS: 30, heartbeatIntervalS: 30 })), [
      'ledger lease (30s) > ledger heartbeat interval (30s)',
    ]);
  });

  it('fails a tier whose stream idle limit does not exceed its agent timeout', () => {
    const tiers = { ...TIER_TABLE, mid: { ...TIER_TABLE.mid, streamIdle: 60 } };
    assert.deepEqual(broken(validateChain(loadTimeoutSettings({}), { tiers })), ['tier mid: stream idle (60s) > agent (60s)']);
  });

  it('checks unscaled values: a tiny scale does not change the verdict', () => {
    const env = { TIMEOUT_HARD_TIMEOUT: '4000' };
    assert.deepEqual(broken(validateChain(loadTimeoutSettings({ ...env, TIMEOUT_SCALE: '0.001' }))), broken(validateChain(loadTimeoutSettings(env))));
    assert.equal(broken(validateChain(loadTimeoutSettings({ TIMEOUT_SCALE: '0.001' }))).length, 0);
  });
});

describe('pull lease and ledger defaults', () => {
  it('extends the pull lease to the email hardTimeout plus 60 s', () => {
    assert.equal(pullLeaseExtensionS(loadTimeoutSettings({})), 3060);
    assert.equal(pullLeaseExtensionS(loadTimeoutSettings({ TIMEOUT_HARD_TIMEOUT: '2400' })), 2460);
  });

  it('covers a ui job on the pull path when the ui hardTimeout is the longer one', () => {
    assert.equal(pullLeaseExtensionS(loadTimeoutSettings({ TIMEOUT_HARD_TIMEOUT: '300', TIMEOUT_UI_HARD_TIMEOUT: '900' })), 960);
  });

  it('leases the ledger for 120 s with a 30 s heartbeat', () => {
    assert.equal(ledgerLeaseS, 120);
    assert.equal(ledgerHeartbeatS, 30);
  });
});

describe('assertChain', () => {
  it('returns the checks when the chain holds', () => {
    assert.ok(assertChain(loadTimeoutSettings({})).every((c) => c.ok));
  });

  it('throws one permanent config error listing every broken rule', () => {
    const settings = loadTimeoutSettings({ TIMEOUT_HARD_TIMEOUT: '4000', TIMEOUT_TOOL_HEARTBEAT: '1900', TIMEOUT_UI_RETRY_MAX: '600' });
    assert.throws(
      () => assertChain(settings, { ledgerLeaseS: 10 }),
      (error: unknown) => {
        assert.ok(isWorkerError(error));
        assert.equal(error.code, 'EW_ERR_CONFIG_INVALID');
        assert.equal(error.retryable, false);
        assert.match(error.message, /4 rules/);
        for (const rule of [
          'email/api: hardTimeout (4000s) < CLOUD_RUN_TIMEOUT_S (3600s) − SHUTDOWN_GRACE_S (8s) = 3592s',
          'email/api: toolHeartbeat (1900s) ≤ streamTimeout (1800s)',
          'ui: retryMax (600s) < hardTimeout (600s)',
          'ledger lease (10s) > ledger heartbeat interval (30s)',
        ]) {
          assert.ok(error.message.includes(`✗ ${rule}`), `missing ${rule} in:\n${error.message}`);
        }
        return true;
      },
    );
  });
});
