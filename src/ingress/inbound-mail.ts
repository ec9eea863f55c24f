/**
 * A Mailgun route post (store() or forward(), already parsed into fields and files) → a job
 * (SPEC §3.1). Everything a reply will carry is made single-line; the sender must be exactly one
 * mailbox; the job id comes from the Message-ID, or from a hash of the raw headers when there is
 * none, so Mailgun's retries and duplicate posts become the same job.
 * A post that cannot become a job throws EW_ERR_INBOUND_REJECTED (→ 406) with the reason.
 */
import { createHash } from 'node:crypto';
import addressparser from 'nodemailer/lib/addressparser';
import { ErrorCodes, permanent } from '../errors.ts';
import { jobIdFor, validateJob, type Job, type JobInput } from '../jobs/schema.ts';
import { headerSafe, parseMessageIds } from '../mail/compose.ts';
import { mailHeaders, parseMessageHeaders, type HeaderLookup } from './mail-headers.ts';
import type { ExportFormat } from '../export/formats.ts';

/** A file uploaded in a forward() post (`attachment-N`). */
export interface InboundFile {
  name: string;
  contentType: string;
  size: number;
  /** Absent when the file was not kept (over the inline limit). */
  data?: Buffer;
}

export interface InboundMail {
  job: Job;
  /** The sender's address, lower case. */
  sender: string;
  headers: HeaderLookup;
  /** Thread identity for the per-thread cap: the first References id, else In-Reply-To, else the Message-ID. */
  threadKey: string;
}

export interface InboundOptions {
  /** Total bytes of forward() attachments inlined in the job (FORWARD_INLINE_MAX_BYTES). */
  inlineMaxBytes: number;
}

/** Headers the worker needs to run the loop guard again; nothing else from the mail is kept. */
const LOOP_HEADERS = [
  'auto-submitted', 'precedence', 'list-id', 'list-unsubscribe', 'x-auto-response-suppress', 'x-autoreply', 'x-autorespond',
  'x-loop', 'feedback-id', 'return-path', 'content-type', 'x-mailgun-sflag', 'x-mailgun-spf', 'x-mailgun-dkim-check-result',
];

const MAX_TEXT = 1_000_000;
/**
 * Largest job JSON published. Pub/Sub takes 10 MB per message; base64 makes attachments 4/3 as
 * large and JSON escaping can grow text. A job over this loses its largest inline attachments to
 * notes for the reply until it fits, because a publish that can never succeed would be a 503 that
 * Mailgun retries for hours and then drops.
 */
export const MAX_JOB_BYTES = 9_000_000;

function reject(reason: string): never {
  throw permanent(ErrorCodes.INBOUND_REJECTED, reason, { details: { reason } });
}

/** Exactly one mailbox in `From`, without CR/LF; its address in lower case. */
export function singleSender(from: string | undefined): string {
  if (!from || !from.trim()) reject('no From');
  if (/[\r\n]/.test(from)) reject('From contains a line break');
  // Fast path for the common shapes `addr` and `Name <addr>`; anything else goes to the full parser.
  const simple = /^\s*(?:[^<>",;:@\\]*<)?([^\s<>@",;:\\()[\]]+@[^\s<>@",;:\\()[\]]+\.[^\s<>@",;:\\()[\]]+)>?\s*$/.exec(from);
  if (simple && from.includes('<') === from.includes('>')) return simple[1]!.toLowerCase();
  const boxes = addressparser(from, { flatten: true }).filter((a) => a.address);
  if (boxes.length !== 1) reject(`From must name exactly one address, found ${boxes.length}`);
  const address = boxes[0]!.address!.trim().toLowerCase();
  if (!/^[^\s@<>()",;:\\[\]]+@[^\s@<>()",;:\\[\]]+\.[^\s@<>()",;:\\[\]]+$|^[^\s@<>()",;:\\[\]]+@localhost$/.test(address)) reject(`From address "${address.slice(0, 100)}" is not usable`);
  return address;
}

/** Formats asked for by a plus tag on the recipient: `ask+pdf@…`, `ask+pdf.docx@…`. */
export function exportFormatsFrom(recipient: string | undefined): ExportFormat[] {
  const local = (recipient ?? '').split(',')[0]!.trim().split('@')[0] ?? '';
  const tag = local.includes('+') ? local.slice(local.indexOf('+') + 1) : '';
  const wanted = tag.toLowerCase().split(/[.,_-]+/);
  return (['pdf', 'docx', 'html'] as const).filter((f) => wanted.includes(f));
}

function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${Math.ceil(n / 1024)} KiB`;
}

/** store() attachments: a JSON list of `{ url, name, content-type, size }` at Mailgun storage. */
function storedAttachments(json: string | undefined): NonNullable<JobInput['attachments']> {
  if (!json || !json.trim()) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    reject('attachments is not JSON');
  }
  if (!Array.isArray(raw)) reject('attachments is not a list');
  return raw.map((a: Record<string, unknown>, i) => {
    if (typeof a !== 'object' || a === null || typeof a.url !== 'string') reject(`attachments[${i}] has no url`);
    const name = headerSafe(typeof a.name === 'string' && a.name ? a.name : `attachment-${i + 1}`).slice(0, 255) || `attachment-${i + 1}`;
    const contentType = typeof a['content-type'] === 'string' ? headerSafe(a['content-type']) : undefined;
    return {
      name,
      url: a.url,
      ...(contentType && /^[\w.+-]+\/[\w.+-]+(;.*)?$/.test(contentType) ? { contentType } : {}),
      ...(typeof a.size === 'number' && Number.isInteger(a.size) && a.size >= 0 ? { size: a.size } : {}),
    };
  });
}

/** Moves inline attachments, largest first, into notes until the job fits {@link MAX_JOB_BYTES}. */
function fitForPubSub(input: JobInput): void {
  const inline = () => (input.attachments ?? []).filter((a): a is Extract<typeof a, { base64: string }> => 'base64' in a);
  // Cheap upper bound first (escaping makes a character at most 6 bytes): most mail never needs the exact size.
  const bound = 6 * ((input.text ?? '').length + (input.html ?? '').length) + inline().reduce((n, a) => n + a.base64.length, 0) + 200_000;
  if (bound <= MAX_JOB_BYTES) return;
  while (Buffer.byteLength(JSON.stringify(input)) > MAX_JOB_BYTES) {
    const largest = inline().sort((a, b) => b.base64.length - a.base64.length)[0];
    if (!largest) reject(`the message is too large to become a job (over ${MAX_JOB_BYTES} bytes without attachments)`);
    input.attachments = (input.attachments ?? []).filter((a) => a !== largest);
    (input.notes ??= []).push(
      `Attachment "${largest.name}" (${formatBytes(largest.size ?? 0)}) was not received: it did not fit into one job with the rest of the message. ` +
        'Mail routed with Mailgun store() instead of forward() can carry it.',
    );
  }
}

/** Builds the job of a route post. `fields` are the form fields; `files` the forward() uploads. */
export function inboundMail(fields: Readonly<Record<string, string>>, files: readonly InboundFile[], options: InboundOptions): InboundMail {
  let pairs: Array<[string, string]>;
  try {
    pairs = fields['message-headers'] ? parseMessageHeaders(fields['message-headers']) : [];
  } catch (error) {
    reject((error as Error).message);
  }
  const headers = mailHeaders(pairs);
  const sender = singleSender(fields.from ?? headers.get('from'));
  const messageId = parseMessageIds(fields['Message-Id'] ?? fields['message-id'] ?? headers.get('message-id'))[0];
  let id: string;
  let jobMessageId: string;
  if (messageId) {
    id = jobIdFor(messageId);
    jobMessageId = messageId;
  } else {
    if (pairs.length === 0) reject('no Message-ID and no headers to identify the mail');
    // Same raw headers (a retry, a duplicate post) → same id.
    id = createHash('sha256').update(JSON.stringify(pairs)).digest('hex');
    jobMessageId = `<${id.slice(0, 40)}@no-message-id.invalid>`;
  }
  const inReplyTo = parseMessageIds(headers.get('in-reply-to'))[0];
  const references = parseMessageIds(headers.getAll('references').join(' ')).slice(-100);

  const notes: string[] = [];
  const attachments = storedAttachments(fields.attachments);
  let inlined = 0;
  for (const file of files) {
    const name = headerSafe(file.name).slice(0, 255) || 'attachment';
    if (file.data && inlined + file.size <= options.inlineMaxBytes) {
      inlined += file.size;
      attachments.push({ name, contentType: file.contentType, size: file.size, base64: file.data.toString('base64') });
    } else {
      notes.push(
        `Attachment "${name}" (${formatBytes(file.size)}) was not received: forwarded attachments are limited to ${formatBytes(options.inlineMaxBytes)} in total. ` +
          'Mail routed with Mailgun store() instead of forward() can carry it.',
      );
    }
  }

  const loopHeaders: Record<string, string> = {};
  for (const name of LOOP_HEADERS) {
    const value = headers.get(name);
    if (value !== undefined) loopHeaders[name] = headerSafe(value).slice(0, 2000);
  }
  const text = fields['body-plain'] ?? fields['stripped-text'] ?? '';
  const html = fields['body-html'];
  const recipients = (fields.recipient ?? '').split(',').map((r) => r.trim().toLowerCase()).filter((r) => /^[^\s@]+@[^\s@]+$/.test(r)).slice(0, 50);
  const formats = exportFormatsFrom(fields.recipient);
  const input: JobInput = {
    version: 1,
    id,
    kind: 'email',
    from: sender,
    to: recipients,
    subject: headerSafe(fields.subject ?? headers.get('subject') ?? '').slice(0, 998),
    text: text.slice(0, MAX_TEXT),
    ...(html && !text.trim() ? { html: html.slice(0, MAX_TEXT) } : {}),
    messageId: jobMessageId,
    ...(inReplyTo ? { inReplyTo } : {}),
    ...(references.length ? { references } : {}),
    attachments,
    ...(formats.length ? { export: { formats } } : {}),
    headers: loopHeaders,
    ...(notes.length ? { notes } : {}),
  };
  fitForPubSub(input);
  const parsed = validateJob(input);
  if (!parsed.ok) reject(parsed.error.message);
  return { job: parsed.job, sender, headers, threadKey: references[0] ?? inReplyTo ?? jobMessageId };
}
