import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { run } from './explain.ts';

async function explain(argv: string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { env, stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
  return { code, stdout, stderr };
}

const BIN = fileURLToPath(new URL('../../bin/email-worker.js', import.meta.url));

/** The real launcher, as an operator runs it (process.execPath is the project's Node 24 here). */
function spawnExplain(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'explain', ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('email-worker explain (text)', () => {
  it('prints the seed email profile, the seed log lines and a holding chain, exit 0', async () => {
    const r = await explain(['--context', 'email']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /context: email \(flag\), tier: free \(default\), TIMEOUT_SCALE: 1/);
    assert.match(r.stdout, /hardTimeout\s+s\s+600\s+600000\s+3000\s+3000000/);
    assert.match(r.stdout, /genaiTimeout\s+ms\s+60000\s+60000\s+300000\s+300000/);
    assert.match(r.stdout, /retryAttempts\s+count\s+7\s+7 \(count\)\s+5\s+5 \(count\)/);
    assert.match(r.stdout, /attachmentDownload\s+s\s+30\s+30000\s+180\s+180000\s+ui follows httpRead/);
    assert.ok(r.stdout.includes("Using GenAI timeout for context 'email': 300000ms\n"));
    assert.ok(r.stdout.includes("Using tool orchestrator timeouts for context 'email': heartbeat=300s, hard_timeout=3000s\n"));
    assert.ok(r.stdout.includes(`Using HTTP timeouts for context 'email': {"connectTimeoutMs":10000,"headersTimeoutMs":300000,"bodyTimeoutMs":300000,"writeTimeoutMs":300000}`));
    assert.ok(r.stdout.includes('✓ email/api: hardTimeout (3000s) < CLOUD_RUN_TIMEOUT_S (3600s) − SHUTDOWN_GRACE_S (8s) = 3592s'));
    assert.doesNotMatch(r.stdout, /✗/);
    assert.match(r.stdout, /Deadline chain holds\./);
  });

  it('prints the tier table with the selected tier marked and the T1–T5 table', async () => {
    const r = await explain(['--tier', 'mid']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /▶\s+mid\s+60s\s+60s\s+90s\s+20s\s+1\s+60000\s+90000/);
    assert.match(r.stdout, /\n\s+enterprise\s+300s\s+300s\s+360s\s+60s\s+5\s+300000\s+360000/);
    assert.match(r.stdout, /T3\s+Layer\s+2000ms\s+2000\s+partial load\s+T3 layer timeout - returning partial\s+> 10% INFO/);
    assert.match(r.stdout, /T1\s+Cache\s+100ms\s+100\s+skip cache\s+T1 cache timeout - skipping cache\s+> 1% CRITICAL/);
  });

  it('takes the context from EMAIL_PROCESSING_MODE when no flag is given, else ui', async () => {
    assert.match((await explain([], { EMAIL_PROCESSING_MODE: 'yes' })).stdout, /context: email \(EMAIL_PROCESSING_MODE\)/);
    assert.match((await explain([])).stdout, /context: ui \(default\)/);
  });

  it('marks an override with * and names its variable, and shows effective ms after scale', async () => {
    const r = await explain(['--context', 'ui'], { TIMEOUT_UI_HTTP_READ: '20', TIMEOUT_SCALE: '0.01' });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /httpRead\s+s\s+20\*\s+200\s+300\s+3000\s+TIMEOUT_UI_HTTP_READ=20/);
    // derived ui keys follow the overridden source
    assert.match(r.stdout, /fileDownload\s+s\s+20\s+200\s+300\s+3000\s+ui follows httpRead/);
    assert.ok(r.stdout.includes("Using GenAI timeout for context 'ui': 600ms (scale 0.01)"));
  });

  it('exits 1 naming the hard timeout vs Cloud Run rule when TIMEOUT_HARD_TIMEOUT=4000', async () => {
    const r = await explain([], { TIMEOUT_HARD_TIMEOUT: '4000' });
    assert.equal(r.code, 1);
    assert.ok(r.stdout.includes('✗ email/api: hardTimeout (4000s) < CLOUD_RUN_TIMEOUT_S (3600s) − SHUTDOWN_GRACE_S (8s) = 3592s'));
    assert.ok(r.stdout.includes('lower TIMEOUT_HARD_TIMEOUT'));
    assert.match(r.stdout, /Deadline chain BROKEN: 1 rule violated/);
  });

  it('prints every broken rule before exiting 1', async () => {
    const r = await explain([], { TIMEOUT_HARD_TIMEOUT: '4000', TIMEOUT_TOOL_HEARTBEAT: '1900', TIMEOUT_UI_MAILGUN_API: '700' });
    assert.equal(r.code, 1);
    assert.equal(r.stdout.split('\n').filter((l) => l.trimStart().startsWith('✗')).length, 3);
    assert.match(r.stdout, /BROKEN: 3 rules violated/);
  });

  it('exits 2 with the variable named on stderr for invalid config', async () => {
    const r = await explain([], { TIMEOUT_HARD_TIMEOUT: 'abc', TIMEOUT_FOO: '1' });
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.ok(r.stderr.includes('TIMEOUT_HARD_TIMEOUT: expected a number > 0 (seconds), got "abc"'));
    assert.ok(r.stderr.includes('TIMEOUT_FOO'));
  });

  it('exits 2 for bad usage: unknown option, bad context, bad tier, blank value, positional', async () => {
    for (const argv of [['--bogus'], ['--context', 'batch'], ['--tier', 'gold'], ['--tier', ''], ['extra']]) {
      const r = await explain(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.equal(r.stdout, '');
      assert.notEqual(r.stderr, '');
    }
    assert.match((await explain(['--tier', 'gold'])).stderr, /valid tiers: free, early, mid, platform, enterprise/);
    assert.match((await explain(['--context', 'batch'])).stderr, /"batch"/);
  });

  it('prints usage and exits 0 for --help', async () => {
    const r = await explain(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: email-worker explain/);
  });
});

describe('email-worker explain --json', () => {
  it('prints one JSON object with the matrix, tiers, levels and chain', async () => {
    const r = await explain(['--json', '--context', 'api', '--tier', 'enterprise'], { TIMEOUT_RETRY_ATTEMPTS: '3', TIMEOUT_SCALE: '0.5' });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.context, 'api');
    assert.equal(report.tier, 'enterprise');
    assert.equal(report.scale, 0.5);
    assert.deepEqual(report.profiles['email/api'].hardTimeout, { value: 3000, unit: 's', effectiveMs: 1_500_000 });
    assert.deepEqual(report.profiles['email/api'].retryAttempts, { value: 3, unit: 'count', overriddenBy: 'TIMEOUT_RETRY_ATTEMPTS' });
    assert.deepEqual(report.profiles.ui.mailgunApi, { value: 60, unit: 's', effectiveMs: 30_000, follows: 'httpWrite' });
    assert.equal(report.effective.timeouts.genaiTimeoutMs, 150_000);
    assert.equal(report.effective.retry.attempts, 3);
    assert.deepEqual(
      report.tiers.filter((t: { selected: boolean }) => t.selected).map((t: { tier: string; agentS: number; agentMs: number; phases: number }) => [t.tier, t.agentS, t.agentMs, t.phases]),
      [['enterprise', 300, 150_000, 5]],
    );
    assert.deepEqual(report.levels.map((l: { level: string; budgetMs: number; effectiveMs: number }) => [l.level, l.budgetMs, l.effectiveMs]), [
      ['T1', 100, 50],
      ['T2', 500, 250],
      ['T3', 2000, 1000],
      ['T4', 5000, 2500],
      ['T5', 10000, 5000],
    ]);
    assert.equal(report.leases.pullLeaseExtensionS, 3060);
    assert.equal(report.chain.ok, true);
    assert.equal(report.chain.checks.length, 30);
  });

  it('reports a broken chain in JSON and exits 1', async () => {
    const r = await explain(['--json'], { CLOUD_RUN_TIMEOUT_S: '900' });
    assert.equal(r.code, 1);
    const report = JSON.parse(r.stdout);
    assert.equal(report.chain.ok, false);
    assert.deepEqual(report.chain.checks.filter((c: { ok: boolean }) => !c.ok).map((c: { rule: string }) => c.rule), [
      'email/api: hardTimeout (3000s) < CLOUD_RUN_TIMEOUT_S (900s) − SHUTDOWN_GRACE_S (8s) = 892s',
    ]);
  });
});

describe('bin/email-worker.js explain', () => {
  it('runs through the real launcher and exits 0 with the seed values', async () => {
    const r = await spawnExplain(['--context', 'email'], {});
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes("Using tool orchestrator timeouts for context 'email': heartbeat=300s, hard_timeout=3000s"));
  });

  it('exits 1 through the real launcher when the hard timeout breaks the Cloud Run rule', async () => {
    const r = await spawnExplain([], { TIMEOUT_HARD_TIMEOUT: '4000' });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /✗ email\/api: hardTimeout \(4000s\) < CLOUD_RUN_TIMEOUT_S/);
  });

  it('exits 2 through the real launcher for an invalid variable', async () => {
    const r = await spawnExplain([], { TIMEOUT_SCALE: 'fast' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /TIMEOUT_SCALE: expected a finite number > 0, got "fast"/);
  });
});
