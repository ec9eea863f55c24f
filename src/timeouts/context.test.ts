import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isWorkerError } from '../errors.ts';
import { detectRequestContext, isTruthyEnv } from './context.ts';

const emailMode = { EMAIL_PROCESSING_MODE: 'true' };

function assertInvalid(fn: () => unknown, source: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isWorkerError(error));
    assert.equal(error.code, 'EW_ERR_INVALID_ARGUMENT');
    assert.equal(error.retryable, false);
    assert.match(error.message, source);
    return true;
  });
}

describe('detectRequestContext precedence', () => {
  it('defaults to ui with no hints', () => {
    assert.equal(detectRequestContext({ env: {} }), 'ui');
  });

  it('uses the explicit argument over the job field', () => {
    assert.equal(detectRequestContext({ explicit: 'api', job: { context: 'ui', kind: 'email' }, env: {} }), 'api');
  });

  it('uses the job field over the Pub/Sub attribute and the header', () => {
    assert.equal(
      detectRequestContext({ job: { context: 'api' }, attributes: { context: 'ui' }, headers: { 'x-request-context': 'email' }, env: {} }),
      'api',
    );
  });

  it('uses the Pub/Sub attribute over the header', () => {
    assert.equal(detectRequestContext({ attributes: { context: 'api' }, headers: { 'x-request-context': 'ui' }, env: {} }), 'api');
  });

  it('uses the X-Request-Context header over EMAIL_PROCESSING_MODE', () => {
    assert.equal(detectRequestContext({ headers: { 'X-Request-Context': 'ui' }, env: emailMode }), 'ui');
  });

  it('uses EMAIL_PROCESSING_MODE over the job kind', () => {
    assert.equal(detectRequestContext({ job: { kind: 'api' }, env: emailMode }), 'email');
  });

  it('uses the job kind over the ui default', () => {
    assert.equal(detectRequestContext({ job: { kind: 'api' }, env: {} }), 'api');
    assert.equal(detectRequestContext({ job: { kind: 'email' }, env: {} }), 'email');
  });

  it('reads the header name in any case and takes the first of repeated values', () => {
    assert.equal(detectRequestContext({ headers: { 'X-REQUEST-CONTEXT': 'api' }, env: {} }), 'api');
    assert.equal(detectRequestContext({ headers: { 'x-request-context': ['email', 'ui'] }, env: {} }), 'email');
  });

  it('accepts values in any case and ignores blank ones', () => {
    assert.equal(detectRequestContext({ explicit: ' EMAIL ', env: {} }), 'email');
    assert.equal(detectRequestContext({ explicit: '', job: { context: '' }, attributes: { context: ' ' }, env: emailMode }), 'email');
  });

  it('reads process.env when no env is given', () => {
    const saved = process.env.EMAIL_PROCESSING_MODE;
    process.env.EMAIL_PROCESSING_MODE = 'on';
    try {
      assert.equal(detectRequestContext(), 'email');
    } finally {
      if (saved === undefined) delete process.env.EMAIL_PROCESSING_MODE;
      else process.env.EMAIL_PROCESSING_MODE = saved;
    }
  });
});

describe('detectRequestContext invalid values', () => {
  it('throws naming the explicit argument', () => {
    assertInvalid(() => detectRequestContext({ explicit: 'batch', env: {} }), /"batch" from the explicit argument/);
  });

  it('throws naming the job field, even when a lower level would match', () => {
    assertInvalid(() => detectRequestContext({ job: { context: 'batch', kind: 'email' }, env: emailMode }), /"batch" from the job field `context`/);
  });

  it('throws naming the Pub/Sub attribute', () => {
    assertInvalid(() => detectRequestContext({ attributes: { context: 'emial' }, env: {} }), /"emial" from the Pub\/Sub attribute `context`/);
  });

  it('throws naming the header', () => {
    assertInvalid(() => detectRequestContext({ headers: { 'x-request-context': 'fast' }, env: {} }), /"fast" from the X-Request-Context header/);
  });

  it('throws naming the job kind', () => {
    assertInvalid(() => detectRequestContext({ job: { kind: 'fax' }, env: {} }), /job kind "fax"/);
  });

  it('does not look at lower levels once a higher one matched', () => {
    assert.equal(detectRequestContext({ explicit: 'ui', headers: { 'x-request-context': 'bogus' }, job: { kind: 'fax' }, env: {} }), 'ui');
  });
});

describe('isTruthyEnv', () => {
  it('accepts 1, true, yes, on in any case', () => {
    for (const v of ['1', 'true', 'TRUE', 'Yes', 'on', 'ON', ' true ']) assert.equal(isTruthyEnv(v), true, v);
  });

  it('rejects everything else', () => {
    for (const v of [undefined, '', '0', 'false', 'no', 'off', 'enabled', '2']) assert.equal(isTruthyEnv(v), false, String(v));
  });
});
