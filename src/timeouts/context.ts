/**
 * Which timeout profile a request or job runs under (SPEC §2.1). First match wins:
 * explicit → job field / Pub/Sub attribute `context` → `X-Request-Context` header →
 * `EMAIL_PROCESSING_MODE` truthy ⇒ email → job kind → ui.
 * A value that is present but not a context throws: an operator must learn of a typo rather than
 * have a 50-minute job silently run under the 10-minute ui profile.
 */
import { ErrorCodes, permanent } from '../errors.ts';
import { REQUEST_CONTEXTS, type RequestContext } from './types.ts';

export interface ContextHints {
  /** A context chosen by the caller (CLI flag, code). */
  explicit?: string;
  /** The job message: its `context` field, else its `kind` (email → email, api → api). */
  job?: { context?: string; kind?: string };
  /** Pub/Sub message attributes; `context` is read. */
  attributes?: Record<string, string>;
  /** HTTP request headers (any case); `X-Request-Context` is read. */
  headers?: Record<string, string | string[] | undefined>;
  /** Environment; `EMAIL_PROCESSING_MODE` is read. @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
}

const TRUTHY = new Set(['1', 'true', 'yes', 'on']);

/** `1`, `true`, `yes`, `on` in any case (surrounding spaces ignored). */
export function isTruthyEnv(value: string | undefined): boolean {
  return value !== undefined && TRUTHY.has(value.trim().toLowerCase());
}

function isContext(value: string): value is RequestContext {
  return (REQUEST_CONTEXTS as readonly string[]).includes(value);
}

/** Absent or blank → undefined; a context → it; anything else → throws naming `source`. */
function parseContext(value: unknown, source: string): RequestContext | undefined {
  if (value === undefined || value === null) return undefined;
  const text = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
  if (text === '') return undefined;
  if (text !== undefined && isContext(text)) return text;
  throw permanent(
    ErrorCodes.INVALID_ARGUMENT,
    `Invalid request context ${JSON.stringify(value)} from ${source}; expected one of ${REQUEST_CONTEXTS.join(', ')}`,
    { details: { source, value: String(value) } },
  );
}

function headerValue(headers: ContextHints['headers'], name: string): string | undefined {
  if (!headers) return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

const KIND_CONTEXT: Readonly<Record<string, RequestContext>> = { email: 'email', api: 'api' };

export function detectRequestContext(hints: ContextHints = {}): RequestContext {
  const env = hints.env ?? process.env;
  return (
    parseContext(hints.explicit, 'the explicit argument') ??
    parseContext(hints.job?.context, 'the job field `context`') ??
    parseContext(hints.attributes?.context, 'the Pub/Sub attribute `context`') ??
    parseContext(headerValue(hints.headers, 'x-request-context'), 'the X-Request-Context header') ??
    (isTruthyEnv(env.EMAIL_PROCESSING_MODE) ? 'email' : undefined) ??
    kindContext(hints.job?.kind) ??
    'ui'
  );
}

function kindContext(kind: string | undefined): RequestContext | undefined {
  if (kind === undefined || kind === '') return undefined;
  const context = Object.hasOwn(KIND_CONTEXT, kind) ? KIND_CONTEXT[kind] : undefined;
  if (context) return context;
  throw permanent(ErrorCodes.INVALID_ARGUMENT, `Invalid job kind ${JSON.stringify(kind)}; expected email or api`, {
    details: { source: 'the job field `kind`', value: kind },
  });
}
