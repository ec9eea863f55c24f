/**
 * What ready means per mode (issue 9): pull mode is ready once it is subscribed and Pub/Sub and
 * the ledger answer; push mode once the ledger answers — it loads the Pub/Sub client after ready,
 * or on the first publish, whichever comes first. The port opens only when ready (Cloud Run's TCP
 * startup probe), and a start that never gets there fails with EW_ERR_NOT_READY.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer as createHttpServer } from 'node:http';
import { isWorkerError } from '../src/errors.ts';
import { closeFirestoreClients } from '../src/ledger/firestore-client.ts';
import { freePort } from '../src/dev/emulator.ts';
import { hashApiKey } from '../src/api/api-keys.ts';
import { startStack, type Stack } from './helpers/stack.ts';

const KEY = 'key-readiness-0123456789';
/** Whether something accepts TCP connections on the port: what Cloud Run's default startup probe asks. */
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

/**
 * A TCP relay to the Firestore emulator that holds every connection until `release()`: Firestore
 * "not answering" until then. Held, not refused: a refused call would leave the client retrying
 * with backoff, and a retry still pending when the test stops the app makes the client reject
 * unhandled once it is terminated.
 */
async function heldFirestoreRelay() {
  const [host, target] = process.env.FIRESTORE_EMULATOR_HOST!.split(':') as [string, string];
  const sockets = new Set<Socket>();
  const held: Socket[] = [];
  let released = false;
  const forward = (client: Socket) => {
    const upstream = connect(Number(target), host);
    sockets.add(upstream);
    upstream.once('close', () => sockets.delete(upstream));
    upstream.on('error', () => {});
    client.pipe(upstream).pipe(client);
  };
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.on('error', () => {});
    // Unread until piped: what the client sends waits in the socket's buffer.
    if (released) forward(client);
    else held.push(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${(server.address() as { port: number }).port}`,
    release: () => {
      released = true;
      held.splice(0).forEach(forward);
    },
    close: () => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))),
  };
}

/** Points new Firestore clients at `host` for one test (the client reads the variable when made). */
async function withFirestoreHost<T>(host: string, run: () => Promise<T>): Promise<T> {
  const real = process.env.FIRESTORE_EMULATOR_HOST;
  process.env.FIRESTORE_EMULATOR_HOST = host;
  try {
    return await run();
  } finally {
    process.env.FIRESTORE_EMULATOR_HOST = real;
  }
}

const readyz = async (stack: Stack) => {
  const res = await fetch(`${stack.app.url}/readyz`);
  return { status: res.status, body: (await res.json()) as { checks: Record<string, string>; details?: { pubsub?: string } } };
};

describe('readiness per mode', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });

  it('push mode is ready on the ledger alone, before the Pub/Sub client is loaded; the first API publish loads it', async () => {
    stack = await startStack({
      env: { WORKER_MODE: 'push', REQUIRE_PUSH_AUTH: 'false', LEDGER: 'firestore', LEDGER_COLLECTION: `ledger-${randomUUID().slice(0, 8)}`, API_KEYS: `${hashApiKey(KEY)}:mid` },
      // Far beyond the test: only the publish can load the client.
      deferredStartMs: 600_000,
    });
    const before = await readyz(stack);
    assert.equal(before.status, 200);
    assert.deepEqual(before.body.checks, { ledger: 'ok' });
    assert.equal(before.body.details?.pubsub, 'not loaded');

    const created = await fetch(`${stack.app.url}/v1/jobs`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ subject: 'Q3', text: 'Summarise Q3' }) });
    assert.equal(created.status, 202, 'published: the client and the topic (created on the emulator) were loaded on demand');
    assert.equal((await readyz(stack)).body.details?.pubsub, 'ok');
  });

  it('pull mode checks Pub/Sub and the ledger, and runs the subscription check after ready', async () => {
    stack = await startStack();
    const ready = await readyz(stack);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body.checks, { pubsub: 'ok', ledger: 'ok' });
    assert.equal(ready.body.details?.pubsub, undefined, 'no deferred client in pull mode');
    // The subscription the app made on the emulator follows the deadline chain: nothing to warn about.
    assert.deepEqual(stack.app.subscriptionWarnings, []);
  });

  it('keeps the port closed while the ledger does not answer, and opens it ready once it does (what a TCP startup probe sees)', async () => {
    const port = await freePort();
    const relay = await heldFirestoreRelay();
    try {
      await withFirestoreHost(relay.host, async () => {
        const starting = startStack({
          // A project of its own: a new Firestore client, made while the variable points at the relay.
          env: { WORKER_MODE: 'push', REQUIRE_PUSH_AUTH: 'false', LEDGER: 'firestore', GOOGLE_CLOUD_PROJECT: `demo-${randomUUID().slice(0, 8)}`, PORT: String(port) },
        });
        starting.catch(() => {});
        // The ledger check has not answered (its calls are held).
        await sleep(1000);
        assert.equal(await listening(port), false, 'no port while the ledger does not answer');
        relay.release();
        stack = await starting;
      });
      assert.equal(await listening(port), true);
      assert.equal((await readyz(stack!)).status, 200, 'listening means ready');
    } finally {
      await stack?.stop();
      stack = undefined;
      await relay.close();
    }
  });

  it('fails the start with EW_ERR_NOT_READY when Firestore refuses the service account until the budget ends, never having listened', async () => {
    // Firestore as it answers a service account without roles/datastore.user: 403 to every call.
    const denying = createHttpServer((_req, res) => {
      res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 403, message: 'Missing or insufficient permissions.', status: 'PERMISSION_DENIED' } }));
    });
    await new Promise<void>((r) => denying.listen(0, '127.0.0.1', r));
    const port = await freePort();
    try {
      const error = await withFirestoreHost(`127.0.0.1:${(denying.address() as { port: number }).port}`, () =>
        startStack({
          env: { WORKER_MODE: 'push', REQUIRE_PUSH_AUTH: 'false', LEDGER: 'firestore', GOOGLE_CLOUD_PROJECT: `demo-${randomUUID().slice(0, 8)}`, PORT: String(port) },
          readyBudgetMs: 1500,
        }).then(
          () => assert.fail('started although Firestore refused every call'),
          (e: unknown) => e,
        ),
      );
      assert.ok(isWorkerError(error), String(error));
      assert.equal(error.code, 'EW_ERR_NOT_READY');
      assert.equal(error.message, 'Not ready within 1500 ms: ledger: Missing or insufficient permissions.');
      assert.equal(await listening(port), false);
    } finally {
      // startApp leaves the Firestore client to the exiting process; nothing is in flight here.
      await closeFirestoreClients();
      denying.closeAllConnections();
      await new Promise((r) => denying.close(r));
    }
  });
});
