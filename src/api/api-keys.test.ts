import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bearerToken, findApiKey, hashApiKey, parseApiKeys } from './api-keys.ts';
import { checkCallbackUrl } from './callback.ts';

test('findApiKey maps a presented key to its tier through the sha256 digest', () => {
  const keys = parseApiKeys([`${hashApiKey('alpha')}:mid`, `${hashApiKey('beta')}:ENTERPRISE`]);
  assert.equal(findApiKey('alpha', keys)?.tier, 'mid');
  assert.equal(findApiKey('beta', keys)?.tier, 'enterprise');
  assert.equal(findApiKey('gamma', keys), undefined);
  assert.equal(findApiKey(hashApiKey('alpha'), keys), undefined, 'the digest is not a key');
  assert.equal(findApiKey('alpha', keys)?.id, hashApiKey('alpha').slice(0, 8));
});

test('bearerToken reads only the Bearer scheme', () => {
  assert.equal(bearerToken('Bearer abc'), 'abc');
  assert.equal(bearerToken('bearer   abc  '), 'abc');
  assert.equal(bearerToken('Basic abc'), undefined);
  assert.equal(bearerToken(undefined), undefined);
});

test('callback URLs: https only, http only for local runs, never credentials or link-local addresses', () => {
  assert.equal(checkCallbackUrl('https://hooks.example.com/x', false), undefined);
  assert.match(String(checkCallbackUrl('http://hooks.example.com/x', false)), /https/);
  assert.equal(checkCallbackUrl('http://127.0.0.1:8080/x', true), undefined);
  assert.match(String(checkCallbackUrl('https://127.0.0.1/x', false)), /refused/);
  assert.match(String(checkCallbackUrl('http://169.254.169.254/latest', true)), /refused/);
  assert.match(String(checkCallbackUrl('https://user:pw@hooks.example.com/', false)), /credentials/);
  assert.match(String(checkCallbackUrl('not a url', false)), /not a URL/);
  assert.equal(checkCallbackUrl('https://cafe.be/hook', false), undefined, 'a host name made of hex letters is a name, not an address');
  assert.match(String(checkCallbackUrl('https://[::1]/x', false)), /refused/);
});
