/**
 * Delays a server asks for. Honoured as sent: never scaled by TIMEOUT_SCALE (SPEC §2.1).
 */

const HTTP_DATE_SHAPE = /^[A-Za-z]{3,9},? +\d{1,2}[ -][A-Za-z]{3}[ -]\d{2,4} \d{2}:\d{2}:\d{2} GMT$|^[A-Za-z]{3} [A-Za-z]{3} +\d{1,2} \d{2}:\d{2}:\d{2} \d{4}$/;

/**
 * Parses an HTTP `Retry-After` value: delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
 * Returns milliseconds from `now`, or undefined when absent or unparseable.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // Date.parse accepts almost anything ("1.5" is a date in 2001); only the three HTTP-date forms
  // (IMF-fixdate, RFC 850, asctime) count: a month name and a time of day.
  if (!HTTP_DATE_SHAPE.test(trimmed)) return undefined;
  // asctime carries no zone but is GMT by definition; Date.parse would read it as local time.
  const at = Date.parse(trimmed.endsWith('GMT') ? trimmed : `${trimmed} GMT`);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/**
 * Parses a protobuf Duration string as used by `google.rpc.RetryInfo.retryDelay` ("1.5s", "30s").
 */
export function parseProtoDuration(value: unknown): number | undefined {
  // The proto (not JSON) form, as some clients hand it over: { seconds, nanos }.
  if (value && typeof value === 'object' && 'seconds' in value) {
    const { seconds, nanos } = value as { seconds?: unknown; nanos?: unknown };
    const s = Number(seconds ?? 0);
    const n = Number(nanos ?? 0);
    return Number.isFinite(s) && Number.isFinite(n) && s >= 0 && n >= 0 ? Math.round(s * 1000 + n / 1e6) : undefined;
  }
  if (typeof value !== 'string') return undefined;
  const match = /^(\d+(?:\.\d+)?)s$/.exec(value.trim());
  return match ? Math.round(Number(match[1]) * 1000) : undefined;
}

/**
 * Finds `RetryInfo.retryDelay` in a Google API error body: `{ error: { details: [{ "@type":
 * "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "7s" }] } }`. Accepts the parsed body,
 * or a string containing the JSON (the genai SDK puts the body in the error message).
 */
export function parseRetryInfo(body: unknown): number | undefined {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    const start = body.indexOf('{');
    if (start < 0) return undefined;
    try {
      parsed = JSON.parse(body.slice(start));
    } catch {
      const m = /"retryDelay"\s*:\s*"([^"]+)"/.exec(body);
      return m ? parseProtoDuration(m[1]) : undefined;
    }
  }
  const details = (parsed as { error?: { details?: unknown } } | undefined)?.error?.details;
  if (!Array.isArray(details)) return undefined;
  for (const d of details) {
    if (d && typeof d === 'object' && String((d as Record<string, unknown>)['@type']).endsWith('google.rpc.RetryInfo')) {
      return parseProtoDuration((d as Record<string, unknown>).retryDelay);
    }
  }
  return undefined;
}
