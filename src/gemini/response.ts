/**
 * Reading one `GenerateContentResponse` (a whole unary answer or one stream chunk): its text, its
 * usage, and whether the model refused to answer.
 */
import type { GenerateContentResponse } from '@google/genai';
import { ErrorCodes, permanent, type WorkerError } from '../errors.ts';
import type { GeminiUsage } from './types.ts';

/**
 * Finish reasons that mean the model's safety or policy filters stopped the answer. Retrying the
 * same request gets the same verdict, so they are permanent (SPEC §2.5).
 */
export const BLOCKING_FINISH_REASONS: ReadonlySet<string> = new Set([
  'SAFETY',
  'RECITATION',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
]);

/** The finish reason of an answer the model ended on its own. */
export const NORMAL_FINISH_REASON = 'STOP';

/**
 * How an answer that arrived in full was ended, when not normally: `max-tokens` (it reached
 * `maxOutputTokens`), `other` (any other reason but `STOP`: the text may be incomplete), or
 * undefined for a normal stop or no reason at all.
 */
export function cutBy(finishReason: string | undefined): 'max-tokens' | 'other' | undefined {
  if (finishReason === undefined || finishReason === NORMAL_FINISH_REASON) return undefined;
  return finishReason === 'MAX_TOKENS' ? 'max-tokens' : 'other';
}

/**
 * The answer text in a response: the first candidate's text parts, in order. Thought summaries
 * (`thought: true`) are not part of the answer. (The SDK's `.text` getter does the same but
 * writes a console warning when other parts are present.)
 */
export function textOf(response: GenerateContentResponse): string {
  const parts = response.candidates?.[0]?.content?.parts ?? [];
  let text = '';
  for (const part of parts) if (typeof part.text === 'string' && !part.thought) text += part.text;
  return text;
}

export function finishReasonOf(response: GenerateContentResponse): string | undefined {
  const reason = response.candidates?.[0]?.finishReason;
  return reason === undefined || reason === null ? undefined : String(reason);
}

export function usageOf(response: GenerateContentResponse): GeminiUsage | undefined {
  const u = response.usageMetadata;
  if (!u) return undefined;
  const usage: GeminiUsage = {};
  if (u.promptTokenCount !== undefined) usage.promptTokens = u.promptTokenCount;
  if (u.candidatesTokenCount !== undefined) usage.outputTokens = u.candidatesTokenCount;
  if (u.thoughtsTokenCount !== undefined) usage.thoughtsTokens = u.thoughtsTokenCount;
  if (u.totalTokenCount !== undefined) usage.totalTokens = u.totalTokenCount;
  return usage;
}

/**
 * A permanent `EW_ERR_GEMINI_BLOCKED` when the prompt was blocked (`promptFeedback.blockReason`)
 * or the answer was stopped by a safety / policy filter (finish reason); otherwise undefined.
 */
export function blockedError(response: GenerateContentResponse, operation: string): WorkerError | undefined {
  const blockReason = response.promptFeedback?.blockReason;
  if (blockReason) {
    const message = response.promptFeedback?.blockReasonMessage;
    return permanent(ErrorCodes.GEMINI_BLOCKED, `${operation}: the prompt was blocked (${blockReason})${message ? `: ${message}` : ''}`, {
      details: { operation, blockReason: String(blockReason) },
    });
  }
  const finishReason = finishReasonOf(response);
  if (finishReason && BLOCKING_FINISH_REASONS.has(finishReason)) {
    return permanent(ErrorCodes.GEMINI_BLOCKED, `${operation}: the answer was stopped by the model's filters (${finishReason})`, {
      details: { operation, finishReason },
    });
  }
  return undefined;
}
