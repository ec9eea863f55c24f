/**
 * Builds a route post exactly as Mailgun sends it, signed with the webhook signing key: store()
 * (urlencoded, attachments as storage URLs) or forward() (multipart, `attachment-N` files).
 * Used by `email-worker send`, the demo, the tests and the ingress benchmark.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { signMailgun } from './signature.ts';

export interface RoutePostInput {
  signingKey: string;
  from: string;
  /** The route's recipient (our inbound address). */
  recipient: string;
  subject: string;
  text: string;
  html?: string;
  /** @defaultValue a new `<uuid@host of from>` */
  messageId?: string;
  inReplyTo?: string;
  references?: string[];
  /** More header pairs (Auto-Submitted, List-Id…), after the standard ones. */
  headers?: Array<[string, string]>;
  /** Seconds since the epoch. @defaultValue now */
  timestamp?: number;
  /** @defaultValue 50 random hex characters */
  token?: string;
}

export interface StoredAttachmentRef {
  url: string;
  name: string;
  contentType: string;
  size: number;
}

export interface UploadedFile {
  name: string;
  contentType: string;
  data: Buffer;
}

function signatureFields(input: RoutePostInput): Record<string, string> {
  const timestamp = String(input.timestamp ?? Math.floor(Date.now() / 1000));
  const token = input.token ?? randomBytes(25).toString('hex');
  return { timestamp, token, signature: signMailgun(input.signingKey, timestamp, token) };
}

function commonFields(input: RoutePostInput, attachmentCount: number): Record<string, string> {
  const messageId = input.messageId ?? `<${randomUUID()}@${input.from.split('@')[1]?.replace(/>.*/, '') ?? 'localhost'}>`;
  const headers: Array<[string, string]> = [
    ['Received', 'by email-worker send (Mailgun-style route post)'],
    ['From', input.from],
    ['To', input.recipient],
    ['Subject', input.subject],
    ['Date', new Date((input.timestamp ?? Date.now() / 1000) * 1000).toUTCString()],
    ['Message-Id', messageId],
    ['Mime-Version', '1.0'],
    ...(input.inReplyTo ? [['In-Reply-To', input.inReplyTo] as [string, string]] : []),
    ...(input.references?.length ? [['References', input.references.join(' ')] as [string, string]] : []),
    ...(input.headers ?? []),
  ];
  return {
    recipient: input.recipient,
    sender: input.from.replace(/^.*<([^>]+)>.*$/, '$1'),
    from: input.from,
    subject: input.subject,
    'body-plain': input.text,
    'stripped-text': input.text,
    ...(input.html ? { 'body-html': input.html } : {}),
    'Message-Id': messageId,
    'message-headers': JSON.stringify(headers),
    'attachment-count': String(attachmentCount),
    ...signatureFields(input),
  };
}

/** store(notify=…) post: urlencoded; attachments are URLs at Mailgun's storage. */
export function storePost(input: RoutePostInput, attachments: readonly StoredAttachmentRef[] = [], messageUrl?: string): URLSearchParams {
  return new URLSearchParams({
    ...commonFields(input, attachments.length),
    attachments: JSON.stringify(attachments.map((a) => ({ url: a.url, name: a.name, 'content-type': a.contentType, size: a.size }))),
    ...(messageUrl ? { 'message-url': messageUrl } : {}),
  });
}

/** forward(…) post: multipart/form-data with `attachment-1…N` files. */
export function forwardPost(input: RoutePostInput, files: readonly UploadedFile[] = []): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(commonFields(input, files.length))) form.append(k, v);
  files.forEach((f, i) => form.append(`attachment-${i + 1}`, new Blob([new Uint8Array(f.data)], { type: f.contentType }), f.name));
  return form;
}
