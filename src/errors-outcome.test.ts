import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deliveryOutcome, httpStatusForError } from './errors-outcome.ts';
import { ErrorCodes, permanent, retryable } from './errors.ts';

describe('transport outcomes', () => {
  it('acknowledges finished, failed and duplicate jobs', () => {
    for (const status of ['replied', 'duplicate'] as const) assert.equal(deliveryOutcome({ status }).pubsub, 'ack');
    assert.equal(deliveryOutcome({ status: 'failed-replied', code: ErrorCodes.GEMINI_BLOCKED }).pubsub, 'ack');
    assert.equal(deliveryOutcome({ status: 'failed-silent', code: ErrorCodes.JOB_INVALID }).pubsub, 'ack');
  });

  it('nacks busy and retry-later deliveries and answers push with non-2xx', () => {
    assert.deepEqual(deliveryOutcome({ status: 'busy' }), { pubsub: 'nack', http: 409 });
    assert.deepEqual(deliveryOutcome({ status: 'retry-later', code: ErrorCodes.NETWORK }), { pubsub: 'nack', http: 503 });
  });

  it('maps error codes to HTTP statuses, retryable unknowns to 503', () => {
    assert.equal(httpStatusForError(permanent(ErrorCodes.JOB_INVALID, 'x')), 400);
    assert.equal(httpStatusForError(retryable(ErrorCodes.DEADLINE_EXCEEDED, 'x')), 504);
    assert.equal(httpStatusForError(retryable(ErrorCodes.EXPORT_FAILED, 'x')), 503);
    assert.equal(httpStatusForError(new Error('plain')), 500);
  });
});
