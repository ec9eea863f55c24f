import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import express from 'express';
import { createLogger } from '../observability/logger.ts';
import { requestLog } from './request-log.ts';

function captureLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ env: {}, level: 'debug', stream }), lines };
}

async function serve(app: express.Express, fn: (url: string) => Promise<void>) {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as { port: number };
  try {
    await fn(`http://127.0.0.1:${port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

const nextTick = () => new Promise((r) => setImmediate(r));

describe('requestLog', () => {
  it('logs each request with Cloud Logging httpRequest fields and the trace, without the query string', async () => {
    const { logger, lines } = captureLogger();
    const app = express();
    app.use(requestLog({ logger, projectId: 'p1' }));
    app.post('/inbound/mailgun', (_req, res) => void res.status(406).send('no'));
    await serve(app, async (url) => {
      const res = await fetch(`${url}/inbound/mailgun?token=secret`, {
        method: 'POST',
        body: 'abc',
        headers: { 'user-agent': 'mailgun', 'x-cloud-trace-context': '105445aa7843bc8bf206b12000100000/123;o=1' },
      });
      await res.text();
    });
    await nextTick();
    assert.equal(lines.length, 1);
    const line = lines[0]!;
    const http = line.httpRequest as Record<string, unknown>;
    assert.equal(line.severity, 'WARNING', 'a 4xx is a warning');
    assert.equal(http.requestMethod, 'POST');
    assert.equal(http.requestUrl, '/inbound/mailgun');
    assert.equal(http.status, 406);
    assert.equal(http.requestSize, '3');
    assert.equal(http.responseSize, '2');
    assert.equal(http.userAgent, 'mailgun');
    assert.match(String(http.latency), /^\d+\.\d{6}s$/);
    assert.equal(line['logging.googleapis.com/trace'], 'projects/p1/traces/105445aa7843bc8bf206b12000100000');
    assert.equal(line['logging.googleapis.com/spanId'], '000000000000007b');
    assert.doesNotMatch(JSON.stringify(line), /secret/);
  });

  it('logs probes at debug so they stay out of an info-level log', async () => {
    const { logger, lines } = captureLogger();
    const app = express();
    app.use(requestLog({ logger }));
    app.get('/readyz', (_req, res) => void res.json({ status: 'ready' }));
    await serve(app, async (url) => void (await (await fetch(`${url}/readyz`)).text()));
    await nextTick();
    assert.equal(lines[0]!.severity, 'DEBUG');
  });
});
