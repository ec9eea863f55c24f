/**
 * The one reply composer (SPEC §3.2 step 7). Both transports — Mailgun and the `.eml` outbox —
 * send what this module builds, so a reply has the same headers whichever way it leaves.
 *
 * Threading (RFC 5322 §3.6.4):
 * - `In-Reply-To` = the parent's Message-ID (absent when the parent has none);
 * - `References` = the parent's References followed by the parent's Message-ID; when the parent
 *   has no References but an In-Reply-To holding exactly one id, that id followed by the
 *   parent's Message-ID (the RFC's rule; an In-Reply-To with several ids is ambiguous and left
 *   out). Ids are normalised to `<…>`, deduplicated keeping the first occurrence (the parent's
 *   own id always last), and trimmed to fit one 998-octet header line by dropping the oldest ids
 *   after the thread root — what mail clients do with very long threads. Folding to 78 columns
 *   is the wire format's job: MailComposer folds the `.eml`, Mailgun folds what it sends.
 *
 * Subject: `Re: ` exactly once. Leading reply prefixes are removed before it is added, any case
 * and repeated: `Re:`, `RE:`, `re :`, `Re[2]:`, `Re(2):`, `Re^2:`, and the common localised ones
 * `AW:` (de), `SV:` (da/no/sv), `Antw:` (nl), `VS:` (fi), `Odp:` (pl), `RIF:` (it), `RES:` (pt),
 * `YNT:` (tr), `回复:`/`回覆:`/`答复:` (zh), with ASCII or full-width colons. Forward prefixes
 * (`Fwd:`, `WG:`, `TR:`) are kept: `Re: Fwd: …` is what a reply to a forward is called.
 *
 * Header injection: every value that comes from the parent mail (sender, subject, ids) has CR, LF
 * and other control characters removed before it becomes a header, and the reply goes to exactly
 * one mailbox parsed from the parent's From (never a list or a group).
 */
import { randomUUID } from 'node:crypto';
import addressparser from 'nodemailer/lib/addressparser';
import { ErrorCodes, permanent } from '../errors.ts';
import { redactString } from '../observability/redact.ts';

/** The mail being answered, as the job carries it. Untrusted. */
export interface ParentMail {
  /** The parent's sender: the reply goes there. */
  from: string;
  subject: string;
  messageId?: string;
  inReplyTo?: string;
  /** The parent's References header, one entry per id (an entry holding several ids is split). */
  references?: string[];
}

export interface ReplyAttachment {
  filename: string;
  /** A local file (e.g. an export); read when the reply is sent. */
  path?: string;
  /** The bytes themselves, when there is no file. */
  content?: Buffer;
  contentType: string;
}

export interface ComposeReplyInput {
  parent: ParentMail;
  /** MAIL_FROM. */
  from: string;
  /** Our own Message-ID, generated before the first attempt and kept across retries (`newMessageId`). */
  messageId: string;
  text: string;
  /** HTML body. @defaultValue an escaped rendering of `text` */
  html?: string;
  attachments?: ReplyAttachment[];
}

export interface ComposedReply {
  to: string;
  from: string;
  subject: string;
  /** `<id@domain>`, ours. */
  messageId: string;
  inReplyTo?: string;
  references: string[];
  /**
   * Extra headers as sent: `Auto-Submitted`, `X-Auto-Response-Suppress`, and `In-Reply-To` /
   * `References` (single line, ids separated by one space) when the reply has them.
   */
  headers: Record<string, string>;
  text: string;
  html: string;
  attachments: ReplyAttachment[];
}

/** RFC 5322 §2.1.1: a header line must not exceed 998 octets (without CRLF). */
const MAX_HEADER_LINE = 998;

/** Longer "ids" are junk (or an attack on header length), not something a mail system generates. */
const MAX_ID_LENGTH = 500;

/** A fresh Message-ID on our own domain: `<uuid@domain>`. */
export function newMessageId(domain: string): string {
  const d = domain.trim().toLowerCase();
  if (!/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/.test(d)) {
    throw new TypeError(`Expected \`domain\` to be a domain name, got ${JSON.stringify(domain)}.`);
  }
  return `<${randomUUID()}@${d}>`;
}

/** Removes CR, LF and every other control character (tab becomes a space): safe as a header value. */
export function headerSafe(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/\t/g, ' ').replace(/[\x00-\x1f\x7f\u2028\u2029]/g, '').trim();
}

/**
 * The msg-ids in a header value, each as `<…>`. Accepts bare ids (`abc@host`), several ids in one
 * string, and junk around them; ids with spaces or brackets inside are dropped.
 */
export function parseMessageIds(value: string | undefined): string[] {
  if (!value) return [];
  const clean = headerSafe(value);
  const bracketed = clean.match(/<[^<>\s]+>/g);
  if (bracketed) return bracketed.filter((id) => id.length <= MAX_ID_LENGTH);
  // No brackets at all: whitespace-separated bare ids, each must look like left@right.
  return clean
    .split(/\s+/)
    .filter((t) => /^[^<>\s@]+@[^<>\s@]+$/.test(t))
    .map((t) => `<${t}>`)
    .filter((id) => id.length <= MAX_ID_LENGTH);
}

/** The thread headers of a reply to `parent` (RFC 5322 §3.6.4), see the module comment. */
export function threadHeaders(parent: Pick<ParentMail, 'messageId' | 'inReplyTo' | 'references'>): { inReplyTo?: string; references: string[] } {
  const parentId = parseMessageIds(parent.messageId)[0];
  let base = (parent.references ?? []).flatMap((r) => parseMessageIds(r));
  if (base.length === 0) {
    const inReplyTo = parseMessageIds(parent.inReplyTo);
    if (inReplyTo.length === 1) base = inReplyTo;
  }
  const seen = new Set<string>();
  const references: string[] = [];
  for (const id of base) {
    if (id === parentId || seen.has(id)) continue;
    seen.add(id);
    references.push(id);
  }
  if (parentId) references.push(parentId);
  return { ...(parentId ? { inReplyTo: parentId } : {}), references: fitReferences(references) };
}

/** Keeps the thread root and the newest ids so that `References: …` fits one header line. */
function fitReferences(ids: string[]): string[] {
  const budget = MAX_HEADER_LINE - 'References: '.length;
  const length = (list: string[]) => list.reduce((n, id) => n + id.length, 0) + Math.max(0, list.length - 1);
  if (length(ids) <= budget) return ids;
  const kept = ids.slice();
  // Drop from the second position (oldest after the root) until it fits; the parent id stays last.
  while (kept.length > 2 && length(kept) > budget) kept.splice(1, 1);
  while (kept.length > 1 && length(kept) > budget) kept.shift();
  return length(kept) <= budget ? kept : [];
}

const REPLY_PREFIX = /^\s*(?:re|aw|sv|antw|vs|odp|rif|res|ynt|回复|回覆|答复)\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]\s*/iu;

/** `Re: <subject>` with exactly one reply prefix (see the module comment for the prefixes handled). */
export function replySubject(subject: string): string {
  let rest = headerSafe(subject);
  for (let m = REPLY_PREFIX.exec(rest); m; m = REPLY_PREFIX.exec(rest)) rest = rest.slice(m[0].length);
  rest = rest.trim();
  return `Re: ${rest || '(no subject)'}`;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A safe HTML rendering of plain text: everything escaped, paragraphs on blank lines, `<br>` on line breaks. */
export function textToHtml(text: string): string {
  const paragraphs = text
    .replace(/\r\n?/g, '\n')
    .split(/\n{2,}/)
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => `<p>${escapeHtml(p).replace(/\n/g, '<br>\n')}</p>`);
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>\n${paragraphs.join('\n')}\n</body></html>\n`;
}

/**
 * The one mailbox a reply goes to: the first mailbox of the parent's From, as `"Name" <addr>` or
 * `addr`. Groups and further addresses are ignored, so a crafted From (`a@x Bcc: b@y`, a list)
 * can never add recipients. Throws a permanent error when there is no usable mailbox.
 */
export function replyRecipient(from: string): string {
  const entry = addressparser(headerSafe(from)).find((a) => a.address !== undefined);
  const address = entry?.address?.trim() ?? '';
  if (!/^[^\s@<>()",;:\\[\]]+@[^\s@<>()",;:\\[\]]+$/.test(address)) {
    throw permanent(ErrorCodes.INVALID_ARGUMENT, `the sender address ${JSON.stringify(from.slice(0, 200))} is not a single mailbox`, { details: { field: 'from' } });
  }
  const name = entry?.name?.trim() ?? '';
  // An encoded word inside a quoted string would not be decoded by clients: keep the address only.
  if (!name || name.includes('=?')) return address;
  return `"${name.replace(/["\\]/g, '\\$&')}" <${address}>`;
}

/** Builds the reply to `parent`: addresses, subject, threading and loop-prevention headers, bodies. */
export function composeReply(input: ComposeReplyInput): ComposedReply {
  const to = replyRecipient(input.parent.from);
  const messageId = parseMessageIds(input.messageId)[0];
  if (!messageId) throw new TypeError(`Expected \`messageId\` to be a Message-ID, got ${JSON.stringify(input.messageId)}.`);
  for (const a of input.attachments ?? []) {
    if (a.content === undefined && !a.path) throw new TypeError(`Expected attachment ${JSON.stringify(a.filename)} to have a \`path\` or \`content\`.`);
  }
  const thread = threadHeaders(input.parent);
  const headers: Record<string, string> = {
    // RFC 3834: marks the reply as automatic, so well-behaved responders do not answer it.
    'Auto-Submitted': 'auto-replied',
    // Exchange/Outlook: no out-of-office or other auto-replies to this message (mail loops).
    'X-Auto-Response-Suppress': 'All',
  };
  if (thread.inReplyTo) headers['In-Reply-To'] = thread.inReplyTo;
  if (thread.references.length) headers['References'] = thread.references.join(' ');
  return {
    to,
    from: headerSafe(input.from),
    subject: replySubject(input.parent.subject),
    messageId,
    ...(thread.inReplyTo ? { inReplyTo: thread.inReplyTo } : {}),
    references: thread.references,
    headers,
    text: input.text,
    html: input.html ?? textToHtml(input.text),
    attachments: (input.attachments ?? []).map((a) => ({ ...a, filename: headerSafe(a.filename) || 'attachment', contentType: headerSafe(a.contentType) })),
  };
}

export interface FailureReplyInput {
  parent: ParentMail;
  /** MAIL_FROM. */
  from: string;
  messageId: string;
  /** What failed, in plain words for the sender (e.g. `publicReason(error)`). Only its first line is used. */
  reason: string;
  /** Values that must never appear in the mail (API keys…); cut out of every text. */
  secrets: readonly string[];
}

/** Longest reason kept: a sentence, not a dump. */
const MAX_REASON_CHARS = 300;

/**
 * A short failure email, built by the same composer: what failed in plain words, no internals.
 * The reason is cut to its first line (no stack traces) and {@link MAX_REASON_CHARS}; every text,
 * the quoted subject included, goes through `redactString` with `secrets`.
 */
export function failureReply(input: FailureReplyInput): ComposedReply {
  const redact = (s: string) => redactString(s, input.secrets);
  let reason = (input.reason.split(/\r?\n|\r/)[0] ?? '').trim();
  if (reason.length > MAX_REASON_CHARS) reason = `${reason.slice(0, MAX_REASON_CHARS - 1).trimEnd()}…`;
  reason = redact(reason.replace(/[.\s]+$/, '')) || 'an internal error stopped the answer';
  const subject = redact(headerSafe(input.parent.subject));
  const about = subject ? ` "${subject}"` : '';
  const text = redact(
    [
      'Hello,',
      '',
      `We could not answer your message${about}: ${reason}.`,
      '',
      'Nothing was lost on your side. You can send the message again later; if it keeps failing, please contact the people who run this address.',
      '',
      '— This is an automatic reply.',
      '',
    ].join('\n'),
  );
  return composeReply({
    parent: { ...input.parent, subject },
    from: input.from,
    messageId: input.messageId,
    text,
  });
}
