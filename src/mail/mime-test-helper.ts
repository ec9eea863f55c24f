/**
 * A small RFC 5322 / MIME reader for tests (node: only): headers unfolded, multipart bodies split
 * on their boundary, base64 and quoted-printable decoded. Not for production mail parsing.
 */

export interface MimePart {
  /** Header lines as written, folded continuation lines included. */
  rawHeaders: string[];
  /** Lowercased name → unfolded values, in order. */
  headers: Map<string, string[]>;
  /** Raw body text (still transfer-encoded). */
  body: string;
  /** Sub-parts of a multipart body. */
  parts: MimePart[];
}

export function parseMime(raw: string): MimePart {
  const split = raw.indexOf('\r\n\r\n');
  const head = split < 0 ? raw : raw.slice(0, split);
  const body = split < 0 ? '' : raw.slice(split + 4);
  const rawHeaders: string[] = [];
  for (const line of head.split('\r\n')) {
    if (/^[ \t]/.test(line) && rawHeaders.length) rawHeaders[rawHeaders.length - 1] += `\r\n${line}`;
    else if (line) rawHeaders.push(line);
  }
  const headers = new Map<string, string[]>();
  for (const line of rawHeaders) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    // RFC 5322 §2.2.3: unfolding removes each CRLF that precedes whitespace.
    const value = line.slice(colon + 1).replace(/\r\n(?=[ \t])/g, '').trim();
    headers.set(name, [...(headers.get(name) ?? []), value]);
  }
  const part: MimePart = { rawHeaders, headers, body, parts: [] };
  const boundary = /boundary="?([^";]+)"?/i.exec(header(part, 'content-type') ?? '')?.[1];
  if (boundary && /^multipart\//i.test(header(part, 'content-type') ?? '')) {
    const sections = body.split(`--${boundary}`);
    // sections[0] is the preamble; the last one starts with "--" (the closing delimiter).
    for (const section of sections.slice(1)) {
      if (section.startsWith('--')) break;
      part.parts.push(parseMime(section.replace(/^\r\n/, '').replace(/\r\n$/, '')));
    }
  }
  return part;
}

export function header(part: MimePart, name: string): string | undefined {
  return part.headers.get(name.toLowerCase())?.[0];
}

export function decodeBody(part: MimePart): Buffer {
  const encoding = (header(part, 'content-transfer-encoding') ?? '7bit').toLowerCase();
  if (encoding === 'base64') return Buffer.from(part.body.replace(/\s+/g, ''), 'base64');
  if (encoding === 'quoted-printable') {
    const soft = part.body.replace(/=\r\n/g, '');
    const bytes: number[] = [];
    for (let i = 0; i < soft.length; i++) {
      const m = /^=([0-9A-F]{2})/i.exec(soft.slice(i, i + 3));
      if (m) {
        bytes.push(parseInt(m[1]!, 16));
        i += 2;
      } else bytes.push(...Buffer.from(soft[i]!, 'utf8'));
    }
    return Buffer.from(bytes);
  }
  return Buffer.from(part.body, 'utf8');
}

/** Every leaf part, depth first. */
export function leaves(part: MimePart): MimePart[] {
  return part.parts.length ? part.parts.flatMap(leaves) : [part];
}
