import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCodes, retryable } from '../errors.ts';
import { envSecrets, isSecretKey, REDACTED, redactString, redactValue } from './redact.ts';

const GEMINI_KEY = 'AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY';
const MAILGUN_KEY = 'key-3ax6xnjp29jd6fds4gc373sgvjxteol0';

describe('isSecretKey', () => {
  it('recognises credential-named keys in any spelling', () => {
    for (const key of ['apiKey', 'api_key', 'key', 'authorization', 'Authorization', 'password', 'token', 'secret', 'signingKey', 'MAILGUN_API_KEY', 'GEMINI_API_KEY', 'MAILGUN_WEBHOOK_SIGNING_KEY', 'x-goog-api-key', 'accessToken', 'clientSecret', 'cookie']) {
      assert.equal(isSecretKey(key), true, key);
    }
  });

  it('leaves ordinary keys alone, including token counts', () => {
    for (const key of ['jobId', 'status', 'promptTokenCount', 'maxOutputTokens', 'idempotencyKey', 'messageId', 'keys', 'operation']) {
      assert.equal(isSecretKey(key), false, key);
    }
  });
});

describe('redactString', () => {
  it('cuts known secret values out wherever they appear, including URL-encoded', () => {
    const secret = 'p@ss/w0rd+long';
    const out = redactString(`first ${secret} then ${encodeURIComponent(secret)} end`, [secret]);
    assert.equal(out, `first ${REDACTED} then ${REDACTED} end`);
  });

  it('removes a longer secret whole when it contains a shorter one', () => {
    assert.equal(redactString('x abcdefgh-12345 y', ['abcdefgh', 'abcdefgh-12345']), `x ${REDACTED} y`);
  });

  it('ignores secrets shorter than 4 characters instead of mangling text', () => {
    assert.equal(redactString('abc abc', ['abc', '']), 'abc abc');
  });

  it('redacts Basic and Bearer credentials', () => {
    const basic = Buffer.from(`api:${MAILGUN_KEY}`).toString('base64');
    assert.equal(redactString(`Authorization: Basic ${basic}`), `Authorization: Basic ${REDACTED}`);
    assert.equal(redactString('sent Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig ok'), `sent Bearer ${REDACTED} ok`);
  });

  it('redacts key= query parameters in URLs', () => {
    const url = `https://generativelanguage.googleapis.com/v1beta/models/m:streamGenerateContent?alt=sse&key=${GEMINI_KEY}`;
    assert.equal(redactString(`GET ${url} failed`), `GET https://generativelanguage.googleapis.com/v1beta/models/m:streamGenerateContent?alt=sse&key=${REDACTED} failed`);
  });

  it('redacts passwords in URL userinfo', () => {
    assert.equal(redactString(`https://api:${MAILGUN_KEY}@api.mailgun.net/v3`), `https://api:${REDACTED}@api.mailgun.net/v3`);
  });

  it('redacts key/value pairs in text and serialized JSON bodies', () => {
    assert.equal(redactString('config apiKey=abc123xyz loaded'), `config apiKey=${REDACTED} loaded`);
    assert.equal(redactString('{"password":"hunter22","user":"bob"}'), `{"password":"${REDACTED}","user":"bob"}`);
    assert.equal(redactString('x-goog-api-key: abcdef123'), `x-goog-api-key: ${REDACTED}`);
  });

  it('redacts Google API keys by their shape even when not configured', () => {
    assert.equal(redactString(`leaked ${GEMINI_KEY}.`), `leaked ${REDACTED}.`);
  });

  it('leaves ordinary log text unchanged', () => {
    const line = 'Retrying gemini.stream after 503 in 5234ms (attempt 1 of 5); 120 tokens used';
    assert.equal(redactString(line, [MAILGUN_KEY]), line);
  });
});

describe('redactValue', () => {
  it('replaces secret-named keys at any depth and secret values in strings', () => {
    const input = {
      jobId: 'j1',
      apiKey: 'whatever',
      nested: { headers: { Authorization: 'Basic abc', 'x-goog-api-key': GEMINI_KEY, accept: 'json' }, list: [{ token: 't' }, `uses ${MAILGUN_KEY}`] },
      MAILGUN_API_KEY: MAILGUN_KEY,
    };
    assert.deepEqual(redactValue(input, [MAILGUN_KEY]), {
      jobId: 'j1',
      apiKey: REDACTED,
      nested: { headers: { Authorization: REDACTED, 'x-goog-api-key': REDACTED, accept: 'json' }, list: [{ token: REDACTED }, `uses ${REDACTED}`] },
      MAILGUN_API_KEY: REDACTED,
    });
  });

  it('does not mutate the caller’s objects', () => {
    const input = { apiKey: 'k', deep: { password: 'p', text: `with ${MAILGUN_KEY}` }, list: [MAILGUN_KEY] };
    const before = structuredClone(input);
    redactValue(input, [MAILGUN_KEY]);
    assert.deepEqual(input, before);
  });

  it('survives cycles and keeps repeated (non-cyclic) references', () => {
    const shared = { a: 1 };
    const input: Record<string, unknown> = { one: shared, two: shared };
    input.self = input;
    assert.deepEqual(redactValue(input), { one: { a: 1 }, two: { a: 1 }, self: '[Circular]' });
  });

  it('serializes errors with code and flag, redacts their messages, and drops the stack unless asked', () => {
    const error = retryable(ErrorCodes.UPSTREAM_HTTP, `mailgun: HTTP 503 for key ${MAILGUN_KEY}`, { status: 503 });
    const plain = redactValue({ err: error }, [MAILGUN_KEY]) as { err: Record<string, unknown> };
    assert.deepEqual(plain.err, { name: 'WorkerError', code: 'EW_ERR_UPSTREAM_HTTP', retryable: true, message: `mailgun: HTTP 503 for key ${REDACTED}`, status: 503 });
    const withStack = redactValue(new TypeError('bad'), [], { includeStack: true }) as Record<string, unknown>;
    assert.equal(withStack.name, 'TypeError');
    assert.match(String(withStack.stack), /TypeError: bad/);
  });

  it('serializes a plain error’s code, status and cause', () => {
    const error = Object.assign(new Error('socket hang up', { cause: new Error('ECONNRESET') }), { code: 'ECONNRESET', status: 502 });
    assert.deepEqual(redactValue(error), { name: 'Error', message: 'socket hang up', code: 'ECONNRESET', status: 502, cause: 'Error: ECONNRESET' });
  });

  it('turns Maps, Sets, Dates, URLs, Headers and buffers into loggable values', () => {
    const headers = new Headers({ authorization: 'Bearer abcdefghijk', 'content-type': 'text/plain' });
    const out = redactValue({
      map: new Map<string, unknown>([['apiKey', 'k'], ['n', 1]]),
      set: new Set([1, 2]),
      at: new Date(0),
      url: new URL(`https://x.test/?key=${GEMINI_KEY}`),
      headers,
      body: Buffer.from('hello'),
      big: 10n,
    });
    assert.deepEqual(out, {
      map: { apiKey: REDACTED, n: 1 },
      set: [1, 2],
      at: '1970-01-01T00:00:00.000Z',
      url: `https://x.test/?key=${REDACTED}`,
      headers: { authorization: REDACTED, 'content-type': 'text/plain' },
      body: '[Buffer 5 bytes]',
      big: '10',
    });
  });
});

describe('envSecrets', () => {
  it('reads the three secret variables and skips unset ones', () => {
    assert.deepEqual(envSecrets({ GEMINI_API_KEY: 'g-secret', MAILGUN_API_KEY: '', MAILGUN_WEBHOOK_SIGNING_KEY: 'sign-secret', OTHER: 'x' }), ['g-secret', 'sign-secret']);
  });
});
