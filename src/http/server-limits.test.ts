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

test('a client that stalls mid-request is answered 408 after the request timeout', async () => {
  const { startHttpServer } = await import('./server.ts');
  const { connect } = await import('node:net');
  const http = await startHttpServer({ port: 0, host: '127.0.0.1', registry: new Registry(), readinessChecks: {}, requestTimeoutMs: 300 });
  try {
    const port = Number(new URL(http.url).port);
    const socket = connect(port, '127.0.0.1');
    socket.write('POST /inbound/mailgun HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nabc');
    const started = Date.now();
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.on('close', () => resolve(text));
    });
    assert.match(answer, /^HTTP\/1\.1 408/);
    assert.ok(Date.now() - started < 5000, 'closed long before Node’s 300 s default');
  } finally {
    await http.close();
  }
});
