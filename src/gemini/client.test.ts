/**
 * The Gemini client against the local stand-in: the real SDK, real sockets, real SSE. Timeouts
 * are small real durations (the same code paths the product runs with profile values).
 */
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCodes } from '../errors.ts';
import { Deadline } from '../resilience/deadline.ts';
import type { GiveUpEvent, RetryEvent, RetryPolicy } from '../resilience/retry.ts';
import { STANDIN_LABEL, startGeminiStandin, type GeminiStandin } from '../dev/gemini-standin.ts';
import { createGeminiClient, type GeminiClient, type StreamAnswerOptions } from './client.ts';
import { rejection } from '../../test/helpers/worker-error.ts';

const API_KEY = 'AIzaClientTestKey-0123456789abcdefghij';
const MODEL = 'gemini-2.5-flash';
// Tiny backoff so that any wait the test sees is clearly the server's, never ours.
const POLICY: RetryPolicy = { attempts: 4, minDelayMs: 1, maxDelayMs: 5 };
const REQUEST = { systemInstruction: 'Answer briefly.', parts: [{ text: 'Subject: Budget\nHow much did we spend on travel?' }] };

describe('gemini client (stand-in, real SDK)', () => {
  let standin: GeminiStandin;
  let client: GeminiClient;
  const deadlines: Deadline[] = [];

  before(async () => {
    standin = await startGeminiStandin({ chunkCount: 4, chunkDelayMs: 5 });
    client = createGeminiClient({ apiKey: API_KEY, baseUrl: standin.url, model: MODEL, apiVersion: 'v1beta' });
    // Warm up (module code, first connection) so tests with 150 ms limits measure the stream only.
    using deadline = Deadline.after(5000);
    await client.streamAnswer({ parts: [{ text: 'warm-up' }] }, { deadline, policy: POLICY, firstChunkMs: 5000, idleMs: 5000, totalMs: 5000 });
  });
  after(async () => {
    await standin.close();
  });
  beforeEach(() => standin.reset());
  afterEach(() => {
    for (const d of deadlines.splice(0)) d.dispose();
  });

  /** Stream options with recorded hooks; `deadlineMs` bounds the whole call. */
  function streamOptions(overrides: Partial<StreamAnswerOptions> & { deadlineMs?: number } = {}) {
    const retries: RetryEvent[] = [];
    const giveUps: GiveUpEvent[] = [];
    const chunks: string[] = [];
    const deadline = Deadline.after(overrides.deadlineMs ?? 5000);
    deadlines.push(deadline);
    const options: StreamAnswerOptions = {
      deadline,
      policy: POLICY,
      // Generous unless a test is about one of these timers, so a busy machine cannot trip them.
      firstChunkMs: 2000,
      idleMs: 2000,
      totalMs: 5000,
      onRetry: (e) => retries.push(e),
      onGiveUp: (e) => giveUps.push(e),
      onChunk: (t) => chunks.push(t),
      ...overrides,
    };
    return { options, retries, giveUps, chunks };
  }


  it('streams a complete answer, chunk by chunk', async () => {
    const { options, chunks, retries } = streamOptions();
    const answer = await client.streamAnswer(REQUEST, options);
    assert.equal(answer.complete, true);
    assert.equal(answer.finishReason, 'STOP');
    assert.equal(answer.attempts, 1);
    assert.ok(answer.text.startsWith(STANDIN_LABEL));
    assert.match(answer.text, /Budget/);
    assert.equal(chunks.length, 4);
    assert.equal(chunks.join(''), answer.text);
    assert.ok(answer.usage?.outputTokens && answer.usage.totalTokens);
    assert.equal(answer.modelVersion, MODEL);
    assert.equal(retries.length, 0);
  });

  it('retries 503, 503 and returns the third answer', async () => {
    standin.enqueue({ kind: 'status', status: 503 }, { kind: 'status', status: 503 });
    const { options, retries } = streamOptions();
    const answer = await client.streamAnswer(REQUEST, options);
    assert.equal(answer.complete, true);
    assert.equal(answer.attempts, 3);
    assert.equal(standin.requests.length, 3);
    assert.equal(retries.length, 2);
    for (const r of retries) {
      assert.equal(r.error.code, ErrorCodes.UPSTREAM_HTTP);
      assert.equal(r.error.status, 503);
      assert.equal(r.delaySource, 'backoff');
    }
  });

  it('waits the RetryInfo delay a 429 asks for, as sent', async () => {
    standin.enqueue({ kind: 'status', status: 429, retryDelay: '1s' });
    const { options, retries } = streamOptions();
    const answer = await client.streamAnswer(REQUEST, options);
    assert.equal(answer.complete, true);
    assert.equal(retries.length, 1);
    assert.equal(retries[0]!.error.status, 429);
    assert.equal(retries[0]!.delayMs, 1000);
    assert.equal(retries[0]!.delaySource, 'server');
  });

  it('honours a Retry-After header when there is no RetryInfo', async () => {
    standin.enqueue({ kind: 'status', status: 503, retryAfter: '1' });
    const { options, retries } = streamOptions();
    await client.streamAnswer(REQUEST, options);
    assert.equal(retries.length, 1);
    assert.equal(retries[0]!.delayMs, 1000);
    assert.equal(retries[0]!.delaySource, 'server');
  });

  it('cuts a stream that sends no first chunk with the first-chunk timer, then retries', async () => {
    standin.enqueue({ kind: 'hang-before-first-chunk' });
    const { options, retries } = streamOptions({ firstChunkMs: 150 });
    const answer = await client.streamAnswer(REQUEST, options);
    assert.equal(answer.complete, true);
    assert.equal(answer.attempts, 2);
    assert.equal(retries[0]!.error.code, ErrorCodes.TIMEOUT);
    assert.equal(retries[0]!.error.retryable, true);
    assert.equal(retries[0]!.error.details.phase, 'first-chunk');
    assert.equal(retries[0]!.error.details.limitMs, 150);
  });

  it('cuts a stream that goes silent mid-way with the idle timer, then retries from the start', async () => {
    standin.enqueue({ kind: 'hang-after', chunks: 2 });
    const { options, retries, chunks } = streamOptions({ idleMs: 150 });
    const answer = await client.streamAnswer(REQUEST, options);
    assert.equal(answer.complete, true);
    assert.equal(retries.length, 1);
    assert.equal(retries[0]!.error.details.phase, 'idle');
    // Two chunks from the broken attempt, then the whole answer again.
    assert.equal(chunks.length, 2 + 4);
    assert.equal(chunks.slice(2).join(''), answer.text);
  });

  it('cuts a stream that outlasts totalMs with the total timer', async () => {
    // Every chunk arrives well within the idle limit, but the stream as a whole is too long.
    standin.enqueue({ kind: 'slow', chunkDelayMs: 60 });
    const { options, retries } = streamOptions({ firstChunkMs: 1000, idleMs: 1000, totalMs: 150 });
    const answer = await client.streamAnswer(REQUEST, options);
    assert.equal(answer.complete, true);
    assert.equal(retries.length, 1);
    assert.equal(retries[0]!.error.code, ErrorCodes.TIMEOUT);
    assert.equal(retries[0]!.error.details.phase, 'total');
  });

  it('retries a stream whose socket is reset mid-way and returns the full answer', async () => {
    standin.enqueue({ kind: 'reset-after', chunks: 1 });
    const { options, retries } = streamOptions();
    const answer = await client.streamAnswer(REQUEST, options);
    assert.equal(answer.complete, true);
    assert.equal(answer.attempts, 2);
    assert.equal(standin.requests.length, 2);
    assert.equal(retries[0]!.error.code, ErrorCodes.STREAM_BROKEN);
    assert.equal(retries[0]!.error.retryable, true);
  });

  it('does not retry a 400', async () => {
    standin.enqueue({ kind: 'status', status: 400 });
    const { options, retries, giveUps } = streamOptions();
    const error = await rejection(client.streamAnswer(REQUEST, options));
    assert.equal(error.code, ErrorCodes.UPSTREAM_HTTP);
    assert.equal(error.status, 400);
    assert.equal(error.retryable, false);
    assert.match(error.message, /HTTP 400 INVALID_ARGUMENT/);
    assert.equal(standin.requests.length, 1);
    assert.equal(retries.length, 0);
    assert.equal(giveUps[0]?.reason, 'permanent');
  });

  it('rejects a blocked prompt with a permanent EW_ERR_GEMINI_BLOCKED, without retrying', async () => {
    standin.enqueue({ kind: 'blocked', via: 'prompt' });
    const { options, retries } = streamOptions();
    const error = await rejection(client.streamAnswer(REQUEST, options));
    assert.equal(error.code, ErrorCodes.GEMINI_BLOCKED);
    assert.equal(error.retryable, false);
    assert.equal(error.details.blockReason, 'SAFETY');
    assert.equal(retries.length, 0);
    assert.equal(standin.requests.length, 1);
  });

  it('sends maxOutputTokens and keeps an answer cut by it as complete text with finish reason MAX_TOKENS', async () => {
    const capped = createGeminiClient({ apiKey: API_KEY, baseUrl: standin.url, model: MODEL, apiVersion: 'v1beta', maxOutputTokens: 25 });
    const { options } = streamOptions();
    const answer = await capped.streamAnswer(REQUEST, options);
    assert.equal(answer.complete, true);
    assert.equal(answer.finishReason, 'MAX_TOKENS');
    assert.equal(answer.text.length, 100);
    assert.ok(answer.text.startsWith(STANDIN_LABEL));
    assert.deepEqual((standin.requests.at(-1)!.body as { generationConfig?: unknown }).generationConfig, { maxOutputTokens: 25 });
  });

  it('keeps the answer and its finish reason when the model stops for another reason (OTHER)', async () => {
    standin.enqueue({ kind: 'finish', reason: 'OTHER' });
    const { options } = streamOptions();
    const answer = await client.streamAnswer(REQUEST, options);
    assert.equal(answer.finishReason, 'OTHER');
    assert.ok(answer.text.length > 0);
  });

  it('refuses a maxOutputTokens that is not a positive integer', () => {
    assert.throws(() => createGeminiClient({ apiKey: API_KEY, model: MODEL, maxOutputTokens: 0 }), /maxOutputTokens/);
  });

  it('rejects an answer stopped with finishReason SAFETY as blocked, even after some text', async () => {
    standin.enqueue({ kind: 'blocked', via: 'finish' });
    const { options } = streamOptions();
    const error = await rejection(client.streamAnswer(REQUEST, options));
    assert.equal(error.code, ErrorCodes.GEMINI_BLOCKED);
    assert.equal(error.details.finishReason, 'SAFETY');
    assert.equal(standin.requests.length, 1);
  });

  it('rejects an empty complete answer with a permanent EW_ERR_GEMINI_EMPTY', async () => {
    standin.enqueue({ kind: 'empty' });
    const { options } = streamOptions();
    const error = await rejection(client.streamAnswer(REQUEST, options));
    assert.equal(error.code, ErrorCodes.GEMINI_EMPTY);
    assert.equal(error.retryable, false);
    assert.equal(standin.requests.length, 1);
  });

  it('resolves with the partial text, complete: false, when the deadline ends the stream', async () => {
    // Chunks every 80 ms (idle limit 150 ms): the 250 ms deadline falls after the third chunk.
    standin.setDefault({ kind: 'slow', chunkDelayMs: 80 });
    const { options, chunks, giveUps } = streamOptions({ deadlineMs: 250 });
    const answer = await client.streamAnswer(REQUEST, options);
    assert.equal(answer.complete, false);
    assert.ok(answer.text.startsWith(STANDIN_LABEL));
    assert.equal(answer.text, chunks.join(''));
    assert.ok(chunks.length >= 1 && chunks.length < 4, `${chunks.length} chunks arrived`);
    assert.equal(answer.stoppedBy?.code, ErrorCodes.DEADLINE_EXCEEDED);
    assert.equal(giveUps[0]?.reason, 'deadline');
  });

  it('resolves with the longest partial text when every attempt breaks mid-way', async () => {
    standin.setDefault({ kind: 'hang-after', chunks: 1 });
    standin.enqueue({ kind: 'hang-after', chunks: 2 });
    const { options, chunks } = streamOptions({ idleMs: 150, policy: { ...POLICY, attempts: 2 } });
    const answer = await client.streamAnswer(REQUEST, options);
    assert.equal(answer.complete, false);
    assert.equal(answer.attempts, 2);
    // Attempt 1 got two chunks, attempt 2 only one: the longer text is kept.
    assert.equal(answer.text, chunks[0]! + chunks[1]!);
    assert.equal(answer.stoppedBy?.code, ErrorCodes.TIMEOUT);
    assert.equal(answer.stoppedBy?.details.phase, 'idle');
  });

  it('rejects with the deadline error when no text arrived at all', async () => {
    standin.setDefault({ kind: 'hang-before-first-chunk' });
    const { options } = streamOptions({ deadlineMs: 200, firstChunkMs: 1000 });
    const error = await rejection(client.streamAnswer(REQUEST, options));
    assert.equal(error.code, ErrorCodes.DEADLINE_EXCEEDED);
  });

  it('rejects a cancelled job (shutdown) instead of answering with a fragment', async () => {
    standin.setDefault({ kind: 'slow', chunkDelayMs: 60 });
    const { options, chunks } = streamOptions();
    const pending = client.streamAnswer(REQUEST, { ...options, onChunk: (t) => { chunks.push(t); if (chunks.length === 2) options.deadline.abort(); } });
    const error = await rejection(pending);
    assert.equal(error.code, ErrorCodes.ABORTED);
  });

  it('makes exactly one request per attempt: the SDK neither retries nor auto-continues', async () => {
    standin.enqueue({ kind: 'status', status: 503 }, { kind: 'reset-after', chunks: 0 });
    const once: RetryPolicy = { attempts: 1, minDelayMs: 1, maxDelayMs: 1 };
    const first = await rejection(client.streamAnswer(REQUEST, streamOptions({ policy: once }).options));
    assert.equal(first.status, 503);
    assert.equal(standin.requests.length, 1);
    // A drop before any content is what the SDK's automatic continuation would re-request.
    const second = await rejection(client.streamAnswer(REQUEST, streamOptions({ policy: once }).options));
    assert.equal(second.code, ErrorCodes.NETWORK);
    assert.equal(standin.requests.length, 2);
  });

  it('sends the text parts, inline data and system instruction in the request body', async () => {
    const pdf = Buffer.from('%PDF-1.4 test').toString('base64');
    const { options } = streamOptions();
    const answer = await client.streamAnswer(
      { systemInstruction: 'You answer email.', parts: [{ text: 'Question text here' }, { inlineData: { mimeType: 'application/pdf', data: pdf } }] },
      options,
    );
    const body = standin.requests[0]!.body as { contents: Array<{ role: string; parts: unknown[] }>; systemInstruction: { parts: Array<{ text: string }> } };
    assert.equal(body.contents.length, 1);
    assert.equal(body.contents[0]!.role, 'user');
    assert.deepEqual(body.contents[0]!.parts, [{ text: 'Question text here' }, { inlineData: { mimeType: 'application/pdf', data: pdf } }]);
    assert.equal(body.systemInstruction.parts[0]!.text, 'You answer email.');
    assert.match(answer.text, /1 × application\/pdf/);
    assert.doesNotMatch(JSON.stringify(body), /automaticContinuation|abortSignal/);
  });

  it('talks to the v1beta and v1 paths of the base URL it was given', async () => {
    const v1 = createGeminiClient({ apiKey: API_KEY, baseUrl: standin.url, model: MODEL, apiVersion: 'v1' });
    await client.streamAnswer(REQUEST, streamOptions().options);
    await v1.streamAnswer(REQUEST, streamOptions().options);
    assert.equal(standin.requests[0]!.path, `/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`);
    assert.equal(standin.requests[1]!.path, `/v1/models/${MODEL}:streamGenerateContent?alt=sse`);
  });

  it('sends the API key but the stand-in never records it, and errors never contain it', async () => {
    standin.enqueue({ kind: 'status', status: 403, message: `API key ${API_KEY} is not allowed` });
    const error = await rejection(client.streamAnswer(REQUEST, streamOptions().options));
    await client.streamAnswer(REQUEST, streamOptions().options);
    assert.ok(standin.requests.every((r) => r.apiKeyPresent));
    // (The scenario is left out: this test put the key into the stand-in's error message itself.)
    const recorded = standin.requests.map(({ path, headers, body }) => ({ path, headers, body }));
    assert.ok(!JSON.stringify(recorded).includes(API_KEY));
    assert.ok(!error.message.includes(API_KEY), error.message);
    assert.match(error.message, /\[redacted\]/);
  });

  describe('generate (unary)', () => {
    it('returns the whole answer', async () => {
      const deadline = Deadline.after(5000);
      deadlines.push(deadline);
      const answer = await client.generate(REQUEST, { deadline, policy: POLICY, timeoutMs: 1000 });
      assert.equal(answer.complete, true);
      assert.equal(answer.finishReason, 'STOP');
      assert.ok(answer.text.startsWith(STANDIN_LABEL));
      assert.equal(standin.requests[0]!.action, 'generateContent');
    });

    it('bounds each call by timeoutMs and retries a call that hangs', async () => {
      standin.enqueue({ kind: 'hang-before-first-chunk' }, { kind: 'status', status: 500 });
      const deadline = Deadline.after(5000);
      deadlines.push(deadline);
      const retries: RetryEvent[] = [];
      const answer = await client.generate(REQUEST, { deadline, policy: POLICY, timeoutMs: 300, onRetry: (e) => retries.push(e) });
      assert.equal(answer.attempts, 3);
      assert.equal(retries[0]!.error.code, ErrorCodes.TIMEOUT);
      assert.equal(retries[0]!.error.details.limitMs, 300);
      assert.equal(retries[1]!.error.status, 500);
    });

    it('rejects a blocked prompt as permanent', async () => {
      standin.enqueue({ kind: 'blocked' });
      const deadline = Deadline.after(5000);
      deadlines.push(deadline);
      const error = await rejection(client.generate(REQUEST, { deadline, policy: POLICY, timeoutMs: 1000 }));
      assert.equal(error.code, ErrorCodes.GEMINI_BLOCKED);
      assert.equal(standin.requests.length, 1);
    });
  });

  it('refuses bad options with a message naming the option', () => {
    assert.throws(() => createGeminiClient({ apiKey: '', model: MODEL }), /`apiKey`/);
    assert.throws(() => createGeminiClient({ apiKey: 'k', model: MODEL, baseUrl: 'not a url' }), /`baseUrl`/);
  });
});
