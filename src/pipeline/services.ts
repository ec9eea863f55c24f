/**
 * What the pipeline needs from the rest of the product, as narrow interfaces. `src/app.ts` binds
 * the real modules (attachments, context, gemini, export, mail) with their configuration; tests
 * bind the same real modules to loopback stand-ins.
 */
import type { Logger } from 'winston';
import type { WorkerError } from '../errors.ts';
import type { Job, JobAttachment, ExportFormat } from '../jobs/schema.ts';
import type { Deadline } from '../resilience/deadline.ts';
import type { GiveUpEvent, RetryEvent, RetryPolicy } from '../resilience/retry.ts';

export type AttachmentOutcome =
  | { name: string; contentType: string; ok: true; path: string; bytes: number }
  | { name: string; contentType: string; ok: false; error: WorkerError; reason: string };

export interface DownloadOptions {
  dir: string;
  deadline: Deadline;
  policy: RetryPolicy;
  perFileTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  connectTimeoutMs?: number;
  logger?: Logger;
  onRetry?: (e: RetryEvent) => void;
  onGiveUp?: (e: GiveUpEvent) => void;
}

export type Part = { text: string } | { inlineData: { mimeType: string; data: string } };

export interface BuiltContextLike {
  systemInstruction: string;
  parts: Part[];
  notes: string[];
}

export interface AnswerLike {
  text: string;
  complete: boolean;
  attempts: number;
  finishReason?: string;
  stoppedBy?: WorkerError;
}

export interface StreamOptions {
  deadline: Deadline;
  policy: RetryPolicy;
  firstChunkMs: number;
  idleMs: number;
  totalMs: number;
  onRetry?: (e: RetryEvent) => void;
  onGiveUp?: (e: GiveUpEvent) => void;
}

export interface ExportResultLike {
  files: Array<{ format: string; path: string; filename: string; contentType: string }>;
  failures: Array<{ format: string; reason: string }>;
}

export interface ParentMail {
  from: string;
  subject: string;
  messageId?: string;
  inReplyTo?: string;
  references?: string[];
}

export interface PipelineServices {
  downloadAttachments(attachments: JobAttachment[], options: DownloadOptions): Promise<AttachmentOutcome[]>;
  buildContext(input: { job: Job; attachments: AttachmentOutcome[]; logger?: Logger; signal?: AbortSignal }): Promise<BuiltContextLike>;
  gemini: { streamAnswer(request: { systemInstruction?: string; parts: Part[] }, options: StreamOptions): Promise<AnswerLike> };
  exportAnswer(
    markdown: string,
    formats: ExportFormat[],
    options: { workDir: string; timeoutMs: number; signal: AbortSignal; title?: string; logger?: Logger },
  ): Promise<ExportResultLike>;
  newMessageId(): string;
  composeReply(input: {
    parent: ParentMail;
    from: string;
    messageId: string;
    text: string;
    html?: string;
    attachments?: Array<{ filename: string; path?: string; contentType: string }>;
  }): unknown;
  failureReply(input: { parent: ParentMail; from: string; messageId: string; reason: string; secrets: string[] }): unknown;
  transport: { wasAccepted(messageId: string): Promise<boolean> };
  sendExactlyOnce(
    transport: PipelineServices['transport'],
    reply: unknown,
    options: {
      deadline: Deadline;
      policy: RetryPolicy;
      attemptTimeoutMs: number;
      /** Ask the provider whether the Message-ID was already accepted before the first attempt. */
      checkFirst?: boolean;
      logger?: Logger;
      onRetry?: (e: RetryEvent) => void;
      onGiveUp?: (e: GiveUpEvent) => void;
    },
  ): Promise<{ id: string; status: 'sent' | 'already-sent'; path?: string }>;
  retryObserver(logger: Logger): { onRetry(e: RetryEvent): void; onGiveUp(e: GiveUpEvent): void };
  metrics?: { recordJob(outcome: string, durationMs: number): void };
  mailFrom: string;
  /** Values that must never appear in mails or documents. */
  secrets: string[];
  /** Answers come from the local Gemini stand-in (labelled in the reply). */
  standIn: boolean;
}
