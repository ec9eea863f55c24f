/**
 * The Gemini stand-in on the wire, read with plain fetch (not the SDK), so the format is checked
 * independently of the client that uses it.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { STANDIN_LABEL, scenarioFromMarker, splitIntoChunks, startGeminiStandin, type GeminiStandin } from './gemini-standin.ts';

const KEY = 'AIzaStandinTestKey-abcdefghijklmnopqrstu';
const body = (text: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ contents: [{ role: 'user', parts: [{ text }] }], ...extra });

function post(url: string, payload: string, headers: Record<string, string> = { 'x-goog-api-key': KEY }) {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: payload });
}

/** The fields of a GenerateContentResponse these tests read. */
interface WireResponse {
  candidates: Array<{ content: { role: string; parts: Array<{ text: string }> }; finishReason?: string }>;
  usageMetadata: { promptTokenCount: number; candidatesTokenCount?: number; totalTokenCount: number };
  modelVersion: string;
  responseId: string;
  promptFeedback?: { blockReason: string };
}
interface WireError {
  error: { code: number; status: string; message: string };
}

/** Splits an SSE body the way Google sends it: `data: {json}` events separated by CRLF CRLF. */
function events(text: string): WireResponse[] {
  return text
    .split('\r\n\r\n')
    .filter((e) => e.trim())
    .map((e) => {
      assert.ok(e.startsWith('data: '), `event starts with "data: ": ${e.slice(0, 40)}`);
      return JSON.parse(e.slice('data: '.length)) as WireResponse;
    });
}

describe('gemini stand-in', () => {
  let standin: GeminiStandin;
  let streamUrl: string;
  let unaryUrl: string;

  before(async () => {
    standin = await startGeminiStandin({ chunkCount: 3, chunkDelayMs: 2 });
    streamUrl = `${standin.url}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse`;
    unaryUrl = `${standin.url}/v1beta/models/gemini-2.5-flash:generateContent`;
  });
  after(async () => {
    await standin.close();
  });
  beforeEach(() => standin.reset());

  it('streams Server-Sent Events in Google\'s format, STOP and usage on the last chunk', async () => {
    const res = await post(streamUrl, body('Subject: Travel\nWhat did the trip cost?'));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const chunks = events(await res.text());
    assert.equal(chunks.length, 3);
    for (const [i, c] of chunks.entries()) {
      assert.equal(c.candidates[0]!.content.role, 'model');
      assert.equal(typeof c.candidates[0]!.content.parts[0]!.text, 'string');
      assert.equal(c.modelVersion, 'gemini-2.5-flash');
      assert.equal(c.responseId, chunks[0]!.responseId);
      assert.equal(c.candidates[0]!.finishReason, i === 2 ? 'STOP' : undefined);
    }
    assert.ok((chunks[2]!.usageMetadata.candidatesTokenCount ?? 0) > 0);
    const text = chunks.map((c) => c.candidates[0]!.content.parts[0]!.text).join('');
    assert.ok(text.startsWith(STANDIN_LABEL));
    assert.match(text, /\*\*Question:\*\* Travel/);
    assert.match(text, /> What did the trip cost\?/);
  });

  it('ends a stream with finishReason MAX_TOKENS when the answer exceeds generationConfig.maxOutputTokens', async () => {
    const res = await post(streamUrl, body('Subject: Long\nWrite a lot.', { generationConfig: { maxOutputTokens: 20 } }));
    const chunks = events(await res.text());
    const last = chunks.at(-1)!;
    assert.equal(last.candidates[0]!.finishReason, 'MAX_TOKENS');
    assert.ok(chunks.slice(0, -1).every((c) => c.candidates[0]!.finishReason === undefined), 'only the last event has a finish reason');
    const text = chunks.map((c) => c.candidates[0]!.content.parts.map((p) => p.text).join('')).join('');
    assert.equal(text.length, 80, 'cut at 20 tokens of ~4 characters');
    assert.equal(last.usageMetadata.candidatesTokenCount, 20);
  });

  it('ends with the finish reason a max-tokens or finish:<reason> marker names, after part of the answer', async () => {
    for (const [marker, reason] of [['[standin:max-tokens]', 'MAX_TOKENS'], ['[standin:finish:other]', 'OTHER']] as const) {
      const stream = events(await (await post(streamUrl, body(`Subject: Cut\n${marker}`))).text());
      assert.equal(stream.at(-1)!.candidates[0]!.finishReason, reason, marker);
      const unary = (await (await post(unaryUrl, body(`Subject: Cut\n${marker}`))).json()) as WireResponse;
      assert.equal(unary.candidates[0]!.finishReason, reason, marker);
    }
  });

  it('answers generateContent with the whole response as JSON', async () => {
    const res = await post(unaryUrl, body('Hello'));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    const json = (await res.json()) as WireResponse;
    assert.equal(json.candidates[0]!.finishReason, 'STOP');
    assert.ok(String(json.candidates[0]!.content.parts[0]!.text).startsWith(STANDIN_LABEL));
  });

  it('lists the parts it received: first characters of text parts, inline parts by mime type', async () => {
    const parts = [
      { text: 'Attachment: budget.txt\nTravel 1200 EUR' },
      { text: '<attachment name="notes.md" type="text/markdown">\nMeeting notes\n</attachment>' },
      { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0=' } },
      { inlineData: { mimeType: 'image/png', data: 'iVBORw0=' } },
      { inlineData: { mimeType: 'image/png', data: 'iVBORw0=' } },
    ];
    const res = await post(unaryUrl, JSON.stringify({ contents: [{ role: 'user', parts }], systemInstruction: { parts: [{ text: 'Be brief.' }] } }));
    const text = String(((await res.json()) as WireResponse).candidates[0]!.content.parts[0]!.text);
    assert.match(text, /2 text parts, 3 inline parts, a system instruction of 9 characters/);
    assert.match(text, /Text part 1 \(budget\.txt\), \d+ characters: "Attachment: budget\.txt Travel 1200 EUR"/);
    assert.match(text, /Text part 2 \(notes\.md\)/);
    assert.match(text, /Inline: 1 × application\/pdf/);
    assert.match(text, /Inline: 2 × image\/png/);
  });

  it('refuses a request without an API key with Google\'s 401 error body', async () => {
    const res = await post(streamUrl, body('hi'), {});
    assert.equal(res.status, 401);
    const json = (await res.json()) as WireError;
    assert.equal(json.error.code, 401);
    assert.equal(json.error.status, 'UNAUTHENTICATED');
    assert.equal(standin.requests[0]!.apiKeyPresent, false);
  });

  it('answers a status scenario with Google\'s error body, RetryInfo and Retry-After', async () => {
    standin.enqueue({ kind: 'status', status: 429, retryDelay: '2s', retryAfter: '3' });
    const res = await post(streamUrl, body('hi'));
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '3');
    assert.deepEqual(await res.json(), {
      error: {
        code: 429,
        message: 'Resource has been exhausted (e.g. check quota).',
        status: 'RESOURCE_EXHAUSTED',
        details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '2s' }],
      },
    });
    // The queue is consumed: the next request is normal again.
    assert.equal((await post(streamUrl, body('hi'))).status, 200);
  });

  it('never records the API key, neither the header nor a ?key= parameter', async () => {
    await (await post(streamUrl, body('one'))).text();
    await (await post(`${unaryUrl}?key=${KEY}`, body('two'), {})).text();
    assert.equal(standin.requests.length, 2);
    assert.ok(standin.requests.every((r) => r.apiKeyPresent));
    assert.ok(!JSON.stringify(standin.requests).includes(KEY));
    assert.equal(standin.requests[1]!.path, '/v1beta/models/gemini-2.5-flash:generateContent');
  });

  it('serves both v1 and v1beta paths and 404s anything else', async () => {
    const v1 = await post(`${standin.url}/v1/models/gemini-2.5-pro:generateContent`, body('hi'));
    assert.equal(v1.status, 200);
    await v1.text();
    assert.equal(standin.requests[0]!.apiVersion, 'v1');
    assert.equal(standin.requests[0]!.model, 'gemini-2.5-pro');
    const other = await post(`${standin.url}/v2/models/x:embedContent`, body('hi'));
    assert.equal(other.status, 404);
    assert.equal(((await other.json()) as WireError).error.status, 'NOT_FOUND');
  });

  it('picks a scenario from a marker in the prompt; xN limits it to the first N such requests', async () => {
    const prompt = body('Please fail first [standin:503x2]');
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await post(streamUrl, prompt);
      statuses.push(res.status);
      await res.text();
    }
    assert.deepEqual(statuses, [503, 503, 200]);
    const blocked = await post(unaryUrl, body('[standin:blocked] something'));
    assert.equal(((await blocked.json()) as WireResponse).promptFeedback?.blockReason, 'SAFETY');
  });

  it('parses every documented marker', () => {
    assert.deepEqual(scenarioFromMarker('503'), { kind: 'status', status: 503 });
    assert.deepEqual(scenarioFromMarker('429:2s'), { kind: 'status', status: 429, retryDelay: '2s' });
    assert.deepEqual(scenarioFromMarker('hang'), { kind: 'hang-before-first-chunk' });
    assert.deepEqual(scenarioFromMarker('hang-after:2'), { kind: 'hang-after', chunks: 2 });
    assert.deepEqual(scenarioFromMarker('reset'), { kind: 'reset-after', chunks: 1 });
    assert.deepEqual(scenarioFromMarker('reset-after:3'), { kind: 'reset-after', chunks: 3 });
    assert.deepEqual(scenarioFromMarker('blocked'), { kind: 'blocked', via: 'prompt' });
    assert.deepEqual(scenarioFromMarker('blocked-finish'), { kind: 'blocked', via: 'finish' });
    assert.deepEqual(scenarioFromMarker('slow:250'), { kind: 'slow', chunkDelayMs: 250 });
    assert.deepEqual(scenarioFromMarker('empty'), { kind: 'empty' });
    assert.deepEqual(scenarioFromMarker('ok'), { kind: 'ok' });
    assert.deepEqual(scenarioFromMarker('max-tokens'), { kind: 'finish', reason: 'MAX_TOKENS' });
    assert.deepEqual(scenarioFromMarker('finish:other'), { kind: 'finish', reason: 'OTHER' });
    assert.equal(scenarioFromMarker('nonsense'), undefined);
  });

  it('destroys the socket after N chunks in a reset-after scenario', async () => {
    standin.enqueue({ kind: 'reset-after', chunks: 1 });
    const res = await post(streamUrl, body('hi'));
    assert.equal(res.status, 200);
    await assert.rejects(res.text(), (e: Error) => e.message === 'terminated');
  });

  it('sends N chunks and then nothing in a hang-after scenario', async () => {
    standin.enqueue({ kind: 'hang-after', chunks: 1 });
    const res = await post(streamUrl, body('hi'));
    const reader = res.body!.getReader();
    let received = '';
    while (!received.endsWith('\r\n\r\n')) received += new TextDecoder().decode((await reader.read()).value);
    assert.equal(events(received).length, 1);
    // Nothing more arrives while we wait a little; then we hang up ourselves.
    const next = await Promise.race([reader.read().then(() => 'data' as const), new Promise<'silent'>((r) => setTimeout(r, 60, 'silent'))]);
    assert.equal(next, 'silent');
    await reader.cancel();
  });

  it('close() ends hanging connections too', async () => {
    const own = await startGeminiStandin();
    own.setDefault({ kind: 'hang-before-first-chunk' });
    const res = await post(`${own.url}/v1beta/models/m:streamGenerateContent?alt=sse`, body('hi'));
    assert.equal(res.status, 200);
    const reading = res.text();
    await own.close();
    await assert.rejects(reading);
    assert.equal(own.openStreams, 0);
  });

  it('splits text into chunks that concatenate back to the text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), fc.integer({ min: 1, max: 12 }), (text, count) => {
        const pieces = splitIntoChunks(text, count);
        assert.equal(pieces.join(''), text);
        assert.ok(pieces.length <= count + 1);
        assert.ok(pieces.every((p) => p.length > 0));
      }),
    );
  });

  it('runs standalone and prints its URL', async () => {
    const script = fileURLToPath(new URL('./gemini-standin.ts', import.meta.url));
    const child = spawn(process.execPath, [script, '--port', '0', '--chunk-delay-ms', '1'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let out = '';
      child.stdout.setEncoding('utf8');
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d: string) => {
          out += d;
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
      });
      const res = await post(`${url}/v1beta/models/m:generateContent`, body('hi'));
      assert.equal(res.status, 200);
      await res.text();
    } finally {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    }
  });
});
