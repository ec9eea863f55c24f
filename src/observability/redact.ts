/**
 * Secret redaction for logs, failure emails and anything else that leaves the process
 * (SPEC §5: secrets never appear in logs, error emails or exported documents).
 *
 * Three nets, applied together:
 * 1. keys that name a credential (`apiKey`, `authorization`, `MAILGUN_API_KEY`, `x-goog-api-key`…)
 *    have their whole value replaced;
 * 2. known secret values (from env, plus the caller's list) are cut out of every string;
 * 3. credential shapes inside free text: `Basic …` / `Bearer …`, `?key=…` query parameters,
 *    `user:password@` in URLs, `apiKey: …` / `"token":"…"` pairs, Google API keys (`AIza…`).
 *
 * The functions never mutate their input and survive cycles.
 */

export const REDACTED = '[REDACTED]';

/** Environment variables whose values are secrets wherever they appear. */
export const SECRET_ENV_VARS: readonly string[] = Object.freeze(['GEMINI_API_KEY', 'MAILGUN_API_KEY', 'MAILGUN_WEBHOOK_SIGNING_KEY']);

/**
 * Shorter values are not treated as secrets to cut out of text: replacing every `abc` in a log
 * line would destroy it and protect nothing (real keys are tens of characters).
 */
const MIN_SECRET_LENGTH = 4;

// Nesting deeper than this is cut: log metadata is never legitimately this deep.
const MAX_DEPTH = 12;

/** Keys (compared lowercased, without `-`, `_`, `.` or spaces) whose value is always a secret. */
const SECRET_KEYS: ReadonlySet<string> = new Set([
  'key',
  'auth',
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'credentials',
  'passwd',
  'pwd',
  'passphrase',
  'xgoogapikey',
]);
const SECRET_KEY_SUFFIXES: readonly string[] = ['apikey', 'token', 'password', 'secret', 'secrets', 'signingkey', 'privatekey', 'secretkey', 'accesskey'];

/** True when a property with this name holds a credential (`apiKey`, `MAILGUN_API_KEY`, `x-goog-api-key`…). */
export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_.\s]/g, '');
  if (SECRET_KEYS.has(k)) return true;
  return SECRET_KEY_SUFFIXES.some((suffix) => k.endsWith(suffix));
}

/** Secret values configured in the environment (GEMINI_API_KEY, MAILGUN_API_KEY, MAILGUN_WEBHOOK_SIGNING_KEY). */
export function envSecrets(env: NodeJS.ProcessEnv = process.env): string[] {
  return SECRET_ENV_VARS.map((name) => env[name]).filter((v): v is string => typeof v === 'string' && v.length > 0);
}

// Credential shapes in free text. Each keeps its label and replaces only the credential.
const TEXT_RULES: ReadonlyArray<readonly [RegExp, string]> = [
  // `Authorization: Basic dXNlcjpwYXNz`, `Bearer eyJ…`
  [/\b(Basic|Bearer)\s+[A-Za-z0-9._~+/=-]{4,}/gi, `$1 ${REDACTED}`],
  // URL query parameters carrying keys: `?key=AIza…`, `&access_token=…`
  [/([?&](?:key|api[-_]?key|access[-_]?token|token|signature|sig)=)[^&#\s"'<>]+/gi, `$1${REDACTED}`],
  // userinfo in URLs: `https://api:key-123@api.mailgun.net`
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)[^\s@/]+@/gi, `$1${REDACTED}@`],
  // `apiKey: …`, `"password":"…"`, `x-goog-api-key=…` in messages and serialized bodies
  [
    /\b(x-goog-api-key|api[-_]?key|authorization|password|passwd|secret|client[-_]?secret|signing[-_]?key|access[-_]?token|refresh[-_]?token|token)(["']?\s*[:=]\s*["']?)(?!Basic\b|Bearer\b|\[REDACTED\])[^\s"',;&}]+/gi,
    `$1$2${REDACTED}`,
  ],
  // Google API keys have a recognisable shape wherever they appear.
  [/\bAIza[0-9A-Za-z_-]{35}\b/g, REDACTED],
];

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// Compiled matchers per secrets list; the logger passes the same array on every line.
const matcherCache = new WeakMap<readonly string[], RegExp | null>();

function secretsMatcher(secrets: readonly string[]): RegExp | null {
  const cached = matcherCache.get(secrets);
  if (cached !== undefined) return cached;
  const forms = new Set<string>();
  for (const s of secrets) {
    if (typeof s !== 'string' || s.length < MIN_SECRET_LENGTH) continue;
    forms.add(s);
    // The same secret as it appears in a URL or a form body.
    const encoded = encodeURIComponent(s);
    if (encoded !== s) forms.add(encoded);
    // …and inside a Basic credential that slipped past the `Basic …` rule (e.g. split over fields).
    forms.add(Buffer.from(`api:${s}`).toString('base64'));
  }
  // Longest first, so a secret that contains another is removed whole.
  const sorted = [...forms].sort((a, b) => b.length - a.length);
  const matcher = sorted.length ? new RegExp(sorted.map(escapeRegExp).join('|'), 'g') : null;
  matcherCache.set(secrets, matcher);
  return matcher;
}

/**
 * Removes known secret values and credential shapes from a string.
 * @param secrets values to cut out wherever they appear (values shorter than 4 characters are ignored)
 */
export function redactString(s: string, secrets: readonly string[] = []): string {
  let out = s;
  const matcher = secretsMatcher(secrets);
  if (matcher) out = out.replace(matcher, REDACTED);
  for (const [pattern, replacement] of TEXT_RULES) out = out.replace(pattern, replacement);
  return out;
}

export interface RedactOptions {
  /** Keep `stack` on serialized errors. @defaultValue false */
  includeStack?: boolean;
}

/**
 * A deep copy of `value` that is safe to write anywhere: secret-named keys replaced, secret values
 * and credential shapes cut out of strings, errors serialized (name, message, code, retryable,
 * status; the stack only with `includeStack`), cycles as `[Circular]`. Never mutates `value`.
 */
export function redactValue(value: unknown, secrets: readonly string[] = [], options: RedactOptions = {}): unknown {
  return walk(value, secrets, options, new WeakSet(), 0);
}

function walk(value: unknown, secrets: readonly string[], options: RedactOptions, seen: WeakSet<object>, depth: number): unknown {
  switch (typeof value) {
    case 'string':
      return redactString(value, secrets);
    case 'number':
    case 'boolean':
    case 'undefined':
      return value;
    case 'bigint':
      return value.toString();
    case 'symbol':
      return value.toString();
    case 'function':
      return undefined;
  }
  if (value === null) return null;
  const obj = value as object;
  if (seen.has(obj)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Truncated]';
  seen.add(obj);
  try {
    if (obj instanceof Error) return walk(serializeError(obj, options), secrets, options, seen, depth + 1);
    if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? 'Invalid Date' : obj.toISOString();
    if (obj instanceof URL) return redactString(obj.href, secrets);
    if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer) return `[${obj.constructor.name} ${obj.byteLength} bytes]`;
    if (Array.isArray(obj)) return obj.map((item) => walk(item, secrets, options, seen, depth + 1));
    if (obj instanceof Map) return walkEntries(obj.entries(), secrets, options, seen, depth);
    if (obj instanceof Set) return [...obj].map((item) => walk(item, secrets, options, seen, depth + 1));
    if (typeof Headers !== 'undefined' && obj instanceof Headers) return walkEntries(obj.entries(), secrets, options, seen, depth);
    const toJSON = (obj as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      const json: unknown = toJSON.call(obj);
      // A toJSON that returns its own object would loop; walk its own properties instead.
      if (json !== obj) return walk(json, secrets, options, seen, depth + 1);
    }
    return walkEntries(Object.entries(obj), secrets, options, seen, depth);
  } finally {
    // Only ancestors count as cycles; the same object twice side by side is fine.
    seen.delete(obj);
  }
}

function walkEntries(
  entries: Iterable<[unknown, unknown]>,
  secrets: readonly string[],
  options: RedactOptions,
  seen: WeakSet<object>,
  depth: number,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [rawKey, v] of entries) {
    const key = String(rawKey);
    out[key] = isSecretKey(key) && v !== undefined && v !== null && v !== '' ? REDACTED : walk(v, secrets, options, seen, depth + 1);
  }
  return out;
}

/**
 * Plain-object form of an error for logs: `name`, `message`, `code`, `retryable`, `status`,
 * `details` and `cause` (WorkerError: its own `toJSON()`); `stack` only when asked.
 */
export function serializeError(error: Error, options: RedactOptions = {}): Record<string, unknown> {
  const e = error as Error & { code?: unknown; retryable?: unknown; status?: unknown; statusCode?: unknown; toJSON?: () => unknown };
  let out: Record<string, unknown>;
  if (typeof e.toJSON === 'function') {
    const json = e.toJSON();
    out = json && typeof json === 'object' ? { ...(json as Record<string, unknown>) } : { name: e.name, message: e.message };
  } else {
    out = { name: e.name, message: e.message };
    if (e.code !== undefined) out.code = e.code;
    if (typeof e.retryable === 'boolean') out.retryable = e.retryable;
    const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
    if (status !== undefined) out.status = status;
    if (e.cause !== undefined) out.cause = e.cause instanceof Error ? `${e.cause.name}: ${e.cause.message}` : e.cause;
  }
  if (options.includeStack && typeof e.stack === 'string') out.stack = e.stack;
  return out;
}
