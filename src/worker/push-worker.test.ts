/** The push route on a real loopback server, with the real verifier (locally signed tokens). */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { createHttpApp } from '../http/server.ts';
import { createLogger } from '../observability/logger.ts';
import type { JobResult } from '../errors-outcome.ts';
import { createPushWorker, type DeliveredMessage, type PushWorker } from './push-worker.ts';
import { createPushVerifier } from './push-auth.ts';
import { createTestSigner } from '../../test/helpers/oidc.ts';

const audience = 'https://worker.example/pubsub/push';
const email = 'push@demo.iam.gserviceaccount.com';
const signer = createTestSigner({ audience, email });

interface Harness {
  url: string;
  worker: PushWorker;
  calls: DeliveredMessage[];
  logs: Array<Record<string, unknown>>;
  malformed: string[];
  close(): Promise<void>;
}

async function harness(options: { auth?: boolean; handle?: (m: DeliveredMessage, signal: AbortSignal) => Promise<JobResult> } = {}): Promise<Harness> {
  const calls: DeliveredMessage[] = [];
  const logs: Array<Record<string, unknown>> = [];
  const malformed: string[] = [];
  const logger = createLogger({ level: 'debug', stream: new Writable({ write(c: Buffer, _e, done) { for (const l of c.toString().split('\n')) if (l.trim()) logs.push(JSON.parse(l) as Record<string, unknown>); done(); } }) });
  const worker = createPushWorker({
    handle: async (m, signal) => {
      calls.push(m);
      return options.handle ? options.handle(m, signal) : { status: 'replied' };
    },
    ...(options.auth ? { verify: createPushVerifier({ audience, serviceAccount: email, certs: async () => signer.certs }) } : {}),
    onMalformed: (reason) => malformed.push(reason),
    logger,
  });
  const app = createHttpApp({ registry: new Registry(), readinessChecks: {}, routers: [worker.router] });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/pubsub/push`;
  return {
    url,
    worker,
    calls,
    logs,
    malformed,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

const envelope = (data: unknown, extra: Record<string, unknown> = {}) => ({
  subscription: 'projects/demo/subscriptions/push',
  message: { data: Buffer.from(JSON.stringify(data)).toString('base64'), messageId: '42', attributes: { context: 'email' } },
  ...extra,
});
const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('push worker route', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('decodes the envelope, hands the job over and answers 204 when it is finished', async () => {
    h = await harness();
    const res = await post(h.url, envelope({ version: 1 }, { deliveryAttempt: 3 }));
    assert.equal(res.status, 204);
    assert.equal(h.calls.length, 1);
    assert.deepEqual(JSON.parse(h.calls[0]!.data.toString()), { version: 1 });
    assert.equal(h.calls[0]!.id, '42');
    assert.equal(h.calls[0]!.deliveryAttempt, 3);
    assert.deepEqual(h.calls[0]!.attributes, { context: 'email' });
  });

  it('answers a delivery of a running job with 409 and one to retry later with 503', async () => {
    const results: JobResult[] = [{ status: 'busy' }, { status: 'retry-later', code: 'EW_ERR_UPSTREAM_HTTP' }];
    h = await harness({ handle: async () => results.shift()! });
    assert.equal((await post(h.url, envelope({}))).status, 409);
    assert.equal((await post(h.url, envelope({}))).status, 503);
  });

  for (const [name, body] of [
    ['a body that is not JSON', '{"message": '],
    ['an envelope without message', { subscription: 's' }],
    ['data that is not base64', { message: { data: '***not base64***', messageId: '7' } }],
  ] as const) {
    it(`acknowledges ${name} with 204, records it and runs nothing`, async () => {
      h = await harness();
      const res = await post(h.url, body);
      assert.equal(res.status, 204);
      assert.equal(h.calls.length, 0);
      assert.equal(h.malformed.length, 1);
      assert.ok(h.logs.some((l) => l.message === 'Malformed push acknowledged and not processed'));
    });
  }

  it('with auth required, refuses a push without a valid token with 401 before reading or running it', async () => {
    h = await harness({ auth: true });
    assert.equal((await post(h.url, envelope({}))).status, 401);
    assert.equal((await post(h.url, envelope({}), { authorization: `Bearer ${signer.token({ aud: 'https://other/' })}` })).status, 401);
    assert.equal((await post(h.url, 'not json', { authorization: 'Bearer x' })).status, 401, 'auth comes before the body');
    assert.equal(h.calls.length, 0);
    assert.equal((await post(h.url, envelope({}), { authorization: `Bearer ${signer.token()}` })).status, 204);
    assert.equal(h.calls.length, 1);
  });

  it('on shutdown refuses new pushes with 503, and interrupts a job still running after the grace period', async () => {
    let sawAbort = false;
    h = await harness({
      handle: (_m, signal) =>
        new Promise<JobResult>((resolve) => {
          signal.addEventListener('abort', () => {
            sawAbort = true;
            resolve({ status: 'retry-later', code: 'EW_ERR_SHUTTING_DOWN' });
          });
        }),
    });
    const running = post(h.url, envelope({}));
    while (h.worker.inFlight === 0) await new Promise((r) => setTimeout(r, 5));
    const stopped = h.worker.stop(50);
    assert.equal((await post(h.url, envelope({}))).status, 503, 'new push during the drain');
    await stopped;
    assert.equal((await running).status, 503, 'the interrupted job answers non-2xx so Pub/Sub redelivers it');
    assert.ok(sawAbort);
    assert.equal(h.calls.length, 1);
  });
});
