import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { signMailgun, verifyMailgunSignature } from './signature.ts';

const KEY = 'key-0123456789abcdef0123456789abcdef';
const now = Date.UTC(2026, 11, 1, 12, 0, 0);
const ts = String(now / 1000);
const token = 'a'.repeat(50);

test('signMailgun is the hex HMAC-SHA256 of timestamp + token (Mailgun documentation)', () => {
  assert.equal(signMailgun(KEY, ts, token), createHmac('sha256', KEY).update(ts + token).digest('hex'));
});

test('a correctly signed, fresh post verifies', () => {
  assert.deepEqual(verifyMailgunSignature({ timestamp: ts, token, signature: signMailgun(KEY, ts, token) }, KEY, now), { ok: true, timestampMs: now });
});

test('a signature made with another key, or for another token, is a mismatch', () => {
  assert.deepEqual(verifyMailgunSignature({ timestamp: ts, token, signature: signMailgun('other-key', ts, token) }, KEY, now), { ok: false, reason: 'mismatch' });
  assert.deepEqual(verifyMailgunSignature({ timestamp: ts, token: 'b'.repeat(50), signature: signMailgun(KEY, ts, token) }, KEY, now), { ok: false, reason: 'mismatch' });
});

test('missing or non-numeric fields are refused before any HMAC', () => {
  assert.equal(verifyMailgunSignature({ timestamp: ts, token }, KEY, now).ok, false);
  assert.deepEqual(verifyMailgunSignature({ timestamp: 'yesterday', token, signature: 'f'.repeat(64) }, KEY, now), { ok: false, reason: 'malformed' });
  assert.deepEqual(verifyMailgunSignature({ timestamp: ts, token, signature: 'xyz' }, KEY, now), { ok: false, reason: 'malformed' });
});

test('timestamps older than 15 minutes are stale, those from the future are refused', () => {
  const old = String(now / 1000 - 15 * 60 - 1);
  assert.deepEqual(verifyMailgunSignature({ timestamp: old, token, signature: signMailgun(KEY, old, token) }, KEY, now), { ok: false, reason: 'stale' });
  const edge = String(now / 1000 - 15 * 60);
  assert.equal(verifyMailgunSignature({ timestamp: edge, token, signature: signMailgun(KEY, edge, token) }, KEY, now).ok, true);
  const future = String(now / 1000 + 600);
  assert.deepEqual(verifyMailgunSignature({ timestamp: future, token, signature: signMailgun(KEY, future, token) }, KEY, now), { ok: false, reason: 'future' });
});

test('without a signing key nothing verifies', () => {
  assert.deepEqual(verifyMailgunSignature({ timestamp: ts, token, signature: signMailgun(KEY, ts, token) }, undefined, now), { ok: false, reason: 'no-key' });
});
