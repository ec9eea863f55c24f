import assert from 'node:assert/strict';
import { isWorkerError, type WorkerError } from '../../src/errors.ts';

/** Awaits `promise`, asserts it rejects with a WorkerError, and returns that error. */
export async function rejection(promise: Promise<unknown>): Promise<WorkerError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isWorkerError(error), `expected a WorkerError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a rejection');
}
