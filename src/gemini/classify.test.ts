import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '@google/genai';
import { ErrorCodes, retryable } from '../errors.ts';
import { classifyGeminiError, googleErrorOf } from './classify.ts';

const body = (code: number, status: string, details?: unknown[]) => JSON.stringify({ error: { code, message: 'Slow down', status, ...(details ? { details } : {}) } });
const retryInfo = (delay: string) => ({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: delay });

describe('classifyGeminiError', () => {
  it('makes a 429 retryable and takes the delay from RetryInfo before any Retry-After header', () => {
    const error = classifyGeminiError(new ApiError({ status: 429, message: body(429, 'RESOURCE_EXHAUSTED', [retryInfo('7s')]) }), 'gemini.stream', {
      headers: new Headers({ 'retry-after': '30' }),
    });
    assert.equal(error.code, ErrorCodes.UPSTREAM_HTTP);
    assert.equal(error.retryable, true);
    assert.equal(error.status, 429);
    assert.equal(error.retryAfterMs, 7000);
    assert.equal(error.message, 'gemini.stream: HTTP 429 RESOURCE_EXHAUSTED: Slow down');
  });

  it('falls back to the Retry-After header', () => {
    const error = classifyGeminiError(new ApiError({ status: 503, message: body(503, 'UNAVAILABLE') }), 'op', { headers: new Headers({ 'retry-after': '2' }) });
    assert.equal(error.retryAfterMs, 2000);
  });

  it('reads an error event inside a stream ("got status: …. {json}")', () => {
    const error = classifyGeminiError(new ApiError({ status: 500, message: `got status: INTERNAL. ${body(500, 'INTERNAL')}` }), 'op');
    assert.equal(error.retryable, true);
    assert.deepEqual(googleErrorOf(`got status: INTERNAL. ${body(500, 'INTERNAL')}`), { status: 'INTERNAL', message: 'Slow down' });
  });

  it('makes other 4xx permanent', () => {
    for (const status of [400, 401, 403, 404]) {
      assert.equal(classifyGeminiError(new ApiError({ status, message: body(status, 'X') }), 'op').retryable, false, String(status));
    }
    for (const status of [408, 500, 502, 504]) {
      assert.equal(classifyGeminiError(new ApiError({ status, message: body(status, 'X') }), 'op').retryable, true, String(status));
    }
  });

  it('calls a socket error after the first chunk a broken stream, before it a network error', () => {
    const dropped = new TypeError('terminated', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });
    assert.equal(classifyGeminiError(dropped, 'op', { midStream: true }).code, ErrorCodes.STREAM_BROKEN);
    assert.equal(classifyGeminiError(dropped, 'op').code, ErrorCodes.NETWORK);
    assert.equal(classifyGeminiError(dropped, 'op').retryable, true);
  });

  it('treats a stream cut inside an event as a retryable broken stream', () => {
    const error = classifyGeminiError(new Error('Incomplete JSON segment at the end'), 'op');
    assert.equal(error.code, ErrorCodes.STREAM_BROKEN);
    assert.equal(error.retryable, true);
  });

  it('keeps our own errors as they are', () => {
    const own = retryable(ErrorCodes.TIMEOUT, 'x');
    assert.equal(classifyGeminiError(own, 'op'), own);
  });

  it('cuts secrets out of messages', () => {
    const secret = 'AIzaSecretKey123';
    const api = classifyGeminiError(new ApiError({ status: 400, message: JSON.stringify({ error: { code: 400, message: `bad key ${secret}`, status: 'INVALID_ARGUMENT' } }) }), 'op', { secrets: [secret] });
    assert.ok(!api.message.includes(secret));
    const other = classifyGeminiError(new RangeError(`weird ${secret}`), 'op', { secrets: [secret] });
    assert.ok(!other.message.includes(secret));
    assert.equal(other.retryable, false);
  });
});
