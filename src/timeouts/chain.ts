/**
 * The deadline chain (SPEC §2.4), checked at start-up on UNSCALED values (seed units):
 *
 *   operation timeouts ≤ hardTimeout < CLOUD_RUN_TIMEOUT_S − SHUTDOWN_GRACE_S,
 *   hardTimeout ≤ pull lease extension, toolHeartbeat ≤ streamTimeout, retryMax < hardTimeout,
 *   ledger lease > ledger heartbeat, per tier stream idle > agent.
 *
 * `toolHeartbeat ≤ streamTimeout` is non-strict: the ui seed has both at 120 s, and an idle limit
 * equal to the whole-stream limit is merely redundant, never harmful.
 */
import { ErrorCodes, permanent } from '../errors.ts';
import { overrideVariable, type ProfileGroup, type TimeoutSettings } from './settings.ts';
import { TIER_TABLE } from './tiers.ts';
import { TIERS, type ProfileKey, type ProfileValues, type Tier, type TierValues } from './types.ts';

/** Ledger lease of a running job, s (unscaled; the worker scales it). */
export const ledgerLeaseS = 120;
/** Interval at which a running job renews its ledger lease, s (unscaled). */
export const ledgerHeartbeatS = 30;
/**
 * Longest ack deadline the pull client asks for when it extends a lease, s. The client picks the
 * 99th percentile of its ack times (up to 600 s with long jobs); a crashed worker's messages come
 * back only when that deadline runs out. Bounded by the ledger lease, a crashed job is redelivered
 * about when its lease lapses, so the takeover follows within a lease and one backoff.
 */
export const pullMaxAckDeadlineS = ledgerLeaseS;
/**
 * How long a starting instance keeps running its readiness checks (ledger, Pub/Sub) before it
 * gives up and exits, s (unscaled: it is measured against the platform's startup probe). The port
 * opens only when they pass, so this must end inside the TCP startup probe's window (infra/run.tf:
 * 240 s, Cloud Run's default), or the platform would kill the instance before it says why.
 */
export const startupReadyBudgetS = 120;
/** Extra time the pull lease outlives the longest job: ack, ledger finish, clock skew. */
export const PULL_LEASE_MARGIN_S = 60;

/**
 * How long the pull subscriber keeps extending a message's lease, s: the longest hardTimeout of
 * any profile (a Pub/Sub job may carry `context: ui`) plus {@link PULL_LEASE_MARGIN_S}.
 * With the seeds: 3000 + 60 = 3060 s.
 */
export function pullLeaseExtensionS(settings: TimeoutSettings): number {
  return Math.max(settings.profiles.ui.hardTimeout, settings.profiles.email.hardTimeout) + PULL_LEASE_MARGIN_S;
}

export interface ChainCheck {
  /** The rule with its figures, e.g. `email/api: retryMax (300s) < hardTimeout (3000s)`. */
  rule: string;
  ok: boolean;
  /** Why the rule exists, and on failure which variables to change. */
  detail: string;
}

export interface ChainExtra {
  /** @defaultValue pullLeaseExtensionS(settings) */
  pullLeaseExtensionS?: number;
  /** @defaultValue ledgerLeaseS (120) */
  ledgerLeaseS?: number;
  /** @defaultValue ledgerHeartbeatS (30) */
  heartbeatIntervalS?: number;
  /** The tier table to check (tests; tiers are not configurable). @defaultValue TIER_TABLE */
  tiers?: Readonly<Record<Tier, Readonly<TierValues>>>;
}

/** Operation timeouts that must each fit in one job. */
const OPERATION_KEYS: readonly ProfileKey[] = [
  'streamTimeout',
  'genaiTimeout',
  'httpRead',
  'httpWrite',
  'quartoExport',
  'fileDownload',
  'attachmentDownload',
  'mailgunApi',
];

const s = (seconds: number): string => `${Number(seconds.toFixed(3))}s`;

function check(rule: string, ok: boolean, why: string, fix: string): ChainCheck {
  return { rule, ok, detail: ok ? why : `${why}; ${fix}` };
}

function profileChecks(group: ProfileGroup, p: ProfileValues, settings: TimeoutSettings, pullLeaseS: number): ChainCheck[] {
  const v = (key: ProfileKey) => overrideVariable(group, key);
  const hard = `hardTimeout (${s(p.hardTimeout)})`;
  const checks: ChainCheck[] = [];

  for (const key of OPERATION_KEYS) {
    const seconds = key === 'genaiTimeout' ? p[key] / 1000 : p[key];
    const shown = key === 'genaiTimeout' ? `${p[key]}ms = ${s(seconds)}` : s(seconds);
    checks.push(
      check(
        `${group}: ${key} (${shown}) ≤ ${hard}`,
        seconds <= p.hardTimeout,
        'one operation must fit in the job deadline',
        `lower ${v(key)} or raise ${v('hardTimeout')}`,
      ),
    );
  }

  const budget = settings.cloudRunTimeoutS - settings.shutdownGraceS;
  checks.push(
    check(
      `${group}: ${hard} < CLOUD_RUN_TIMEOUT_S (${s(settings.cloudRunTimeoutS)}) − SHUTDOWN_GRACE_S (${s(settings.shutdownGraceS)}) = ${s(budget)}`,
      p.hardTimeout < budget,
      'a job must end before Cloud Run cuts the request, with the shutdown grace to spare',
      `lower ${v('hardTimeout')} or raise CLOUD_RUN_TIMEOUT_S (and the service's --timeout)`,
    ),
    check(
      `${group}: toolHeartbeat (${s(p.toolHeartbeat)}) ≤ streamTimeout (${s(p.streamTimeout)})`,
      p.toolHeartbeat <= p.streamTimeout,
      'the silence allowed between stream chunks cannot exceed the whole stream',
      `lower ${v('toolHeartbeat')} or raise ${v('streamTimeout')}`,
    ),
    check(
      `${group}: retryMax (${s(p.retryMax)}) < ${hard}`,
      p.retryMax < p.hardTimeout,
      'a single backoff wait must leave time for another attempt inside the job',
      `lower ${v('retryMax')} or raise ${v('hardTimeout')}`,
    ),
    check(
      `${group}: pull lease extension (${s(pullLeaseS)}) ≥ ${hard}`,
      pullLeaseS >= p.hardTimeout,
      'Pub/Sub must not redeliver a message while its job can still run',
      `lower ${v('hardTimeout')} or extend the pull lease`,
    ),
  );
  return checks;
}

/** Every rule of the chain with its verdict; nothing is thrown. */
export function validateChain(settings: TimeoutSettings, extra: ChainExtra = {}): ChainCheck[] {
  const pullLeaseS = extra.pullLeaseExtensionS ?? pullLeaseExtensionS(settings);
  const leaseS = extra.ledgerLeaseS ?? ledgerLeaseS;
  const heartbeatS = extra.heartbeatIntervalS ?? ledgerHeartbeatS;
  const checks = [
    ...profileChecks('ui', settings.profiles.ui, settings, pullLeaseS),
    ...profileChecks('email/api', settings.profiles.email, settings, pullLeaseS),
    check(
      `ledger lease (${s(leaseS)}) > ledger heartbeat interval (${s(heartbeatS)})`,
      leaseS > heartbeatS,
      'a live job renews its ledger lease before it lapses',
      'shorten the heartbeat interval or lengthen the lease',
    ),
  ];
  const tiers = extra.tiers ?? TIER_TABLE;
  for (const tier of TIERS) {
    const t = tiers[tier];
    checks.push(
      check(
        `tier ${tier}: stream idle (${s(t.streamIdle)}) > agent (${s(t.agent)})`,
        t.streamIdle > t.agent,
        "the client's stream must not go idle-dead while the agent is still allowed to work (seed: WebSocket recv > agent)",
        'fix the tier table',
      ),
    );
  }
  return checks;
}

/** Throws one permanent `EW_ERR_CONFIG_INVALID` listing every broken rule; returns the checks otherwise. */
export function assertChain(settings: TimeoutSettings, extra: ChainExtra = {}): ChainCheck[] {
  const checks = validateChain(settings, extra);
  const broken = checks.filter((c) => !c.ok);
  if (broken.length) {
    throw permanent(
      ErrorCodes.CONFIG_INVALID,
      `Deadline chain broken (${broken.length} rule${broken.length === 1 ? '' : 's'}):\n${broken.map((c) => `  ✗ ${c.rule} — ${c.detail}`).join('\n')}`,
      { details: { broken: broken.map((c) => c.rule) } },
    );
  }
  return checks;
}
