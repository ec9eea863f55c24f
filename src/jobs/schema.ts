/**
 * Job message v1 (SPEC §3.1): the JSON body of a Pub/Sub message. Validated strictly: unknown
 * fields, wrong types and impossible values are rejected with a message that names the field.
 * An invalid job is a permanent failure (acknowledged, recorded, answered when the sender is known).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ErrorCodes, permanent, type WorkerError } from '../errors.ts';

const MAX_TEXT = 1_000_000;

/** RFC 5322 msg-id in angle brackets, without whitespace or control characters. */
const messageId = z
  .string()
  .max(998)
  .regex(/^<[^<>\s@]+@[^<>\s@]+>$/, 'expected a Message-ID like <id@host>');

const email = z.string().max(320).regex(/^[^\s<>@",;]+@[^\s<>@",;]+\.[^\s<>@",;]+$|^[^\s<>@",;]+@localhost$/, 'expected a plain email address');

const attachmentBase = {
  name: z.string().min(1).max(255),
  contentType: z.string().max(255).regex(/^[\w.+-]+\/[\w.+-]+(;.*)?$/, 'expected a MIME type').optional(),
  size: z.number().int().nonnegative().optional(),
};

const urlAttachment = z.strictObject({
  ...attachmentBase,
  url: z.string().max(4096).refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), 'expected an http(s) URL'),
});

const inlineAttachment = z.strictObject({
  ...attachmentBase,
  base64: z.string().regex(/^[A-Za-z0-9+/\r\n]*={0,2}\s*$/, 'expected base64'),
});

export const ExportFormat = z.enum(['pdf', 'docx', 'html']);
export type ExportFormat = z.infer<typeof ExportFormat>;

export const JobSchema = z.strictObject({
  version: z.literal(1),
  id: z.string().min(1).max(200).regex(/^[\w.:@-]+$/, 'expected letters, digits and . _ : @ -').optional(),
  kind: z.enum(['email', 'api']).default('email'),
  context: z.enum(['ui', 'email', 'api']).optional(),
  tier: z.enum(['free', 'early', 'mid', 'platform', 'enterprise']).optional(),
  from: email,
  to: z.array(email).max(50).default([]),
  subject: z.string().max(998).default(''),
  text: z.string().max(MAX_TEXT).default(''),
  html: z.string().max(MAX_TEXT).optional(),
  messageId,
  inReplyTo: messageId.optional(),
  references: z.array(messageId).max(100).optional(),
  attachments: z.array(z.union([urlAttachment, inlineAttachment])).max(50).default([]),
  export: z.strictObject({ formats: z.array(ExportFormat).max(3).default([]) }).optional(),
  callbackUrl: z.string().url().optional(),
  // issue 7: the inbound mail's loop-relevant headers (the worker runs the loop guard again) and
  // notes for the reply (attachments a forward() post could not carry).
  headers: z.record(z.string().max(100), z.string().max(2000)).refine((h) => Object.keys(h).length <= 50, 'at most 50 headers').optional(),
  notes: z.array(z.string().max(500)).max(50).optional(),
});

export type JobInput = z.input<typeof JobSchema>;
export type Job = z.output<typeof JobSchema> & { id: string };
export type JobAttachment = Job['attachments'][number];

/** Default job id: sha256 of the Message-ID, so duplicates of one mail share an id. */
export function jobIdFor(messageIdValue: string): string {
  return createHash('sha256').update(messageIdValue.trim()).digest('hex');
}

export interface InvalidJob {
  ok: false;
  error: WorkerError;
  /** The sender, when it could be read from the broken job (to send a failure email). */
  sender?: string;
  messageId?: string;
  subject?: string;
}

/** Parses raw Pub/Sub data into a Job, or says precisely why it is not one. */
export function parseJob(data: Buffer | string): { ok: true; job: Job } | InvalidJob {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch (error) {
    return { ok: false, error: permanent(ErrorCodes.JOB_INVALID, `job is not valid JSON: ${(error as Error).message}`) };
  }
  return validateJob(raw);
}

/** Validates an already parsed job object (the ingress builds jobs as objects). */
export function validateJob(raw: unknown): { ok: true; job: Job } | InvalidJob {
  const result = JobSchema.safeParse(raw);
  if (!result.success) {
    const issues = result.error.issues.slice(0, 10).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    const partial = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    const sender = email.safeParse(partial.from);
    const mid = messageId.safeParse(partial.messageId);
    return {
      ok: false,
      error: permanent(ErrorCodes.JOB_INVALID, `invalid job: ${issues.join('; ')}`, { details: { issues } }),
      ...(sender.success ? { sender: sender.data } : {}),
      ...(mid.success ? { messageId: mid.data } : {}),
      ...(typeof partial.subject === 'string' ? { subject: partial.subject.slice(0, 200) } : {}),
    };
  }
  const job = result.data;
  return { ok: true, job: { ...job, id: job.id ?? jobIdFor(job.messageId) } };
}
