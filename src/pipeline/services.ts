/**
 * What the pipeline needs from the rest of the product. `src/app.ts` binds the real modules
 * (attachments, context, gemini, export, mail) to the configuration — size caps, hosts, keys,
 * QUARTO_PATH — so `processJob` only passes what varies per job: directories, deadlines, timeouts.
 */
import type { Logger } from 'winston';
import type { AttachmentResult, DownloadAttachmentsOptions } from '../attachments/types.ts';
import type { BuiltContext } from '../context/types.ts';
import type { ExportAnswerOptions, ExportFormat, ExportResult } from '../export/export-answer.ts';
import type { GeminiClient } from '../gemini/types.ts';
import type { Job, JobAttachment } from '../jobs/schema.ts';
import type { ComposeReplyInput, ComposedReply, FailureReplyInput } from '../mail/compose.ts';
import type { SendExactlyOnceOptions } from '../mail/send.ts';
import type { MailTransport, SendResult } from '../mail/types.ts';
import type { GiveUpEvent, RetryEvent } from '../resilience/retry.ts';

/** Per-job download options; the configuration-bound ones are filled in by `createServices`. */
export type JobDownloadOptions = Pick<
  DownloadAttachmentsOptions,
  'dir' | 'deadline' | 'policy' | 'perFileTimeoutMs' | 'headersTimeoutMs' | 'bodyTimeoutMs' | 'connectTimeoutMs' | 'logger' | 'onRetry' | 'onGiveUp'
>;

export interface PipelineServices {
  downloadAttachments(attachments: JobAttachment[], options: JobDownloadOptions): Promise<AttachmentResult[]>;
  buildContext(input: { job: Job; attachments: AttachmentResult[]; logger?: Logger; signal?: AbortSignal }): Promise<BuiltContext>;
  gemini: Pick<GeminiClient, 'streamAnswer'>;
  exportAnswer(markdown: string, formats: readonly ExportFormat[], options: Omit<ExportAnswerOptions, 'quartoPath' | 'onRender'>): Promise<ExportResult>;
  newMessageId(): string;
  composeReply(input: ComposeReplyInput): ComposedReply;
  failureReply(input: FailureReplyInput): ComposedReply;
  transport: MailTransport;
  sendExactlyOnce(transport: MailTransport, reply: ComposedReply, options: SendExactlyOnceOptions): Promise<SendResult>;
  /** Retry hooks that log and count, bound to a job's logger. */
  retryObserver(logger: Logger): { onRetry(e: RetryEvent): void; onGiveUp(e: GiveUpEvent): void };
  metrics?: { recordJob(outcome: string, durationMs: number): void };
  mailFrom: string;
  /** Values that must never appear in mails or documents. */
  secrets: string[];
  /** Answers come from the local Gemini stand-in (labelled in the reply). */
  standIn: boolean;
}
