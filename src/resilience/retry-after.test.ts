import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseProtoDuration, parseRetryAfter, parseRetryInfo } from './retry-after.ts';

const NOW = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');

describe('parseRetryAfter', () => {
  it('reads delta-seconds as milliseconds', () => {
    assert.equal(parseRetryAfter('120'), 120_000);
    assert.equal(parseRetryAfter(' 0 '), 0);
  });

  it('reads an HTTP-date (all three RFC 9110 forms) as the time from now', () => {
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', NOW), 30_000);
    assert.equal(parseRetryAfter('Wednesday, 21-Oct-15 07:29:00 GMT', NOW), 60_000);
    assert.equal(parseRetryAfter('Wed Oct 21 07:28:05 2015', NOW), 5000);
  });

  it('treats a date in the past as no wait', () => {
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', NOW), 0);
  });

  it('ignores absent, empty and malformed values, including ones Date.parse would accept', () => {
    for (const value of [undefined, null, '', '   ', '-1', '1.5', 'soon', '5s', '1 2', 'Wed, 99 Foo 2015']) {
      assert.equal(parseRetryAfter(value, NOW), undefined, String(value));
    }
  });
});

describe('parseProtoDuration', () => {
  it('reads protobuf JSON durations', () => {
    assert.equal(parseProtoDuration('30s'), 30_000);
    assert.equal(parseProtoDuration('1.5s'), 1500);
    assert.equal(parseProtoDuration('0.000340012s'), 0);
  });

  it('reads the { seconds, nanos } form', () => {
    assert.equal(parseProtoDuration({ seconds: '7', nanos: 500_000_000 }), 7500);
  });

  it('rejects anything else', () => {
    for (const value of ['30', '-1s', 's', 30, null, undefined, { seconds: 'x' }]) assert.equal(parseProtoDuration(value), undefined, String(value));
  });
});

describe('parseRetryInfo', () => {
  const body = {
    error: {
      code: 429,
      message: 'Resource has been exhausted (e.g. check quota).',
      status: 'RESOURCE_EXHAUSTED',
      details: [
        { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [] },
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '23s' },
      ],
    },
  };

  it('finds RetryInfo.retryDelay in a parsed Google error body', () => {
    assert.equal(parseRetryInfo(body), 23_000);
  });

  it('finds it in the message of the genai SDK’s ApiError (the body as JSON text)', () => {
    assert.equal(parseRetryInfo(JSON.stringify(body)), 23_000);
    assert.equal(parseRetryInfo(`got status: 429 Too Many Requests. ${JSON.stringify(body)}`), 23_000);
  });

  it('falls back to a text search when the JSON is cut off', () => {
    assert.equal(parseRetryInfo('{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"4.5s"}'), 4500);
  });

  it('returns undefined when there is no RetryInfo', () => {
    assert.equal(parseRetryInfo({ error: { details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo' }] } }), undefined);
    assert.equal(parseRetryInfo({ error: { message: 'x' } }), undefined);
    assert.equal(parseRetryInfo('plain text'), undefined);
    assert.equal(parseRetryInfo(undefined), undefined);
  });
});
