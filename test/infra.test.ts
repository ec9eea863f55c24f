/**
 * infra/ (Terraform) checked against the timeout engine and the code, by parsing the HCL: the
 * numbers are read from the engine here, never copied. Terraform itself cannot run on this machine.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { CONFIG_CATALOGUE, secretVariables } from '../src/config-catalogue.ts';
import { loadConfig } from '../src/config.ts';
import { assertChain, ledgerLeaseS, pullLeaseExtensionS, startupReadyBudgetS } from '../src/timeouts/chain.ts';
import { LEVEL_TABLE } from '../src/timeouts/levels.ts';
import { loadTimeoutSettings, type TimeoutSettings } from '../src/timeouts/settings.ts';
import { LEVELS } from '../src/timeouts/types.ts';
import { dynamicEnvSources, loadTerraform, mergedLocals, type Terraform, type Topology } from './helpers/terraform.ts';

const ROOT = join(import.meta.dirname, '..');

/** Pub/Sub's bounds (subscription resource reference). */
const PUBSUB = { ackMin: 10, ackMax: 600, backoffMax: 600, attemptsMin: 5, attemptsMax: 100 };

let tf: Terraform;
let settings: TimeoutSettings;
let srcText: string;

type Json = Record<string, unknown>;
const block = (value: unknown): Json => (Array.isArray(value) ? (value[0] as Json) : (value as Json));
const service = () => tf.resources.google_cloud_run_v2_service!.app!;
const pool = () => tf.resources.google_cloud_run_v2_worker_pool!.worker!;
const containers = (resource: Json) => block(resource.template).containers as Json[];
const mainContainer = (resource: Json) => containers(resource)[0]!;

function envOf(resource: Json): { plain: Record<string, string>; secrets: Record<string, string> } {
  const [plainSource, secretSource] = dynamicEnvSources(mainContainer(resource));
  const plain: Record<string, string> = {};
  for (const name of mergedLocals(plainSource!)) {
    for (const [k, v] of Object.entries(tf.locals[name] as Json)) plain[k] = String(v);
  }
  const secretsLocal = mergedLocals(secretSource!)[0]!;
  // `{ for name, s in local.secrets : name => s.id if contains(s.readers, "app") }`
  const reader = /contains\(s\.readers, "(\w+)"\)/.exec(String(tf.locals[secretsLocal]))![1]!;
  const all = (tf.locals.secrets as Json[] | Json) as Record<string, { id: string; readers: string[] }>;
  const secrets = Object.fromEntries(Object.entries(block(all) as Record<string, { id: string; readers: string[] }>).filter(([, s]) => s.readers.includes(reader)).map(([k, s]) => [k, s.id]));
  return { plain, secrets };
}

/** Delivery N arrives ≥ ack deadline + (N − 2) × minimum backoff after the first (infra/engine.tf). */
function earliestLastDeliveryS(topology: Topology): number {
  const n = Number(tf.local('max_delivery_attempts', topology));
  return Number(tf.local('ack_deadline_s', topology)) + (n - 2) * Number(tf.local('minimum_backoff_s', topology));
}

before(async () => {
  tf = await loadTerraform();
  settings = loadTimeoutSettings({});
  const files = (await readdir(join(ROOT, 'src'), { recursive: true })).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  srcText = (await Promise.all(files.map((f) => readFile(join(ROOT, 'src', f), 'utf8')))).join('\n');
});

describe('infra/ agrees with the timeout engine', () => {
  it('carries the engine figures: request timeout, grace, hardTimeout, lease extension, ledger lease', () => {
    assert.equal(tf.local('cloud_run_timeout_s'), settings.cloudRunTimeoutS);
    assert.equal(tf.local('shutdown_grace_s'), settings.shutdownGraceS);
    assert.equal(tf.local('hard_timeout_s'), settings.profiles.email.hardTimeout);
    assert.equal(tf.local('pull_lease_extension_s'), pullLeaseExtensionS(settings));
    assert.equal(tf.local('ledger_lease_s'), ledgerLeaseS);
    // The chain holds on exactly these figures (what the deployed worker checks at start-up).
    assertChain(loadTimeoutSettings({ CLOUD_RUN_TIMEOUT_S: String(tf.local('cloud_run_timeout_s')), SHUTDOWN_GRACE_S: String(tf.local('shutdown_grace_s')) }));
  });

  it('gives the service the request timeout the chain is checked against, in its settings and its env', () => {
    const template = block(service().template);
    assert.equal(tf.evaluate(template.timeout), `${settings.cloudRunTimeoutS}s`);
    const { plain } = envOf(service());
    assert.equal(tf.evaluate(plain.CLOUD_RUN_TIMEOUT_S), String(settings.cloudRunTimeoutS));
    assert.equal(tf.evaluate(plain.SHUTDOWN_GRACE_S), String(settings.shutdownGraceS));
    const resources = block(mainContainer(service()).resources);
    assert.equal(resources.cpu_idle, false, 'no CPU throttling: a push job outlives its request after the 600 s ack deadline');
  });

  for (const topology of ['push', 'pull'] as const) {
    it(`${topology}: ack deadline, backoff and dead-letter count are within Pub/Sub's bounds and never dead-letter a live job`, () => {
      const ack = Number(tf.local('ack_deadline_s', topology));
      const min = Number(tf.local('minimum_backoff_s', topology));
      const max = Number(tf.local('maximum_backoff_s', topology));
      const n = Number(tf.local('max_delivery_attempts', topology));
      assert.ok(ack >= PUBSUB.ackMin && ack <= PUBSUB.ackMax, `ack deadline ${ack}`);
      assert.ok(min <= max && max <= PUBSUB.backoffMax, `backoff ${min}–${max}`);
      assert.ok(n >= PUBSUB.attemptsMin && n <= PUBSUB.attemptsMax, `max_delivery_attempts ${n}`);
      // push: the held request is abandoned at the ack deadline and refused redeliveries follow
      // while the job runs, so the last delivery must come after the whole job (lease extension).
      // pull: the lease is extended for the whole job, so only a crash or nack redelivers; the
      // last delivery must come after a crashed worker's ledger lease lapsed.
      const mustOutlive = topology === 'push' ? pullLeaseExtensionS(settings) : ledgerLeaseS;
      assert.ok(earliestLastDeliveryS(topology) >= mustOutlive, `${topology}: last delivery at ≥ ${earliestLastDeliveryS(topology)} s, before ${mustOutlive} s`);
      if (topology === 'push') assert.equal(ack, PUBSUB.ackMax, 'push holds the request as long as Pub/Sub allows');
      else assert.ok(pullLeaseExtensionS(settings) >= settings.profiles.email.hardTimeout);
    });
  }

  it('wires the subscription and PUBSUB_MAX_DELIVERY_ATTEMPTS to the same selected figures', () => {
    const sub = tf.resources.google_pubsub_subscription!.jobs!;
    assert.equal(sub.ack_deadline_seconds, '${local.ack_deadline_s}');
    assert.equal(block(sub.dead_letter_policy).max_delivery_attempts, '${local.max_delivery_attempts}');
    assert.equal(block(sub.retry_policy).minimum_backoff, '${local.minimum_backoff_s}s');
    assert.equal(block(sub.retry_policy).maximum_backoff, '${local.maximum_backoff_s}s');
    for (const topology of ['push', 'pull'] as const) {
      const { plain } = envOf(service());
      assert.equal(tf.evaluate(plain.PUBSUB_MAX_DELIVERY_ATTEMPTS, topology), String(tf.local('max_delivery_attempts', topology)));
    }
    // Resource names as the code's defaults, so a local run talks to the same names.
    const { plain } = envOf(service());
    const defaults = loadConfig({ GEMINI_BASE_URL: 'http://x' }).pubsub;
    assert.deepEqual(
      [plain.PUBSUB_TOPIC, plain.PUBSUB_SUBSCRIPTION, plain.PUBSUB_DEAD_LETTER_TOPIC].map((e) => tf.evaluate(e)),
      [defaults.topic, defaults.subscription, defaults.deadLetterTopic],
    );
    assert.equal(tf.resources.google_pubsub_subscription!.jobs!.name, '${local.subscription_name}');
    // The pull figure is also the code's default, so a local run behaves like production.
    assert.equal(tf.local('max_delivery_attempts', 'pull'), loadConfig({ GEMINI_BASE_URL: 'http://x' }).pubsub.maxDeliveryAttempts);
  });

  it('pushes to /pubsub/push with an OIDC token whose audience and identity the service verifies', () => {
    const sub = tf.resources.google_pubsub_subscription!.jobs!;
    const push = block(block((sub.dynamic as Json).push_config).content);
    assert.match(String(push.push_endpoint), /\/pubsub\/push$/);
    const oidc = block(push.oidc_token);
    const { plain } = envOf(service());
    assert.equal(oidc.audience, plain.PUSH_AUDIENCE);
    assert.equal(oidc.service_account_email, plain.PUSH_SERVICE_ACCOUNT);
    assert.equal(plain.REQUIRE_PUSH_AUTH, 'true');
    assert.equal(plain.WORKER_MODE, 'push');
    assert.equal(String((block((sub.dynamic as Json).push_config) as Json).for_each), '${local.is_push ? [1] : []}');
  });

  it('probes start-up with a TCP connect (the app listens only when ready) that outlasts the app\'s own start-up budget', () => {
    const container = mainContainer(service());
    const probe = block(container.startup_probe);
    assert.equal(probe.http_get, undefined, 'an HTTP probe polls once a second at best');
    assert.equal(block(probe.tcp_socket).port, block(container.ports).container_port);
    // One attempt, kept trying for its whole timeout: the app exits with EW_ERR_NOT_READY first.
    assert.equal(probe.failure_threshold, 1);
    assert.ok(Number(probe.timeout_seconds) > startupReadyBudgetS, `probe window ${probe.timeout_seconds} s must outlast startupReadyBudgetS ${startupReadyBudgetS} s`);
    assert.ok(Number(probe.period_seconds) >= Number(probe.timeout_seconds), 'Cloud Run requires period ≥ timeout');
  });

  it('mirrors the seed 004 alert thresholds of LEVEL_TABLE', () => {
    const rules = tf.locals.timeout_alert_rules as Record<string, { percent: number; severity: string; name: string }>;
    assert.deepEqual(Object.keys(rules).sort(), [...LEVELS].sort());
    for (const level of LEVELS) {
      assert.deepEqual(rules[level], { percent: LEVEL_TABLE[level].alertPercent, severity: LEVEL_TABLE[level].alertSeverity, name: LEVEL_TABLE[level].name }, level);
    }
  });

  it('alerts on a job older than the longest job can run (lease extension + one backoff)', () => {
    for (const topology of ['push', 'pull'] as const) {
      assert.equal(tf.local('oldest_unacked_alert_s', topology), pullLeaseExtensionS(settings) + Number(tf.local('maximum_backoff_s', topology)));
    }
    const policy = tf.resources.google_monitoring_alert_policy!.oldest_unacked!;
    assert.equal(block(block(policy.conditions).condition_threshold).threshold_value, '${local.oldest_unacked_alert_s}');
  });
});

describe('infra/ agrees with the code', () => {
  it('sets production env: email profile, Firestore ledger, modes per role, only variables the code knows', () => {
    const known = new Set(CONFIG_CATALOGUE.map((v) => v.name));
    for (const [name, resource, mode] of [['service', service(), 'push'], ['worker pool', pool(), 'pull']] as const) {
      const { plain, secrets } = envOf(resource);
      assert.equal(plain.EMAIL_PROCESSING_MODE, 'true', name);
      assert.equal(plain.LEDGER, 'firestore', name);
      assert.equal(plain.WORKER_MODE, mode, name);
      for (const variable of [...Object.keys(plain), ...Object.keys(secrets)]) {
        assert.ok(known.has(variable), `${name} sets ${variable}, which the code does not read (src/config-catalogue.ts)`);
      }
    }
  });

  it('mounts every secret from Secret Manager, never as a plain value', () => {
    const service_ = envOf(service());
    for (const secret of secretVariables()) {
      assert.ok(service_.secrets[secret], `service lacks secret ${secret}`);
      assert.equal(service_.plain[secret], undefined, `${secret} set in plain text`);
    }
    const pool_ = envOf(pool());
    for (const secret of ['GEMINI_API_KEY', 'MAILGUN_API_KEY']) assert.ok(pool_.secrets[secret], `worker pool lacks secret ${secret}`);
    assert.equal(pool_.secrets.MAILGUN_WEBHOOK_SIGNING_KEY, undefined, 'the worker pool verifies no webhooks: least privilege');
  });

  it('counts log lines and steps the code really writes', () => {
    for (const [metric, m] of Object.entries(tf.locals.log_metrics as Record<string, { message: string }>)) {
      assert.ok(srcText.includes(`'${m.message}'`), `log metric ${metric}: no line "${m.message}" in src/`);
    }
    assert.ok(srcText.includes("'Job finished: reply sent'"));
    for (const step of tf.locals.job_steps as string[]) assert.ok(srcText.includes(`steps.time('${step}'`), `step ${step} is not timed in src/`);
  });

  it('keeps a Firestore database with a TTL policy on expireAt for the ledger collection', () => {
    const ttl = tf.resources.google_firestore_field!.ttl!;
    assert.equal(ttl.field, 'expireAt');
    assert.ok(ttl.ttl_config);
    assert.ok((tf.variables.firestore_ttl_collections!.default as string[]).includes('email-worker-ledger'));
    assert.equal(tf.resources.google_firestore_database!.ledger!.type, 'FIRESTORE_NATIVE');
  });

  it('runs the pull worker as a worker pool (CREMA or fixed) only in the pull topology', () => {
    assert.equal(pool().count, '${local.is_push ? 0 : 1}');
    assert.equal(block(pool().scaling).scaling_mode, 'MANUAL');
    assert.equal(tf.locals.use_crema, '${!local.is_push && var.pull_scaling == "crema"}');
    assert.match(String(tf.locals.crema_config), /type\s*=\s*"gcp-pubsub"/);
    assert.match(String(block(block(tf.terraform.required_providers).google).version), />= 6\.50/);
  });

  it('outputs the inbound URL for the Mailgun route', () => {
    assert.match(String(tf.outputs.inbound_url!.value), /\}\/inbound\/mailgun$/);
  });
});

describe('cloudbuild.yaml agrees with infra/ and the engine', () => {
  it('deploys with the same timeout, CPU, memory, concurrency, throttling, env and secrets', async () => {
    const text = await readFile(join(ROOT, 'cloudbuild.yaml'), 'utf8');
    const flag = (name: string) => new RegExp(`^\\s*- --${name}=(.*)$`, 'm').exec(text)?.[1]?.trim();
    assert.equal(flag('timeout'), String(settings.cloudRunTimeoutS));
    assert.equal(flag('cpu'), tf.variables.cpu!.default);
    assert.equal(flag('memory'), tf.variables.memory!.default);
    assert.equal(flag('concurrency'), String(tf.variables.worker_concurrency!.default));
    assert.equal(flag('max-instances'), String(tf.variables.max_instances!.default));
    assert.match(text, /^\s*- --no-cpu-throttling$/m);
    const env = Object.fromEntries(flag('update-env-vars')!.split(',').map((kv) => kv.split('=') as [string, string]));
    assert.deepEqual(env, { EMAIL_PROCESSING_MODE: 'true', CLOUD_RUN_TIMEOUT_S: String(settings.cloudRunTimeoutS), SHUTDOWN_GRACE_S: String(settings.shutdownGraceS) });
    const secrets = Object.fromEntries(flag('update-secrets')!.split(',').map((kv) => kv.split('=') as [string, string]));
    const { secrets: serviceSecrets } = envOf(service());
    assert.deepEqual(secrets, Object.fromEntries(Object.entries(serviceSecrets).map(([k, id]) => [k, `${id}:latest`])));
    assert.doesNotMatch(text, /--set-env-vars/, 'set-env-vars would wipe the env infra/ set');
  });
});
