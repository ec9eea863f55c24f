/**
 * Structured logging for Cloud Run: one JSON object per line on stdout, with the fields Cloud
 * Logging reads (`severity`, `message`, `time`, `logging.googleapis.com/trace`, `…/spanId`,
 * `httpRequest`). The entry's time is `time` (RFC 3339): Cloud Logging takes `timestamp` only as
 * `{seconds, nanos}` and would stamp a string `timestamp` with the ingestion time instead.
 * Every line passes through the redaction format first, so secrets never reach the log.
 *
 * Modules take a `logger` in their options (a child of this one) rather than importing the root,
 * so tests can hand them a logger that writes to a buffer.
 */
import winston, { type Logger } from 'winston';
import { envSecrets, isSecretKey, REDACTED, redactString, redactValue, serializeError } from './redact.ts';

// winston's info keys (triple-beam's registered symbols; not imported, as triple-beam is only a
// dependency of winston, not of ours).
const LEVEL = Symbol.for('level');
const MESSAGE = Symbol.for('message');
const SPLAT = Symbol.for('splat');

/** Cloud Logging severities, most severe first. */
export type Severity = 'EMERGENCY' | 'ALERT' | 'CRITICAL' | 'ERROR' | 'WARNING' | 'NOTICE' | 'INFO' | 'DEBUG';

/**
 * winston levels (lower = more severe) and the severity each is written with. Both the npm names
 * (`warn`, `verbose`…) and the syslog names (`warning`, `crit`…) exist, because winston's `Logger`
 * type declares methods for both and `LOG_LEVEL` accepts `warning`.
 */
export const LOG_LEVELS: Readonly<Record<string, { priority: number; severity: Severity }>> = Object.freeze({
  emerg: { priority: 0, severity: 'EMERGENCY' },
  emergency: { priority: 0, severity: 'EMERGENCY' },
  alert: { priority: 1, severity: 'ALERT' },
  critical: { priority: 2, severity: 'CRITICAL' },
  crit: { priority: 2, severity: 'CRITICAL' },
  error: { priority: 3, severity: 'ERROR' },
  warn: { priority: 4, severity: 'WARNING' },
  warning: { priority: 4, severity: 'WARNING' },
  notice: { priority: 5, severity: 'NOTICE' },
  info: { priority: 6, severity: 'INFO' },
  http: { priority: 7, severity: 'DEBUG' },
  verbose: { priority: 8, severity: 'DEBUG' },
  debug: { priority: 9, severity: 'DEBUG' },
  silly: { priority: 10, severity: 'DEBUG' },
});

const PRIORITIES: Record<string, number> = Object.fromEntries(Object.entries(LOG_LEVELS).map(([name, v]) => [name, v.priority]));

/** The winston level that writes a given severity (for callers that think in severities, like alerts). */
export function levelForSeverity(severity: Severity): string {
  switch (severity) {
    case 'EMERGENCY':
      return 'emerg';
    case 'ALERT':
      return 'alert';
    case 'CRITICAL':
      return 'critical';
    case 'ERROR':
      return 'error';
    case 'WARNING':
      return 'warn';
    case 'NOTICE':
      return 'notice';
    case 'INFO':
      return 'info';
    case 'DEBUG':
      return 'debug';
  }
}

/** winston's Logger plus the levels it does not type. */
export type AppLogger = Logger & { critical: winston.LeveledLogMethod; emergency: winston.LeveledLogMethod };

export interface LoggerOptions {
  /** Least severe level written (`debug`, `info`, `notice`, `warning`, `error`, `critical`…). @defaultValue `LOG_LEVEL`, else `'info'` */
  level?: string;
  /** Where the JSON lines go; tests pass a buffer. @defaultValue `process.stdout` */
  stream?: NodeJS.WritableStream;
  /** Fields on every line (e.g. `{ service: 'email-worker' }`). @defaultValue none */
  base?: object;
  /** Secret values to cut out of every line, in addition to GEMINI_API_KEY, MAILGUN_API_KEY, MAILGUN_WEBHOOK_SIGNING_KEY from env. @defaultValue `[]` */
  secrets?: string[];
  /** Project for `logging.googleapis.com/trace`. @defaultValue `GOOGLE_CLOUD_PROJECT` */
  projectId?: string;
  /** Environment to read the defaults from. @defaultValue `process.env` */
  env?: NodeJS.ProcessEnv;
}

/** A trace a log line belongs to: pass it as `trace` metadata (`logger.child({ jobId, trace })`). */
export interface TraceContext {
  /** 32 hex digits. */
  traceId: string;
  /** 16 hex digits, as Cloud Logging wants it. */
  spanId?: string;
  /** Whether the caller sampled this trace. */
  sampled?: boolean;
  /** `projects/<project>/traces/<traceId>`, when the project is known. */
  resource?: string;
}

type HeaderSource = { get(name: string): string | null } | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Reads the trace of an incoming request (or Pub/Sub attributes): `X-Cloud-Trace-Context:
 * TRACE_ID/SPAN_ID;o=1` (span in decimal) or W3C `traceparent: 00-TRACE_ID-SPAN_ID-FLAGS`.
 * Returns undefined when neither is present and valid.
 */
export function traceFromHeaders(headers: HeaderSource | undefined, projectId?: string): TraceContext | undefined {
  if (!headers) return undefined;
  let found: Omit<TraceContext, 'resource'> | undefined;
  const cloud = header(headers, 'x-cloud-trace-context');
  const m = cloud ? /^([0-9a-f]{32})(?:\/(\d+))?(?:;o=([01]))?/i.exec(cloud.trim()) : null;
  if (m && !/^0+$/.test(m[1]!)) {
    found = { traceId: m[1]!.toLowerCase() };
    if (m[2] !== undefined && !/^0+$/.test(m[2])) {
      try {
        found.spanId = BigInt(m[2]).toString(16).padStart(16, '0').slice(-16);
      } catch {
        // not a number: leave the span out
      }
    }
    if (m[3] !== undefined) found.sampled = m[3] === '1';
  } else {
    const tp = header(headers, 'traceparent');
    const w = tp ? /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/i.exec(tp.trim()) : null;
    if (w && w[1]!.toLowerCase() !== 'ff' && !/^0+$/.test(w[2]!) && !/^0+$/.test(w[3]!)) {
      found = { traceId: w[2]!.toLowerCase(), spanId: w[3]!.toLowerCase(), sampled: (Number.parseInt(w[4]!, 16) & 1) === 1 };
    }
  }
  if (!found) return undefined;
  return projectId ? { ...found, resource: `projects/${projectId}/traces/${found.traceId}` } : found;
}

/** Cloud Logging's trace fields for a `trace` metadata value (a TraceContext, a resource name or a bare id). */
function traceFields(trace: unknown, projectId: string | undefined): Record<string, unknown> | undefined {
  let ctx: Partial<TraceContext> | undefined;
  if (typeof trace === 'string' && trace) ctx = trace.startsWith('projects/') ? { resource: trace } : { traceId: trace };
  else if (trace && typeof trace === 'object') ctx = trace as Partial<TraceContext>;
  if (!ctx) return undefined;
  const resource = ctx.resource ?? (ctx.traceId && projectId ? `projects/${projectId}/traces/${ctx.traceId}` : undefined);
  const out: Record<string, unknown> = {};
  // Without a project, Cloud Logging cannot link the trace; keep the id searchable instead.
  if (resource) out['logging.googleapis.com/trace'] = resource;
  else if (ctx.traceId) out.traceId = ctx.traceId;
  if (ctx.spanId) out['logging.googleapis.com/spanId'] = ctx.spanId;
  if (typeof ctx.sampled === 'boolean') out['logging.googleapis.com/trace_sampled'] = ctx.sampled;
  return out;
}

function dropStack(value: unknown): void {
  if (value && typeof value === 'object' && 'stack' in value) delete (value as { stack?: unknown }).stack;
}

// Fields winston puts on `info` that are not the caller's metadata.
const INTERNAL_KEYS = new Set(['level', 'message', 'timestamp', 'time', 'severity']);

interface FormatState {
  secrets: readonly string[];
  base: object | undefined;
  projectId: string | undefined;
  includeStack: () => boolean;
  /** Whether the logger or one of its transports writes lines of this level. */
  writes: (level: string) => boolean;
}

/**
 * The Cloud Run JSON line, built in one pass: errors serialized, trace fields resolved, every
 * value redacted, `severity` from the level. Sets `info[MESSAGE]` to the line.
 */
function cloudRunFormat(state: FormatState): winston.Logform.Format {
  return winston.format((input) => {
    // winston formats every line and leaves the level check to its transports: a debug line at
    // LOG_LEVEL=info was redacted and serialized, then dropped (4 of 6 lines per job). Drop it here.
    if (!state.writes(String((input as unknown as Record<symbol, unknown>)[LEVEL] ?? input.level))) return false;
    const info = normalizeErrorInfo(input, state.base);
    const level = String((info as unknown as Record<symbol, unknown>)[LEVEL] ?? info.level);
    const includeStack = state.includeStack();
    const line: Record<string, unknown> = {
      severity: LOG_LEVELS[level]?.severity ?? 'DEFAULT',
      message: redactString(typeof info.message === 'string' ? info.message : String(info.message ?? ''), state.secrets),
      time: new Date().toISOString(),
    };
    let trace: Record<string, unknown> | undefined;
    for (const [key, value] of Object.entries(info)) {
      if (INTERNAL_KEYS.has(key) || value === undefined) continue;
      if (key === 'trace') {
        trace = traceFields(value, state.projectId);
        continue;
      }
      line[key] = isSecretKey(key) ? REDACTED : redactValue(value, state.secrets, { includeStack });
      if ((key === 'err' || key === 'error') && !includeStack) dropStack(line[key]);
    }
    if (trace) Object.assign(line, trace);
    (info as unknown as Record<symbol, unknown>)[MESSAGE] = JSON.stringify(line);
    return info;
  })();
}

// Fields of an error that winston copies onto `info` when an error is logged bare.
const ERROR_FIELDS = ['name', 'code', 'retryable', 'status', 'details', 'retryAfterMs', 'cause', 'stack'] as const;

/**
 * winston hands us errors in several shapes: `logger.error(err)` (info is the error, or a clone of
 * its fields through a child logger), `logger.info(err)` via `message`, and
 * `logger.error('msg', err)` (the error's fields merged into info). All become `{ message, err }`
 * so the error is serialized in one place. Preferred form: `logger.error('msg', { err })`.
 */
function normalizeErrorInfo(info: winston.Logform.TransformableInfo, base: object | undefined): winston.Logform.TransformableInfo {
  const symbols = info as unknown as Record<symbol, unknown>;
  if (info instanceof Error) {
    const out: winston.Logform.TransformableInfo = { level: info.level, message: info.message, err: info };
    // winston assigned the logger's default fields onto the error itself; keep them on the line.
    for (const k of Object.keys(base ?? {})) if (k in info) out[k] = (info as unknown as Record<string, unknown>)[k];
    (out as unknown as Record<symbol, unknown>)[LEVEL] = symbols[LEVEL] ?? info.level;
    return out;
  }
  if (info.message instanceof Error) {
    const err = info.message;
    info.message = err.message;
    if (info.err === undefined) info.err = err;
    return info;
  }
  if (info.err !== undefined || info.error !== undefined) return info;
  const splat = symbols[SPLAT];
  const first = Array.isArray(splat) ? (splat[0] as unknown) : undefined;
  if (first instanceof Error) {
    // winston copied the error's own fields onto info; keep them only under `err`.
    for (const k of Object.keys(first)) if (k !== 'level' && k !== 'message') delete info[k];
    delete info.stack;
    delete info.cause;
    info.err = first;
  } else if (typeof info.stack === 'string') {
    // A bare error logged through a child logger: only a clone of its fields is left.
    const err: Record<string, unknown> = { message: info.message };
    for (const k of ERROR_FIELDS) {
      if (k in info) {
        err[k] = info[k];
        delete info[k];
      }
    }
    if (err.name === undefined && typeof err.stack === 'string') err.name = /^(\w+)[:\n]/.exec(err.stack)?.[1];
    info.err = err;
  }
  return info;
}

/** Creates a logger writing Cloud Run JSON lines. */
export function createLogger(options: LoggerOptions = {}): AppLogger {
  const env = options.env ?? process.env;
  const level = (options.level ?? env.LOG_LEVEL ?? 'info').toLowerCase();
  if (!(level in LOG_LEVELS)) {
    throw new TypeError(`Unknown log level '${level}'; expected one of ${Object.keys(LOG_LEVELS).join(', ')}.`);
  }
  const secrets = Object.freeze([...envSecrets(env), ...(options.secrets ?? [])]);
  const ref: { logger?: Logger } = {};
  const state: FormatState = {
    secrets,
    base: options.base,
    projectId: options.projectId ?? (env.GOOGLE_CLOUD_PROJECT || undefined),
    // Stacks only when the logger itself runs at debug: they are long and rarely needed in prod.
    includeStack: () => (PRIORITIES[ref.logger?.level ?? level] ?? 0) >= PRIORITIES.debug!,
    writes: (lineLevel) => {
      const priority = PRIORITIES[lineLevel];
      const log = ref.logger;
      if (priority === undefined || !log || priority <= (PRIORITIES[log.level] ?? 0)) return true;
      // A transport with a level of its own may want more than the logger does.
      return log.transports.some((t) => t.level !== undefined && priority <= (PRIORITIES[t.level] ?? 0));
    },
  };
  const instance = winston.createLogger({
    level,
    levels: PRIORITIES,
    format: cloudRunFormat(state),
    ...(options.base ? { defaultMeta: options.base } : {}),
    transports: [new winston.transports.Stream({ stream: options.stream ?? process.stdout })],
    exitOnError: false,
  });
  // A logger must never crash the worker: a broken stdout, or a line logged after flushLogger ended
  // the stream ("write after end"), is dropped rather than raised as an unhandled 'error' event.
  instance.on('error', () => {});
  ref.logger = instance;
  return instance as AppLogger;
}

/** The root logger, configured from the environment (LOG_LEVEL, GOOGLE_CLOUD_PROJECT, secrets). */
export const logger: AppLogger = createLogger({ level: validLevel(process.env.LOG_LEVEL) });

// The root logger must not stop the process over a bad LOG_LEVEL; config validation reports that.
function validLevel(value: string | undefined): string {
  return value && value.toLowerCase() in LOG_LEVELS ? value.toLowerCase() : 'info';
}

/**
 * Writes out everything logged so far (SIGTERM: flush, then exit). Ends the logger: nothing
 * logged afterwards is written. Resolves within `timeoutMs` even if a stream never drains.
 */
export async function flushLogger(log: Logger, timeoutMs = 2000): Promise<void> {
  // winston streams come from readable-stream 3, which has no `writableEnded`: read its state.
  const state = (log as unknown as { _writableState?: { ended?: boolean; finished?: boolean } })._writableState;
  if (state?.finished) return;
  const transports = [...log.transports];
  let timer: NodeJS.Timeout | undefined;
  const finished = new Promise<void>((resolve) => {
    let pending = transports.length;
    const done = () => {
      if (--pending <= 0) resolve();
    };
    if (pending === 0) resolve();
    for (const t of transports) {
      if ((t as { writableFinished?: boolean }).writableFinished) done();
      else t.once('finish', done);
    }
    if (!state?.ended) log.end();
  }).then(async () => {
    // The transports are done; wait for the streams under them to drain (stdout as a pipe may buffer).
    await Promise.all(
      transports.map((t) => {
        const stream = (t as { _stream?: NodeJS.WritableStream & { writableNeedDrain?: boolean } })._stream;
        return stream?.writableNeedDrain ? new Promise<void>((resolve) => stream.once('drain', () => resolve())) : undefined;
      }),
    );
  });
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
    timer.unref();
  });
  try {
    await Promise.race([finished, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export { serializeError };
