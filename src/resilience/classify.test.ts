import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { GoogleGenAI } from '@google/genai';
import { ErrorCodes, permanent, retryable } from '../errors.ts';
import { classifyError, isRetryableStatus, networkErrorCode, statusOf } from './classify.ts';

/** Runs `handler` for every request on a loopback server; returns its base URL and a close(). */
async function loopback(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server; close: () => Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on: bind one, then close it. */
async function closedPort(): Promise<number> {
  const { url, close } = await loopback(() => {});
  await close();
  return Number(new URL(url).port);
}

async function thrown(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected a rejection');
}

describe('isRetryableStatus', () => {
  it('retries 408, 429 and 5xx gateway/overload statuses only', () => {
    for (const status of [408, 429, 500, 502, 503, 504]) assert.equal(isRetryableStatus(status), true, String(status));
    for (const status of [400, 401, 403, 404, 409, 413, 422, 501, 505]) assert.equal(isRetryableStatus(status), false, String(status));
  });
});

describe('statusOf', () => {
  it('reads status or statusCode within 100–599', () => {
    assert.equal(statusOf({ status: 503 }), 503);
    assert.equal(statusOf({ statusCode: 429 }), 429);
    assert.equal(statusOf({ status: 42 }), undefined);
    assert.equal(statusOf({ status: '503' }), undefined);
    assert.equal(statusOf('503'), undefined);
    assert.equal(statusOf(null), undefined);
  });
});

describe('networkErrorCode', () => {
  it('finds a socket code anywhere in the cause chain', () => {
    const deep = new Error('outer', { cause: new Error('middle', { cause: Object.assign(new Error('inner'), { code: 'ECONNRESET' }) }) });
    assert.equal(networkErrorCode(deep), 'ECONNRESET');
  });

  it('reads undici’s "terminated" and a bare "fetch failed" as socket failures', () => {
    assert.equal(networkErrorCode(new TypeError('terminated')), 'UND_ERR_SOCKET');
    assert.equal(networkErrorCode(new TypeError('fetch failed')), 'ECONNRESET');
  });

  it('ignores codes that say nothing about the network', () => {
    assert.equal(networkErrorCode(Object.assign(new Error('x'), { code: 'ENOENT' })), undefined);
    assert.equal(networkErrorCode(new TypeError('x is not a function')), undefined);
  });
});

describe('classifyError', () => {
  it('keeps our own errors and their flag', () => {
    const ours = permanent(ErrorCodes.JOB_INVALID, 'bad job');
    assert.equal(classifyError(ours, 'op'), ours);
    const again = retryable(ErrorCodes.TIMEOUT, 'slow');
    assert.equal(classifyError(again, 'op'), again);
  });

  it('makes retryable statuses retryable EW_ERR_UPSTREAM_HTTP, and other 4xx permanent', () => {
    const busy = classifyError({ status: 503, message: 'unavailable' }, 'gemini.generate');
    assert.equal(busy.code, ErrorCodes.UPSTREAM_HTTP);
    assert.equal(busy.retryable, true);
    assert.equal(busy.status, 503);
    assert.equal(busy.message, 'gemini.generate: HTTP 503');
    const bad = classifyError({ status: 400 }, 'gemini.generate');
    assert.equal(bad.retryable, false);
    assert.equal(bad.status, 400);
  });

  it('makes programmer errors and unknown values permanent', () => {
    const typeError = classifyError(new TypeError('cannot read properties of undefined'), 'export');
    assert.equal(typeError.code, ErrorCodes.INVALID_ARGUMENT);
    assert.equal(typeError.retryable, false);
    assert.equal(typeError.message, 'export: cannot read properties of undefined');
    assert.equal(classifyError('a string', 'export').retryable, false);
  });

  describe('on real failures from loopback servers', () => {
    let port: number;
    before(async () => {
      port = await closedPort();
    });

    it('classifies a refused connection (undici.request) as a retryable EW_ERR_NETWORK', async () => {
      const error = classifyError(await thrown(request(`http://127.0.0.1:${port}/`)), 'attachment.download');
      assert.equal(error.code, ErrorCodes.NETWORK);
      assert.equal(error.retryable, true);
      assert.equal(error.details.networkCode, 'ECONNREFUSED');
    });

    it('classifies a refused fetch ("fetch failed" with the socket error as cause) as retryable', async () => {
      const error = classifyError(await thrown(fetch(`http://127.0.0.1:${port}/`)), 'callback.post');
      assert.equal(error.code, ErrorCodes.NETWORK);
      assert.equal(error.details.networkCode, 'ECONNREFUSED');
    });

    it('classifies a body cut off mid-stream as retryable', async () => {
      const server = await loopback((_req, res) => {
        res.writeHead(200, { 'content-length': '1000' });
        res.write('partial');
        setTimeout(() => res.socket?.destroy(), 10);
      });
      try {
        const response = await fetch(`${server.url}/file`);
        const error = classifyError(await thrown(response.text()), 'attachment.download');
        assert.equal(error.retryable, true);
        assert.equal(error.code, ErrorCodes.NETWORK);
      } finally {
        await server.close();
      }
    });

    it('classifies undici’s headers timeout as retryable', async () => {
      const server = await loopback(() => {
        // never answers
      });
      const dispatcher = new Agent({ headersTimeout: 50 });
      try {
        const error = classifyError(await thrown(request(`${server.url}/slow`, { dispatcher })), 'attachment.download');
        assert.equal(error.retryable, true);
        assert.equal(error.details.networkCode, 'UND_ERR_HEADERS_TIMEOUT');
      } finally {
        await dispatcher.close();
        await server.close();
      }
    });
  });

  describe('on the genai SDK’s ApiError from a loopback Gemini API', () => {
    let server: Awaited<ReturnType<typeof loopback>>;
    let nextStatus = 503;
    after(() => server.close());
    before(async () => {
      server = await loopback((req, res) => {
        req.resume();
        res.writeHead(nextStatus, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: nextStatus, message: 'simulated', status: nextStatus === 503 ? 'UNAVAILABLE' : 'INVALID_ARGUMENT' } }));
      });
    });

    const call = () =>
      new GoogleGenAI({ apiKey: 'test-key-not-secret', httpOptions: { baseUrl: server.url } }).models.generateContent({ model: 'gemini-test', contents: 'hi' });

    it('retries a 503 and not a 400', async () => {
      nextStatus = 503;
      const unavailable = classifyError(await thrown(call()), 'gemini.generate');
      assert.equal(unavailable.retryable, true);
      assert.equal(unavailable.status, 503);
      nextStatus = 400;
      const invalid = classifyError(await thrown(call()), 'gemini.generate');
      assert.equal(invalid.retryable, false);
      assert.equal(invalid.status, 400);
    });
  });
});
