/**
 * The Gemini client: the official `@google/genai` SDK, with our timeouts and retries around it.
 *
 * What the SDK would do on its own, and what we switch off (read from its v3.1 dist):
 * - HTTP retries: only when `httpOptions.retryOptions` is set. We leave it unset — `retry()` from
 *   `src/resilience/` is the one retry loop (deadline-aware, honours RetryInfo, hooks for logs).
 * - "Automatic continuation" (on by default): re-requests a stream that dropped before any
 *   content, up to 3 times, and follows continuation tokens. That is a hidden retry loop outside
 *   our deadline, so `automaticContinuation: false`.
 * - `httpOptions.timeout`: one abort timer over the whole response body. For streams it would
 *   have to cover the whole answer, so it is not set; our own phase timers (first chunk, idle,
 *   total) run on the one `abortSignal` instead. Undici's 300 s defaults are off (see `fetch.ts`).
 *
 * A stream that breaks is asked again from the start (Gemini cannot resume); the longest partial
 * text seen is kept, so a deadline or exhausted retries still yield what was written.
 */
import { GoogleGenAI, type GenerateContentParameters, type GenerateContentResponse } from '@google/genai';
import type { Logger } from 'winston';
import { ErrorCodes, isWorkerError, permanent, retryable, type WorkerError } from '../errors.ts';
import { abortReason } from '../resilience/deadline.ts';
import { retry } from '../resilience/retry.ts';
import { classifyGeminiError } from './classify.ts';
import { recordingFetch } from './fetch.ts';
import { blockedError, cutBy, finishReasonOf, textOf, usageOf } from './response.ts';
import { createStreamTimers } from './stream-timers.ts';
import type { GeminiAnswer, GeminiClient, GeminiClientOptions, GeminiRequest, GeminiUsage, GenerateOptions, StreamAnswerOptions } from './types.ts';

export type * from './types.ts';

const STREAM_OPERATION = 'gemini.stream';
const UNARY_OPERATION = 'gemini.generate';

interface AttemptResult {
  text: string;
  finishReason: string;
  usage?: GeminiUsage;
  modelVersion?: string;
}

function validate(options: GeminiClientOptions): void {
  if (typeof options.apiKey !== 'string' || options.apiKey === '') throw new TypeError('Expected `apiKey` to be a non-empty string.');
  if (typeof options.model !== 'string' || options.model === '') throw new TypeError('Expected `model` to be a non-empty string.');
  if (options.baseUrl !== undefined && !URL.canParse(options.baseUrl)) throw new TypeError('Expected `baseUrl` to be a URL.');
  if (options.maxOutputTokens !== undefined && !(Number.isInteger(options.maxOutputTokens) && options.maxOutputTokens > 0)) {
    throw new TypeError('Expected `maxOutputTokens` to be an integer > 0.');
  }
}

function validateDurations(values: Record<string, number>): void {
  for (const [key, value] of Object.entries(values)) {
    if (!(value > 0)) throw new TypeError(`Expected \`${key}\` to be a number > 0.`);
  }
}

function toParameters(model: string, request: GeminiRequest, signal: AbortSignal, fetchFn: typeof globalThis.fetch, maxOutputTokens: number | undefined): GenerateContentParameters {
  return {
    model,
    contents: [{ role: 'user', parts: request.parts }],
    config: {
      ...(request.systemInstruction ? { systemInstruction: request.systemInstruction } : {}),
      ...(maxOutputTokens ? { maxOutputTokens } : {}),
      abortSignal: signal,
      automaticContinuation: false,
      httpOptions: { fetch: fetchFn },
    },
  };
}

/** Checks a finished response (or the end of a stream) and returns the attempt's result. */
function finish(operation: string, text: string, finishReason: string | undefined, last: GenerateContentResponse | undefined): AttemptResult {
  if (finishReason === undefined) {
    // The connection closed cleanly but the model never said it was done: a broken stream.
    throw retryable(ErrorCodes.STREAM_BROKEN, `${operation}: the stream ended without a finish reason`, {
      details: { operation, chars: text.length },
    });
  }
  if (text.trim() === '') {
    throw permanent(ErrorCodes.GEMINI_EMPTY, `${operation}: the model returned no text (finish reason ${finishReason})`, {
      details: { operation, finishReason },
    });
  }
  const usage = last && usageOf(last);
  return { text, finishReason, ...(usage ? { usage } : {}), ...(last?.modelVersion ? { modelVersion: last.modelVersion } : {}) };
}

function answerOf(result: AttemptResult, attempts: number): GeminiAnswer {
  return {
    text: result.text,
    complete: true,
    finishReason: result.finishReason,
    attempts,
    ...(result.usage ? { usage: result.usage } : {}),
    ...(result.modelVersion ? { modelVersion: result.modelVersion } : {}),
  };
}

export function createGeminiClient(options: GeminiClientOptions): GeminiClient {
  validate(options);
  const { model, apiKey } = options;
  const secrets = [apiKey];
  const logger: Logger | undefined = options.logger?.child({ component: 'gemini' });
  const ai = new GoogleGenAI({
    apiKey,
    // The base URL goes to the SDK unchanged: it is how the stand-in and compatible servers are used.
    ...(options.baseUrl !== undefined || options.apiVersion !== undefined
      ? { httpOptions: { ...(options.baseUrl !== undefined ? { baseUrl: options.baseUrl } : {}), ...(options.apiVersion !== undefined ? { apiVersion: options.apiVersion } : {}) } }
      : {}),
  });

  async function streamAnswer(request: GeminiRequest, opts: StreamAnswerOptions): Promise<GeminiAnswer> {
    validateDurations({ firstChunkMs: opts.firstChunkMs, idleMs: opts.idleMs, totalMs: opts.totalMs });
    let longest = '';
    let attempts = 0;

    const attempt = async (attemptNumber: number, signal: AbortSignal): Promise<AttemptResult> => {
      using timers = createStreamTimers(signal, { operation: STREAM_OPERATION, firstChunkMs: opts.firstChunkMs, idleMs: opts.idleMs, totalMs: opts.totalMs });
      const http = recordingFetch();
      let text = '';
      let finishReason: string | undefined;
      let last: GenerateContentResponse | undefined;
      let chunks = 0;
      try {
        const stream = await ai.models.generateContentStream(toParameters(model, request, timers.signal, http.fetch, options.maxOutputTokens));
        for await (const chunk of stream) {
          chunks++;
          timers.chunk();
          last = chunk;
          const blocked = blockedError(chunk, STREAM_OPERATION);
          if (blocked) throw blocked;
          const piece = textOf(chunk);
          if (piece) {
            text += piece;
            if (text.length > longest.length) longest = text;
            opts.onChunk?.(piece);
          }
          finishReason = finishReasonOf(chunk) ?? finishReason;
        }
        timers.ended();
      } catch (error) {
        // Which timer (or the deadline) cut the stream matters more than the SDK's AbortError.
        if (timers.signal.aborted && isWorkerError(timers.signal.reason)) throw timers.signal.reason;
        throw classifyGeminiError(error, STREAM_OPERATION, { ...(http.headers ? { headers: http.headers } : {}), midStream: chunks > 0, secrets });
      }
      const result = finish(STREAM_OPERATION, text, finishReason, last);
      // A cut answer (MAX_TOKENS, OTHER…) is still an answer: kept, and the reply says it was cut.
      logger?.[cutBy(finishReason) ? 'warn' : 'debug']('Gemini stream finished', { attempt: attemptNumber, chunks, chars: text.length, finishReason });
      return result;
    };

    try {
      const result = await retry(
        async ({ attemptNumber, signal }) => {
          attempts = attemptNumber;
          return await attempt(attemptNumber, signal);
        },
        {
          operation: STREAM_OPERATION,
          policy: opts.policy,
          deadline: opts.deadline,
          classify: (error, operation) => classifyGeminiError(error, operation, { secrets }),
          ...(opts.onRetry ? { onRetry: opts.onRetry } : {}),
          ...(opts.onGiveUp ? { onGiveUp: opts.onGiveUp } : {}),
        },
      );
      return answerOf(result, attempts);
    } catch (error) {
      let stoppedBy = error as WorkerError;
      // A deadline that fired during a backoff wait is the real reason, whatever the wait threw.
      if (opts.deadline.signal.aborted && stoppedBy.code !== ErrorCodes.GEMINI_BLOCKED) stoppedBy = abortReason(opts.deadline.signal, STREAM_OPERATION);
      // Keep what was written when time ran out or retries were exhausted; a refusal, a 4xx or a
      // cancellation (shutdown: another worker takes the job over) is not answered with a fragment.
      const keepPartial = longest.length > 0 && (stoppedBy.code === ErrorCodes.DEADLINE_EXCEEDED || stoppedBy.retryable);
      if (!keepPartial) throw stoppedBy;
      logger?.debug('Gemini stream stopped; keeping the partial answer', { attempts, chars: longest.length, code: stoppedBy.code });
      return { text: longest, complete: false, attempts, stoppedBy };
    }
  }

  async function generate(request: GeminiRequest, opts: GenerateOptions): Promise<GeminiAnswer> {
    validateDurations({ timeoutMs: opts.timeoutMs });
    let attempts = 0;
    const result = await retry(
      async ({ attemptNumber, signal }) => {
        attempts = attemptNumber;
        const http = recordingFetch();
        let response: GenerateContentResponse;
        try {
          response = await ai.models.generateContent(toParameters(model, request, signal, http.fetch, options.maxOutputTokens));
        } catch (error) {
          throw classifyGeminiError(error, UNARY_OPERATION, { ...(http.headers ? { headers: http.headers } : {}), secrets });
        }
        const blocked = blockedError(response, UNARY_OPERATION);
        if (blocked) throw blocked;
        return finish(UNARY_OPERATION, textOf(response), finishReasonOf(response), response);
      },
      {
        operation: UNARY_OPERATION,
        policy: opts.policy,
        deadline: opts.deadline,
        // The whole unary call, per attempt (genaiTimeout): retry() aborts it with a retryable timeout.
        attemptTimeoutMs: opts.timeoutMs,
        classify: (error, operation) => classifyGeminiError(error, operation, { secrets }),
        ...(opts.onRetry ? { onRetry: opts.onRetry } : {}),
        ...(opts.onGiveUp ? { onGiveUp: opts.onGiveUp } : {}),
      },
    );
    return answerOf(result, attempts);
  }

  return { model, streamAnswer, generate };
}
