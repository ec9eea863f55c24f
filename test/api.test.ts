/**
 * API routes on the real worker: `/v1/jobs` (auth, lifecycle, callback, results by key) and
 * `/v1/ask` (SSE under scaled tier timeouts: heartbeat, phases, the tier timeout message).
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { hashApiKey } from '../src/api/api-keys.ts';
import { eventually, startStack, type Stack } from './helpers/stack.ts';

const KEYS = { mid: 'key-mid-0123456789', enterprise: 'key-enterprise-0123456789', free: 'key-free-0123456789' };
const API_KEYS = Object.entries(KEYS).map(([tier, key]) => `${hashApiKey(key)}:${tier}`).join(',');
const auth = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });

async function sse(stack: Stack, key: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${stack.app.url}/v1/ask`, { method: 'POST', headers: { ...auth(key), ...headers }, body: JSON.stringify(body) });
  const raw = await res.text();
  const events = raw
    .split('\n\n')
    .filter((block) => block.startsWith('event:'))
    .map((block) => {
      const [eventLine, dataLine] = block.split('\n');
      return { event: eventLine!.slice(7), data: JSON.parse(dataLine!.slice(6)) as Record<string, unknown> };
    });
  return { status: res.status, type: res.headers.get('content-type'), raw, events };
}

describe('/v1/jobs', () => {
  let stack: Stack | undefined;
  let callbackServer: Server | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
    callbackServer?.close();
    callbackServer = undefined;
  });

  it('needs a valid key: 401 without, with a wrong one, or with a key that is not configured', async () => {
    stack = await startStack({ env: { API_KEYS } });
    const url = `${stack.app.url}/v1/jobs`;
    assert.equal((await fetch(url, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).status, 401);
    assert.equal((await fetch(url, { method: 'POST', body: '{}', headers: auth('wrong-key') })).status, 401);
    assert.equal((await fetch(`${url}/api-x`, { headers: { authorization: `Bearer ${hashApiKey(KEYS.mid)}` } })).status, 401, 'the digest itself is not a key');
  });

  it('publishes an api job (202), shows its result to its own key only, calls back (retried), sends no email', async () => {
    const received: Array<Record<string, unknown>> = [];
    let calls = 0;
    callbackServer = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        calls++;
        if (calls === 1) return void res.writeHead(503).end();
        received.push(JSON.parse(body) as Record<string, unknown>);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => callbackServer!.listen(0, '127.0.0.1', r));
    const callbackUrl = `http://127.0.0.1:${(callbackServer.address() as { port: number }).port}/hook`;
    stack = await startStack({ env: { API_KEYS, TIMEOUT_SCALE: '0.05' } });

    const created = await fetch(`${stack.app.url}/v1/jobs`, { method: 'POST', headers: auth(KEYS.mid), body: JSON.stringify({ subject: 'Q3', text: 'Summarise Q3', callbackUrl }) });
    assert.equal(created.status, 202);
    const { id, state } = (await created.json()) as { id: string; state: string };
    assert.equal(state, 'queued');
    assert.equal(created.headers.get('location'), `/v1/jobs/${id}`);

    let view: Record<string, unknown> = {};
    const states = new Set<string>();
    for (const end = Date.now() + 15_000; view.state !== 'done' && Date.now() < end; await sleep(50)) {
      view = (await (await fetch(`${stack.app.url}/v1/jobs/${id}`, { headers: auth(KEYS.mid) })).json()) as Record<string, unknown>;
      states.add(String(view.state));
    }
    assert.equal(view.state, 'done');
    assert.ok([...states].every((s) => ['queued', 'running', 'done'].includes(s)), [...states].join());
    assert.equal(view.tier, 'mid');
    assert.match(String((view.result as { text: string }).text), /Gemini stand-in/);
    assert.ok(view.createdAt && view.finishedAt);

    assert.equal((await fetch(`${stack.app.url}/v1/jobs/${id}`, { headers: auth(KEYS.enterprise) })).status, 404, "another key's job is not found");
    assert.equal((await fetch(`${stack.app.url}/v1/jobs/api-nope`, { headers: auth(KEYS.mid) })).status, 404);

    await eventually(() => received.length === 1, 10_000);
    assert.equal(calls, 2, 'the 503 was retried');
    assert.equal(received[0]!.id, id);
    assert.equal(received[0]!.state, 'done');
    assert.equal(received[0]!.keyId, undefined, 'no key id in the callback');
    assert.equal(stack.mailgun.messages.length, 0, 'an API job is answered through the API, not by email');
  });

  it('refuses a body with unknown fields (such as a tier) and a non-https callback when local runs are off', async () => {
    stack = await startStack({ env: { API_KEYS, ATTACHMENT_ALLOW_PRIVATE: 'false' } });
    const post = (body: unknown) => fetch(`${stack!.app.url}/v1/jobs`, { method: 'POST', headers: auth(KEYS.free), body: JSON.stringify(body) });
    assert.equal((await post({ text: 'x', tier: 'enterprise' })).status, 400);
    const insecure = await post({ text: 'x', callbackUrl: 'http://example.com/hook' });
    assert.equal(insecure.status, 400);
    assert.match(((await insecure.json()) as { message: string }).message, /https/);
    assert.equal((await fetch(`${stack.app.url}/v1/jobs`, { method: 'POST', headers: { ...auth(KEYS.free), 'content-type': 'text/plain' }, body: 'x' })).status, 415);
    assert.equal((await fetch(`${stack.app.url}/v1/jobs`, { method: 'DELETE', headers: auth(KEYS.free) })).status, 405);
  });
});

describe('/v1/ask', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });

  it('streams the answer as SSE under the key\'s tier and closes the stream when done', async () => {
    stack = await startStack({ env: { API_KEYS, TIMEOUT_SCALE: '0.01' } });
    const r = await sse(stack, KEYS.mid, { text: 'What is SSE?' });
    assert.equal(r.status, 200);
    assert.match(String(r.type), /^text\/event-stream/);
    assert.deepEqual(r.events[0], { event: 'ready', data: { tier: 'mid', context: 'ui', agentTimeoutS: 0.6, idleTimeoutS: 0.9 } });
    assert.ok((r.events[0]!.data.idleTimeoutS as number) > (r.events[0]!.data.agentTimeoutS as number), 'client idle limit exceeds the agent timeout');
    const text = r.events.filter((e) => e.event === 'chunk').map((e) => e.data.text).join('');
    assert.match(text, /Gemini stand-in/);
    assert.deepEqual(r.events.at(-1), { event: 'done', data: { complete: true } });
    assert.equal(r.events.some((e) => e.event === 'phase'), false, 'only enterprise reports phases');
  });

  it('free tier: heartbeat comments, then an error event with the seed message after the agent timeout', async () => {
    stack = await startStack({ env: { API_KEYS, TIMEOUT_SCALE: '0.01' } });
    stack.gemini.setDefault({ kind: 'slow', chunkDelayMs: 45 });
    const r = await sse(stack, KEYS.free, { text: 'Slow question' });
    assert.equal(r.status, 200);
    assert.match(r.raw, /^: hb$/m);
    assert.deepEqual(r.events.at(-1)!.event, 'error');
    assert.equal(r.events.at(-1)!.data.message, 'Agent execution timed out after 0.08s (tier: free, streaming: true). Upgrade to mid for 0.6s.');
  });

  it('enterprise: five phase events, and a timeout message without upgrade advice', async () => {
    stack = await startStack({ env: { API_KEYS, TIMEOUT_SCALE: '0.01' } });
    stack.gemini.setDefault({ kind: 'hang-before-first-chunk' });
    const r = await sse(stack, KEYS.enterprise, { text: 'Deep question' });
    const phases = r.events.filter((e) => e.event === 'phase').map((e) => e.data);
    assert.deepEqual(phases.map((p) => p.name), ['Initial response', 'Deeper analysis', 'Complex processing', 'Comprehensive research', 'Final synthesis']);
    assert.deepEqual(phases.map((p) => p.budgetS), [0.6, 0.6, 0.6, 0.6, 0.6]);
    assert.equal(r.events.at(-1)!.event, 'error');
    assert.equal(r.events.at(-1)!.data.message, 'Agent execution timed out after 3s (tier: enterprise, streaming: true).');
  });

  it('the tier comes from the key: a tier in the body is refused; no key is 401; X-Request-Context picks the profile', async () => {
    stack = await startStack({ env: { API_KEYS, TIMEOUT_SCALE: '0.01' } });
    assert.equal((await sse(stack, KEYS.free, { text: 'x', tier: 'enterprise' })).status, 400);
    assert.equal((await fetch(`${stack.app.url}/v1/ask`, { method: 'POST', body: '{"text":"x"}', headers: { 'content-type': 'application/json' } })).status, 401);
    const email = await sse(stack, KEYS.free, { text: 'x' }, { 'x-request-context': 'email' });
    assert.equal(email.events[0]!.data.context, 'email');
    assert.equal(email.events[0]!.data.agentTimeoutS, 30, 'the email profile governs: hardTimeout 3000 s × 0.01');
    assert.equal(email.events.at(-1)!.event, 'done');
  });
});
