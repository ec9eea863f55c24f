/**
 * One contract, two backends: the same tests run against the memory store and the Firestore store
 * on the emulator started by the global test setup (each run in its own Firestore project).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createIngressStore, type IngressStore } from './ingress-store.ts';
import { closeFirestoreClients } from './firestore-client.ts';

after(() => closeFirestoreClients());

for (const kind of ['memory', 'firestore'] as const) {
  describe(`IngressStore (${kind})`, () => {
    let clock = Date.UTC(2026, 11, 1, 10, 0, 0);
    const now = () => clock;
    const fresh = (): Promise<IngressStore> => createIngressStore(kind, { projectId: `demo-${randomUUID().slice(0, 8)}`, now });
    const hour = 3_600_000;

    test('createIfAbsent creates once; a second create of a live key is refused', async () => {
      const store = await fresh();
      assert.equal(await store.createIfAbsent('tokens', 'tok-1', { jobId: 'a' }, clock + hour), true);
      assert.equal(await store.createIfAbsent('tokens', 'tok-1', { jobId: 'b' }, clock + hour), false);
      assert.deepEqual((await store.get('tokens', 'tok-1'))?.value, { jobId: 'a' });
    });

    test('an expired record counts as absent and can be created again', async () => {
      const store = await fresh();
      await store.createIfAbsent('tokens', 'tok-2', {}, clock + 1000);
      clock += 1001;
      assert.equal(await store.get('tokens', 'tok-2'), undefined);
      assert.equal(await store.createIfAbsent('tokens', 'tok-2', { again: true }, clock + 1000), true);
    });

    test('keys with slashes and spaces are stored apart per space', async () => {
      const store = await fresh();
      assert.equal(await store.createIfAbsent('a', 'x/y z', { n: 1 }, clock + hour), true);
      assert.equal(await store.createIfAbsent('b', 'x/y z', { n: 2 }, clock + hour), true);
      assert.deepEqual((await store.get('a', 'x/y z'))?.value, { n: 1 });
      assert.deepEqual((await store.get('b', 'x/y z'))?.value, { n: 2 });
    });

    test('compareAndSet succeeds on the current version only and bumps it', async () => {
      const store = await fresh();
      await store.createIfAbsent('jobs', 'j', { state: 'queued' }, clock + hour);
      const r = await store.get('jobs', 'j');
      assert.equal(r?.version, 1);
      assert.equal(await store.compareAndSet('jobs', 'j', 1, { state: 'done' }, clock + hour), true);
      assert.equal(await store.compareAndSet('jobs', 'j', 1, { state: 'lost-update' }, clock + hour), false);
      assert.deepEqual(await store.get('jobs', 'j'), { value: { state: 'done' }, version: 2, expiresAt: clock + hour });
      assert.equal(await store.compareAndSet('jobs', 'missing', 1, {}, clock + hour), false);
    });

    test('concurrent compareAndSet on one version: exactly one wins', async () => {
      const store = await fresh();
      await store.createIfAbsent('jobs', 'race', { n: 0 }, clock + hour);
      const results = await Promise.all([1, 2, 3, 4].map((n) => store.compareAndSet('jobs', 'race', 1, { n }, clock + hour)));
      assert.equal(results.filter(Boolean).length, 1);
    });

    test('concurrent createIfAbsent of one key: exactly one wins', async () => {
      const store = await fresh();
      const results = await Promise.all([1, 2, 3, 4, 5].map((n) => store.createIfAbsent('tokens', 'same', { n }, clock + hour)));
      assert.equal(results.filter(Boolean).length, 1);
    });

    test('delete removes a record so it can be created again', async () => {
      const store = await fresh();
      await store.createIfAbsent('tokens', 'd', {}, clock + hour);
      await store.delete('tokens', 'd');
      assert.equal(await store.get('tokens', 'd'), undefined);
      assert.equal(await store.createIfAbsent('tokens', 'd', {}, clock + hour), true);
    });

    test('countOnce counts each member once and refuses new members beyond the limit', async () => {
      const store = await fresh();
      assert.deepEqual(await store.countOnce('sender:a', 'job1', 2, hour), { allowed: true, count: 1, repeated: false });
      assert.deepEqual(await store.countOnce('sender:a', 'job1', 2, hour), { allowed: true, count: 1, repeated: true });
      assert.deepEqual(await store.countOnce('sender:a', 'job2', 2, hour), { allowed: true, count: 2, repeated: false });
      assert.deepEqual(await store.countOnce('sender:a', 'job3', 2, hour), { allowed: false, count: 2, repeated: false });
      // A refused member was not counted, and a counted one stays allowed.
      assert.deepEqual(await store.countOnce('sender:a', 'job3', 2, hour), { allowed: false, count: 2, repeated: false });
      assert.equal((await store.countOnce('sender:a', 'job2', 2, hour)).allowed, true);
      assert.equal((await store.countOnce('sender:b', 'job3', 2, hour)).allowed, true);
    });

    test('countOnce starts over in the next window', async () => {
      const store = await fresh();
      clock = Math.ceil(clock / hour) * hour;
      await store.countOnce('thread:t', 'j1', 1, hour);
      assert.equal((await store.countOnce('thread:t', 'j2', 1, hour)).allowed, false);
      clock += hour;
      assert.deepEqual(await store.countOnce('thread:t', 'j2', 1, hour), { allowed: true, count: 1, repeated: false });
    });

    test('concurrent countOnce never exceeds the limit', async () => {
      const store = await fresh();
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.countOnce('global', `job${i}`, 3, hour)));
      assert.equal(results.filter((r) => r.allowed).length, 3);
    });

    test('ping answers when the backend is reachable', async () => {
      const store = await fresh();
      await store.ping();
    });
  });
}

test('memory store: stays bounded under a flood of live records, dropping the oldest first', async () => {
  const { createMemoryIngressStore } = await import('./ingress-store-memory.ts');
  const store = createMemoryIngressStore({ maxRecords: 100 });
  const far = Date.now() + 3_600_000;
  for (let i = 0; i < 1000; i++) await store.createIfAbsent('tokens', `t${i}`, {}, far);
  let live = 0;
  for (let i = 0; i < 1000; i++) if (await store.get('tokens', `t${i}`)) live++;
  assert.ok(live <= 100 && live >= 90, `${live} live records`);
  assert.equal(await store.get('tokens', 't0'), undefined, 'the oldest went first');
  assert.ok(await store.get('tokens', 't999'), 'the newest stays');
});
