/**
 * Mail headers looked up case-insensitively, from Mailgun's `message-headers` JSON (a list of
 * `[name, value]` pairs, repeated names kept in order) or any record of name → value.
 */
export interface HeaderLookup {
  /** First value of `name` (any case), or undefined. */
  get(name: string): string | undefined;
  /** Every value of `name` in order. */
  getAll(name: string): string[];
}

export function mailHeaders(pairs: Iterable<readonly [string, string]>): HeaderLookup & { entries(): Array<[string, string]> } {
  const byName = new Map<string, string[]>();
  const all: Array<[string, string]> = [];
  for (const [name, value] of pairs) {
    const key = name.trim().toLowerCase();
    all.push([name, value]);
    const list = byName.get(key);
    if (list) list.push(value);
    else byName.set(key, [value]);
  }
  return {
    get: (name) => byName.get(name.toLowerCase())?.[0],
    getAll: (name) => [...(byName.get(name.toLowerCase()) ?? [])],
    entries: () => all.map(([n, v]) => [n, v]),
  };
}

/** Headers from a plain record (a job's `headers` field, HTTP-style objects). */
export function headersFromRecord(record: Readonly<Record<string, string>> | undefined): HeaderLookup {
  return mailHeaders(Object.entries(record ?? {}));
}

/**
 * Parses Mailgun's `message-headers` field. Throws a TypeError naming what is wrong, so the
 * webhook can answer 406 with the reason.
 */
export function parseMessageHeaders(json: string): Array<[string, string]> {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (error) {
    throw new TypeError(`message-headers is not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!Array.isArray(raw)) throw new TypeError('message-headers is not a list of [name, value] pairs');
  return raw.map((pair, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      throw new TypeError(`message-headers[${i}] is not a [name, value] pair of strings`);
    }
    return [pair[0], pair[1]] as [string, string];
  });
}
