import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lazy } from './lazy.ts';

test('lazy loads once and shares the result between concurrent callers', async () => {
  let loads = 0;
  const get = lazy(async () => ({ n: ++loads }));
  assert.equal(loads, 0, 'nothing is loaded before the first call');
  const [a, b] = await Promise.all([get(), get()]);
  assert.equal(a, b);
  assert.equal(loads, 1);
});

test('lazy retries a load that failed instead of caching the failure', async () => {
  let calls = 0;
  const get = lazy(async () => {
    calls++;
    if (calls === 1) throw new Error('first load fails');
    return 'ok';
  });
  await assert.rejects(get(), /first load fails/);
  assert.equal(await get(), 'ok');
  assert.equal(calls, 2);
});
