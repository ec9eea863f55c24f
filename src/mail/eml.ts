/**
 * A composed reply as an RFC 5322 message, built with nodemailer's MailComposer: text and HTML as
 * multipart/alternative, inside multipart/mixed when there are attachments. Our Message-ID and
 * headers are kept exactly; MailComposer encodes non-ASCII text and folds long header lines.
 */
import MailComposer from 'nodemailer/lib/mail-composer';
import type { ComposedReply } from './compose.ts';

export interface EmlOptions {
  /** Date header. @defaultValue now */
  date?: Date;
}

export function toEml(reply: ComposedReply, options: EmlOptions = {}): Promise<Buffer> {
  // In-Reply-To and References go through MailComposer's own fields, which format msg-id lists.
  const { 'In-Reply-To': _inReplyTo, References: _references, ...headers } = reply.headers;
  const composer = new MailComposer({
    from: reply.from,
    to: reply.to,
    subject: reply.subject,
    messageId: reply.messageId,
    ...(reply.inReplyTo ? { inReplyTo: reply.inReplyTo } : {}),
    ...(reply.references.length ? { references: reply.references } : {}),
    date: options.date ?? new Date(),
    headers,
    text: reply.text,
    html: reply.html,
    attachments: reply.attachments.map((a) => ({
      filename: a.filename,
      contentType: a.contentType,
      ...(a.content !== undefined ? { content: a.content } : { path: a.path ?? false }),
    })),
    // Attachment paths are our own export files; never let a value reach out to a URL.
    disableUrlAccess: true,
    newline: '\r\n',
  });
  return composer.compile().build();
}
