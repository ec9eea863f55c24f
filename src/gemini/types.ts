/** Public types of the Gemini client (`createGeminiClient`). */
import type { Logger } from 'winston';
import type { WorkerError } from '../errors.ts';
import type { Deadline } from '../resilience/deadline.ts';
import type { GiveUpEvent, RetryEvent, RetryPolicy } from '../resilience/retry.ts';

/** One part of the user turn: text, or a file sent inline (PDF, image…) as base64. */
export type GeminiPart = { text: string } | { inlineData: { mimeType: string; data: string } };

export interface GeminiRequest {
  /** Sent as the model's system instruction. */
  systemInstruction?: string;
  /** The user turn. */
  parts: GeminiPart[];
}

export interface GeminiUsage {
  promptTokens?: number;
  outputTokens?: number;
  thoughtsTokens?: number;
  totalTokens?: number;
}

export interface GeminiAnswer {
  /** The answer (Markdown). When `complete` is false, the longest partial text any attempt produced. */
  text: string;
  /** The model finished the answer (a finish reason arrived). False: cut short, see `stoppedBy`. */
  complete: boolean;
  /**
   * Gemini's finish reason (`STOP`, `MAX_TOKENS`…) when the answer is complete. Anything but
   * `STOP` means the text may be cut (see `cutBy` in `response.ts`); the reply says so.
   */
  finishReason?: string;
  /** Attempts made, the first included. */
  attempts: number;
  /** Why a partial answer stopped (job deadline, or the last retryable failure). */
  stoppedBy?: WorkerError;
  /** Token counts reported by the API for the attempt that produced `text`. */
  usage?: GeminiUsage;
  /** The model version the API reported. */
  modelVersion?: string;
}

export interface GeminiClientOptions {
  /** Sent as `x-goog-api-key`; never logged or put into errors. */
  apiKey: string;
  /** A Gemini-compatible server (`GEMINI_BASE_URL`, e.g. the local stand-in). @defaultValue Google's endpoint */
  baseUrl?: string;
  /** API version path segment (`v1beta`, `v1`). @defaultValue the SDK's default */
  apiVersion?: string;
  /** Model id (`GEMINI_MODEL`). */
  model: string;
  /**
   * Cap on the tokens one request may generate (`generationConfig.maxOutputTokens`; thinking tokens
   * count too on 2.5 models), so one job cannot run up the bill. An answer that reaches it ends with
   * finish reason `MAX_TOKENS` and the reply says it was cut (`GEMINI_MAX_OUTPUT_TOKENS`).
   * @defaultValue the model's own limit
   */
  maxOutputTokens?: number;
  /** Debug lines per attempt. @defaultValue no logging */
  logger?: Logger;
}

/** Hooks the retry loop calls; logs and metrics subscribe to them. */
export interface GeminiRetryHooks {
  /** Before each wait for another attempt. */
  onRetry?: (event: RetryEvent) => void;
  /** Once, when no further attempt will be made. */
  onGiveUp?: (event: GiveUpEvent) => void;
}

export interface StreamAnswerOptions extends GeminiRetryHooks {
  /** The job (or answer) deadline; no attempt or wait is started that cannot finish before it. */
  deadline: Deadline;
  /** Attempts and backoff (profile retryAttempts / retryMin / retryMax). */
  policy: RetryPolicy;
  /** Time from the request to the first chunk, per attempt (profile `genaiTimeout`), ms. */
  firstChunkMs: number;
  /** Longest silence between two chunks (profile `toolHeartbeat`), ms. */
  idleMs: number;
  /** The whole stream of one attempt (profile `streamTimeout`), ms. */
  totalMs: number;
  /** Called with each new piece of text as it arrives. A retried attempt starts over from the beginning. */
  onChunk?: (text: string) => void;
}

export interface GenerateOptions extends GeminiRetryHooks {
  /** The job deadline. */
  deadline: Deadline;
  /** Attempts and backoff. */
  policy: RetryPolicy;
  /** Bound on one whole unary call (profile `genaiTimeout`), ms. */
  timeoutMs: number;
}

export interface GeminiClient {
  /** The model every request goes to. */
  readonly model: string;
  /**
   * Streams an answer with per-attempt phase timers and retries. Resolves with the full answer,
   * or — when the deadline ends the stream, or retries run out after some text arrived — with
   * `complete: false` and the longest partial text. Rejects with a WorkerError when no text at all
   * arrived, or on a permanent failure (safety block, 4xx, empty answer).
   */
  streamAnswer(request: GeminiRequest, options: StreamAnswerOptions): Promise<GeminiAnswer>;
  /** Unary variant (`generateContent`): same retries, the whole call bounded by `timeoutMs`. */
  generate(request: GeminiRequest, options: GenerateOptions): Promise<GeminiAnswer>;
}
