import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createServer, type Server } from 'node:http';
import express, { Router } from 'express';
import { lazyRouter } from './lazy-router.ts';

describe('lazyRouter', () => {
  let server: Server;
  let url: string;
  let loads = 0;
  let failNext = false;

  before(async () => {
    const app = express();
    app.use(
      lazyRouter({
        name: 'Test feature',
        prefixes: ['/feature/'],
        load: async () => {
          loads++;
          if (failNext) {
            failNext = false;
            throw new Error('module missing');
          }
          return Router().get('/feature/hello', (_req, res) => void res.json({ hello: 'world' }));
        },
      }),
    );
    app.get('/readyz', (_req, res) => void res.json({ status: 'ready' }));
    server = createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('does not load the feature for requests outside its prefixes', async () => {
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    assert.equal((await fetch(`${url}/other`)).status, 404);
    assert.equal(loads, 0);
  });

  it('answers 503 with EW_ERR_FEATURE_UNAVAILABLE when the load fails, and loads again on the next request', async () => {
    failNext = true;
    const failed = await fetch(`${url}/feature/hello`);
    assert.equal(failed.status, 503);
    const body = (await failed.json()) as { error: string; message: string };
    assert.equal(body.error, 'EW_ERR_FEATURE_UNAVAILABLE');
    assert.match(body.message, /Test feature is unavailable/);
    const ok = await fetch(`${url}/feature/hello`);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { hello: 'world' });
    assert.equal(loads, 2);
  });

  it('loads once and then serves every request, passing on what it does not route', async () => {
    const before = loads;
    const [a, b] = await Promise.all([fetch(`${url}/feature/hello`), fetch(`${url}/feature/hello`)]);
    assert.deepEqual([a.status, b.status], [200, 200]);
    assert.equal((await fetch(`${url}/feature/unknown`)).status, 404, 'unrouted paths fall through to the next handler');
    assert.equal(loads, before, 'already loaded');
  });
});
