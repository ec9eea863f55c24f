import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { Registry } from 'prom-client';
import { createHttpApp } from './server.ts';

async function serve(metricsToken?: string): Promise<{ url: string; server: Server }> {
  const app = createHttpApp({ registry: new Registry(), readinessChecks: {}, ...(metricsToken ? { metricsToken } : {}) });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

test('with METRICS_TOKEN, /metrics answers 401 without or with a wrong bearer token and 200 with it', async () => {
  const { url, server } = await serve('s3cret-token');
  try {
    assert.equal((await fetch(`${url}/metrics`)).status, 401);
    assert.equal((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
    assert.equal((await fetch(`${url}/metrics`, { headers: { authorization: 'Basic s3cret-token' } })).status, 401);
    assert.equal((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer s3cret-token' } })).status, 200);
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
  } finally {
    server.close();
  }
});

test('without METRICS_TOKEN, /metrics stays open (local runs)', async () => {
  const { url, server } = await serve();
  try {
    assert.equal((await fetch(`${url}/metrics`)).status, 200);
  } finally {
    server.close();
  }
});
