import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry, Counter } from 'prom-client';
import { startHttpServer } from './server.ts';

async function withServer(checks: Record<string, () => Promise<void>>, fn: (url: string) => Promise<void>) {
  const registry = new Registry();
  new Counter({ name: 'test_total', help: 'a test counter', registers: [registry] }).inc(3);
  const server = await startHttpServer({ port: 0, host: '127.0.0.1', registry, readinessChecks: checks, readinessTimeoutMs: 100 });
  try {
    await fn(server.url);
  } finally {
    await server.close();
  }
}

describe('HTTP surface', () => {
  it('answers /healthz without touching dependencies', async () => {
    await withServer({ pubsub: () => Promise.reject(new Error('down')) }, async (url) => {
      const res = await fetch(`${url}/healthz`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: 'ok' });
    });
  });

  it('reports ready only when every dependency answers', async () => {
    await withServer({ pubsub: async () => {}, ledger: async () => {} }, async (url) => {
      const res = await fetch(`${url}/readyz`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: 'ready', checks: { pubsub: 'ok', ledger: 'ok' } });
    });
  });

  it('answers 503 naming the failing and the hanging dependency', async () => {
    await withServer({ pubsub: () => Promise.reject(new Error('topic not found')), ledger: () => new Promise(() => {}) }, async (url) => {
      const res = await fetch(`${url}/readyz`);
      assert.equal(res.status, 503);
      const body = (await res.json()) as { checks: Record<string, string> };
      assert.equal(body.checks.pubsub, 'topic not found');
      assert.match(body.checks.ledger!, /no answer within 100ms/);
    });
  });

  it('serves Prometheus text on /metrics', async () => {
    await withServer({}, async (url) => {
      const res = await fetch(`${url}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
      assert.match(await res.text(), /^test_total 3$/m);
    });
  });
});
