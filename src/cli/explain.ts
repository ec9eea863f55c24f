/**
 * `email-worker explain [--context ui|email|api] [--tier T] [--json] [--variables]`: what an operator runs before
 * deploying. Prints the effective profile matrix (overrides marked, with their variable), the
 * scale, the tier table, T1–T5, and the deadline chain with ✓/✗ per rule.
 * Exit 0: the chain holds; 1: a rule is broken (all are printed); 2: bad usage or invalid config.
 */
import { parseArgs } from 'node:util';
import { describeError } from '../errors.ts';
import { renderSubscriptionReport, reportSubscription } from '../worker/subscription-report.ts';
import { ledgerHeartbeatS, ledgerLeaseS, pullLeaseExtensionS, validateChain, type ChainCheck } from '../timeouts/chain.ts';
import { contextTimeoutLines } from '../timeouts/context-log.ts';
import { detectRequestContext, isTruthyEnv } from '../timeouts/context.ts';
import { getHttpTimeouts, getRetryConfig, getTierTimeouts, getTimeouts, levelBudgetMs, parseTier, scaleMs } from '../timeouts/engine.ts';
import { LEVEL_TABLE } from '../timeouts/levels.ts';
import { COUNT_KEYS, MS_KEYS, UI_DERIVED } from '../timeouts/profiles.ts';
import { loadTimeoutSettings, PROFILE_KEYS, type ProfileGroup, type TimeoutSettings } from '../timeouts/settings.ts';
import { TIER_TABLE } from '../timeouts/tiers.ts';
import { CONFIG_CATALOGUE } from '../config-catalogue.ts';
import { LEVELS, TIERS, type ProfileKey, type RequestContext, type Tier } from '../timeouts/types.ts';

export interface ExplainIo {
  /** @defaultValue process.stdout */
  stdout?: { write(text: string): unknown };
  /** @defaultValue process.stderr */
  stderr?: { write(text: string): unknown };
  /** @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
}

const USAGE = `Usage: email-worker explain [--context ui|email|api] [--tier free|early|mid|platform|enterprise] [--json] [--variables] [--subscription]

Prints the effective timeout profiles (after TIMEOUT_* overrides and TIMEOUT_SCALE), the tier
table, the T1–T5 levels and the deadline chain. Exit 0 when the chain holds, 1 when a rule is
broken, 2 for bad usage or invalid configuration.

Options:
  --context <c>  context to highlight (default: from EMAIL_PROCESSING_MODE, else ui)
  --tier <t>     tier to highlight (default: free)
  --json         print one JSON object instead of tables
  --variables    list every environment variable with its default instead (the source of
                 .env.example and docs/configuration.md)
  --subscription also read PUBSUB_SUBSCRIPTION and warn about dead-letter, ack and retry
                 settings that break the deadline chain (needs Pub/Sub access; warnings do not
                 change the exit code)
  -h, --help     show this help`;

interface ProfileCell {
  value: number;
  unit: 's' | 'ms' | 'count';
  /** Duration after scale; absent for counts (never scaled). */
  effectiveMs?: number;
  /** The variable that set this value. */
  overriddenBy?: string;
  /** ui keys without an own value follow this key. */
  follows?: ProfileKey;
}

interface Report {
  context: RequestContext;
  contextSource: 'flag' | 'EMAIL_PROCESSING_MODE' | 'default';
  tier: Tier;
  tierSource: 'flag' | 'default';
  scale: number;
  cloudRunTimeoutS: number;
  shutdownGraceS: number;
  profiles: Record<ProfileGroup, Record<ProfileKey, ProfileCell>>;
  overrides: TimeoutSettings['overrides'];
  effective: {
    timeouts: ReturnType<typeof getTimeouts>;
    http: ReturnType<typeof getHttpTimeouts>;
    retry: ReturnType<typeof getRetryConfig>;
    logLines: string[];
  };
  tiers: Array<{ tier: Tier; selected: boolean; agentS: number; streamingS: number; streamIdleS: number; phaseS: number; phases: number } & Omit<ReturnType<typeof getTierTimeouts>, 'tier'>>;
  levels: Array<{ level: string; name: string; budgetMs: number; effectiveMs: number; fallback: string; fallbackLog: string; alertPercent: number; alertSeverity: string }>;
  leases: { pullLeaseExtensionS: number; ledgerLeaseS: number; ledgerHeartbeatS: number; ledgerLeaseMs: number; ledgerHeartbeatMs: number };
  chain: { ok: boolean; checks: ChainCheck[] };
}

function unitOfKey(key: ProfileKey): ProfileCell['unit'] {
  if (COUNT_KEYS.has(key)) return 'count';
  return MS_KEYS.has(key) ? 'ms' : 's';
}

function profileCells(group: ProfileGroup, settings: TimeoutSettings): Record<ProfileKey, ProfileCell> {
  const values = settings.profiles[group === 'ui' ? 'ui' : 'email'];
  const cells = {} as Record<ProfileKey, ProfileCell>;
  for (const key of PROFILE_KEYS) {
    const unit = unitOfKey(key);
    const cell: ProfileCell = { value: values[key], unit };
    if (unit !== 'count') cell.effectiveMs = scaleMs(unit === 'ms' ? values[key] : values[key] * 1000, settings);
    const override = settings.overrides.find((o) => o.context === group && o.key === key);
    if (override) cell.overriddenBy = override.variable;
    const source = group === 'ui' ? UI_DERIVED[key] : undefined;
    if (source && !override) cell.follows = source;
    cells[key] = cell;
  }
  return cells;
}

function buildReport(
  settings: TimeoutSettings,
  context: RequestContext,
  contextSource: Report['contextSource'],
  tier: Tier,
  tierSource: Report['tierSource'],
): Report {
  const checks = validateChain(settings);
  return {
    context,
    contextSource,
    tier,
    tierSource,
    scale: settings.scale,
    cloudRunTimeoutS: settings.cloudRunTimeoutS,
    shutdownGraceS: settings.shutdownGraceS,
    profiles: { ui: profileCells('ui', settings), 'email/api': profileCells('email/api', settings) },
    overrides: settings.overrides,
    effective: {
      timeouts: getTimeouts(context, settings),
      http: getHttpTimeouts(context, settings),
      retry: getRetryConfig(context, settings),
      logLines: contextTimeoutLines(context, settings),
    },
    tiers: TIERS.map((t) => {
      const v = TIER_TABLE[t];
      const { tier: _tier, ...ms } = getTierTimeouts(t, settings);
      return { tier: t, selected: t === tier, agentS: v.agent, streamingS: v.streaming, streamIdleS: v.streamIdle, phaseS: v.phase, ...ms };
    }),
    levels: LEVELS.map((level) => {
      const l = LEVEL_TABLE[level];
      return { level, name: l.name, budgetMs: l.budgetMs, effectiveMs: levelBudgetMs(level, settings), fallback: l.fallback, fallbackLog: l.fallbackLog, alertPercent: l.alertPercent, alertSeverity: l.alertSeverity };
    }),
    leases: {
      pullLeaseExtensionS: pullLeaseExtensionS(settings),
      ledgerLeaseS,
      ledgerHeartbeatS,
      ledgerLeaseMs: scaleMs(ledgerLeaseS * 1000, settings),
      ledgerHeartbeatMs: scaleMs(ledgerHeartbeatS * 1000, settings),
    },
    chain: { ok: checks.every((c) => c.ok), checks },
  };
}

/** Left-aligned columns, two spaces apart. */
function table(rows: string[][], indent = '  '): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => indent + row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

function cellText(cell: ProfileCell): [string, string] {
  const value = `${cell.value}${cell.overriddenBy ? '*' : ''}`;
  return [value, cell.effectiveMs === undefined ? `${cell.value} (count)` : String(cell.effectiveMs)];
}

function renderText(r: Report): string {
  const selectedGroup: ProfileGroup = r.context === 'ui' ? 'ui' : 'email/api';
  const mark = (group: ProfileGroup) => (group === selectedGroup ? ' ◀' : '');
  const out: string[] = [];

  out.push(`email-worker explain — context: ${r.context} (${r.contextSource}), tier: ${r.tier}${r.tierSource === 'default' ? ' (default)' : ''}, TIMEOUT_SCALE: ${r.scale}`);
  out.push(`CLOUD_RUN_TIMEOUT_S: ${r.cloudRunTimeoutS}s, SHUTDOWN_GRACE_S: ${r.shutdownGraceS}s (platform settings, never scaled)`);
  out.push('');
  out.push(`Profiles (seed units; effective ms = seed value × scale ${r.scale}; * = overridden)`);
  const rows = [['key', 'unit', `ui${mark('ui')}`, 'ui ms', `email/api${mark('email/api')}`, 'email/api ms', 'notes']];
  for (const key of PROFILE_KEYS) {
    const ui = r.profiles.ui[key];
    const ea = r.profiles['email/api'][key];
    const notes: string[] = [];
    if (ui.follows) notes.push(`ui follows ${ui.follows}`);
    if (ui.overriddenBy) notes.push(`${ui.overriddenBy}=${ui.value}`);
    if (ea.overriddenBy) notes.push(`${ea.overriddenBy}=${ea.value}`);
    rows.push([key, ui.unit, ...cellText(ui), ...cellText(ea), notes.join('; ')]);
  }
  out.push(table(rows));
  out.push('');
  out.push(`Effective for context '${r.context}':`);
  for (const line of r.effective.logLines) out.push(`  ${line}`);
  const retry = r.effective.retry;
  out.push(`  Retry: ${retry.attempts} attempts, waits ${retry.minDelayMs}–${retry.maxDelayMs}ms, factor ${retry.factor}, ${retry.jitter} jitter`);
  out.push('');
  out.push('Tiers (ui context; seconds as in seed 000; ▶ = selected)');
  const tierRows = [['', 'tier', 'agent', 'streaming', 'stream idle', 'phase', 'phases', 'agent ms', 'stream idle ms']];
  for (const t of r.tiers) {
    tierRows.push([t.selected ? '▶' : ' ', t.tier, `${t.agentS}s`, `${t.streamingS}s`, `${t.streamIdleS}s`, `${t.phaseS}s`, String(t.phases), String(t.agentMs), String(t.streamIdleMs)]);
  }
  out.push(table(tierRows));
  out.push('');
  out.push('Levels T1–T5 (seed 004)');
  const levelRows = [['level', 'name', 'budget', 'effective ms', 'on timeout', 'log line', 'alert']];
  for (const l of r.levels) {
    levelRows.push([l.level, l.name, `${l.budgetMs}ms`, String(l.effectiveMs), l.fallback, l.fallbackLog, `> ${l.alertPercent}% ${l.alertSeverity}`]);
  }
  out.push(table(levelRows));
  out.push('');
  out.push(
    `Leases: pull lease extension ${r.leases.pullLeaseExtensionS}s (Pub/Sub, not scaled); ledger lease ${r.leases.ledgerLeaseS}s (${r.leases.ledgerLeaseMs}ms), ` +
      `ledger heartbeat ${r.leases.ledgerHeartbeatS}s (${r.leases.ledgerHeartbeatMs}ms)`,
  );
  out.push('');
  out.push('Deadline chain (unscaled seed units)');
  for (const c of r.chain.checks) out.push(c.ok ? `  ✓ ${c.rule}` : `  ✗ ${c.rule} — ${c.detail}`);
  const broken = r.chain.checks.filter((c) => !c.ok).length;
  out.push('');
  out.push(broken ? `Deadline chain BROKEN: ${broken} rule${broken === 1 ? '' : 's'} violated; the worker refuses to start.` : 'Deadline chain holds.');
  return `${out.join('\n')}\n`;
}

/** The variable catalogue as a table: name, default, secret, who sets it, meaning. */
export function renderVariables(): string {
  const rows = [['variable', 'default', 'notes', 'meaning']];
  for (const v of CONFIG_CATALOGUE) {
    const notes = [v.secret ? 'secret' : '', v.setBy && v.setBy !== 'operator' ? v.setBy : ''].filter(Boolean).join(', ');
    rows.push([v.name, v.default === '' ? '(unset)' : v.default, notes, v.description]);
  }
  return `${table(rows, '')}\n`;
}

export async function run(argv: string[], io: ExplainIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const env = io.env ?? process.env;

  let values: { context?: string; tier?: string; json?: boolean; variables?: boolean; help?: boolean; subscription?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        context: { type: 'string' },
        tier: { type: 'string' },
        json: { type: 'boolean', default: false },
        variables: { type: 'boolean', default: false },
        subscription: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    stderr.write(`email-worker explain: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.variables) {
    stdout.write(values.json ? `${JSON.stringify(CONFIG_CATALOGUE, null, 2)}\n` : renderVariables());
    return 0;
  }

  let settings: TimeoutSettings;
  let context: RequestContext;
  let tier: Tier;
  try {
    // parseTier / detectRequestContext treat blank as "absent"; on the command line it is a mistake.
    if (values.context?.trim() === '') throw new Error('--context needs a value: ui, email or api');
    if (values.tier?.trim() === '') throw new Error(`--tier needs a value: ${TIERS.join(', ')}`);
    context = values.context !== undefined ? detectRequestContext({ explicit: values.context, env: {} }) : detectRequestContext({ env });
    tier = parseTier(values.tier);
    settings = loadTimeoutSettings(env);
  } catch (error) {
    stderr.write(`email-worker explain: ${describeError(error)}\n`);
    return 2;
  }

  const source: Report['contextSource'] = values.context !== undefined ? 'flag' : isTruthyEnv(env.EMAIL_PROCESSING_MODE) ? 'EMAIL_PROCESSING_MODE' : 'default';
  const report = buildReport(settings, context, source, tier, values.tier === undefined ? 'default' : 'flag');
  const subscription = values.subscription ? await reportSubscription(env) : undefined;
  if (values.json) stdout.write(`${JSON.stringify(subscription ? { ...report, subscription } : report, null, 2)}\n`);
  else stdout.write(renderText(report) + (subscription ? `\n${renderSubscriptionReport(subscription)}` : ''));
  return report.chain.ok ? 0 : 1;
}
