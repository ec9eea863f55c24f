import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { Deadline } from '../resilience/deadline.ts';
import type { RetryEvent } from '../resilience/retry.ts';
import { downloadAttachments } from './download.ts';
import type { AttachmentResult, DownloadAttachmentsOptions, JobAttachment } from './types.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface TestServer {
  server: Server;
  port: number;
  origin: string;
  requests: Array<{ url: string; authorization?: string; host?: string }>;
  route(path: string, handler: Handler): void;
}

async function startServer(): Promise<TestServer> {
  const routes = new Map<string, Handler>();
  const requests: TestServer['requests'] = [];
  const server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}), ...(req.headers.host ? { host: req.headers.host } : {}) });
    const handler = routes.get(req.url ?? '');
    if (handler) handler(req, res);
    else res.writeHead(404).end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, port, origin: `http://127.0.0.1:${port}`, requests, route: (path, handler) => routes.set(path, handler) };
}

async function stopServer(s: TestServer): Promise<void> {
  s.server.closeAllConnections();
  await new Promise<void>((resolve) => s.server.close(() => resolve()));
}

/** Test DNS: names ending in `.test` resolve to loopback; anything else is unknown. */
const resolveTestNames = async (hostname: string) => {
  const fixed: Record<string, string> = { 'metadata.test': '169.254.169.254', 'linklocal6.test': 'fe80::1' };
  if (fixed[hostname]) return [{ address: fixed[hostname]!, family: fixed[hostname]!.includes(':') ? 6 : 4 }];
  if (hostname.endsWith('.test')) return [{ address: '127.0.0.1', family: 4 }];
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
};

const KEY = 'key-0123456789abcdef-secret';
const EXPECTED_AUTH = `Basic ${Buffer.from(`api:${KEY}`).toString('base64')}`;

describe('downloadAttachments', () => {
  let s: TestServer;
  let s2: TestServer;
  let dir: string;
  let deadline: Deadline;

  before(async () => {
    s = await startServer();
    s2 = await startServer();
  });
  after(async () => {
    await stopServer(s);
    await stopServer(s2);
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ew-attach-test-'));
    deadline = Deadline.after(10_000, { label: 'test job' });
    s.requests.length = 0;
    s2.requests.length = 0;
  });
  afterEach(async () => {
    deadline.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  const options = (extra: Partial<DownloadAttachmentsOptions> = {}): DownloadAttachmentsOptions => ({
    dir,
    deadline,
    policy: { attempts: 3, minDelayMs: 5, maxDelayMs: 10 },
    perFileTimeoutMs: 5_000,
    headersTimeoutMs: 2_000,
    bodyTimeoutMs: 2_000,
    maxBytes: 1024,
    allowedHosts: ['127.0.0.1', '*.files.test', 'other.test'],
    allowPrivate: true,
    resolve: resolveTestNames,
    ...extra,
  });

  const failed = (r: AttachmentResult | undefined) => {
    assert.ok(r && !r.ok, `expected a failed result, got ${JSON.stringify(r)}`);
    return r;
  };

  it('streams a file to disk with the served content', async () => {
    s.route('/a.txt', (_req, res) => res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('hello attachment'));
    const [r] = await downloadAttachments([{ name: 'a.txt', url: `${s.origin}/a.txt` }], options());
    assert.ok(r?.ok);
    assert.equal(r.bytes, 16);
    assert.equal(r.contentType, 'text/plain');
    assert.equal(dirname(r.path), dir);
    assert.equal(await readFile(r.path, 'utf8'), 'hello attachment');
  });

  it('connects to the checked address of a name, not a fresh DNS answer', async () => {
    // `.test` names exist only in the test resolver: the connection must use its answer.
    s.route('/pinned', (_req, res) => res.end('pinned'));
    const [r] = await downloadAttachments([{ name: 'p.txt', url: `http://eu.files.test:${s.port}/pinned` }], options());
    assert.ok(r?.ok, JSON.stringify(r));
    assert.equal(s.requests[0]?.host, `eu.files.test:${s.port}`);
  });

  it('sends Basic auth to the Mailgun API origin', async () => {
    s.route('/mg', (_req, res) => res.end('mailgun file'));
    const [r] = await downloadAttachments([{ name: 'mg.txt', url: `${s.origin}/mg` }], options({ mailgunApiKey: KEY, mailgunApiUrl: s.origin }));
    assert.ok(r?.ok);
    assert.equal(s.requests[0]?.authorization, EXPECTED_AUTH);
  });

  it('does not send the key to another allowed host', async () => {
    s.route('/other', (_req, res) => res.end('other file'));
    const [r] = await downloadAttachments([{ name: 'o.txt', url: `http://other.test:${s.port}/other` }], options({ mailgunApiKey: KEY, mailgunApiUrl: s.origin }));
    assert.ok(r?.ok);
    assert.equal(s.requests.length, 1);
    assert.equal(s.requests[0]?.authorization, undefined);
  });

  it('drops the key when a Mailgun-origin URL redirects to another origin on the same host', async () => {
    s.route('/hop', (_req, res) => res.writeHead(302, { location: `${s2.origin}/landing` }).end());
    s2.route('/landing', (_req, res) => res.end('landed'));
    const [r] = await downloadAttachments([{ name: 'h.txt', url: `${s.origin}/hop` }], options({ mailgunApiKey: KEY, mailgunApiUrl: s.origin }));
    assert.ok(r?.ok, JSON.stringify(r));
    assert.equal(s.requests[0]?.authorization, EXPECTED_AUTH);
    assert.equal(s2.requests.length, 1);
    assert.equal(s2.requests[0]?.authorization, undefined);
  });

  it('refuses a file whose Content-Length exceeds the cap before reading the body', async () => {
    s.route('/big', (_req, res) => {
      res.writeHead(200, { 'content-length': '5000' });
      res.write('x'.repeat(100)); // the rest never comes: only an early refusal can finish the test
    });
    const r = failed((await downloadAttachments([{ name: 'big.bin', url: `${s.origin}/big` }], options()))[0]);
    assert.equal(r.error.code, 'EW_ERR_ATTACHMENT_TOO_LARGE');
    assert.equal(r.error.details.phase, 'content-length');
    assert.equal(r.reason, 'larger than the 1 KiB limit');
    assert.equal(s.requests.length, 1, 'not retried');
    assert.deepEqual(await readdir(dir), []);
  });

  it('refuses a file the job already declares too large without requesting it', async () => {
    const r = failed((await downloadAttachments([{ name: 'big.bin', size: 4096, url: `${s.origin}/never` }], options()))[0]);
    assert.equal(r.error.code, 'EW_ERR_ATTACHMENT_TOO_LARGE');
    assert.equal(s.requests.length, 0);
  });

  it('cuts a chunked body without Content-Length at the cap and removes the partial file', async () => {
    s.route('/chunked', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const timer = setInterval(() => res.write('y'.repeat(300)), 5);
      res.on('close', () => clearInterval(timer));
    });
    const r = failed((await downloadAttachments([{ name: 'stream.bin', url: `${s.origin}/chunked` }], options()))[0]);
    assert.equal(r.error.code, 'EW_ERR_ATTACHMENT_TOO_LARGE');
    assert.equal(r.error.details.phase, 'stream');
    assert.deepEqual(await readdir(dir), []);
  });

  it('never writes more than a too-small Content-Length announced', async () => {
    s.route('/liar', (req) => {
      // Raw socket: claim 10 bytes, send 4 KiB.
      req.socket.end(`HTTP/1.1 200 OK\r\ncontent-length: 10\r\nconnection: close\r\n\r\n${'z'.repeat(4096)}`);
    });
    const [r] = await downloadAttachments([{ name: 'liar.bin', url: `${s.origin}/liar` }], options({ policy: { attempts: 1, minDelayMs: 0, maxDelayMs: 0 } }));
    assert.ok(r?.ok);
    assert.equal(r.bytes, 10);
    assert.equal((await readFile(r.path)).length, 10);
  });

  it('refuses a host that is not in the allowlist without contacting it', async () => {
    const r = failed((await downloadAttachments([{ name: 'x.txt', url: `http://evil.test:${s.port}/x` }], options()))[0]);
    assert.equal(r.error.code, 'EW_ERR_ATTACHMENT_REFUSED');
    assert.equal(r.reason, 'host not allowed');
    assert.equal(s.requests.length, 0);
  });

  it('refuses loopback targets when allowPrivate is false', async () => {
    const results = await downloadAttachments(
      [
        { name: 'a.txt', url: `https://eu.files.test:${s.port}/a` },
        { name: 'b.txt', url: `https://127.0.0.1:${s.port}/b` },
      ],
      options({ allowPrivate: false }),
    );
    for (const r of results) {
      const f = failed(r);
      assert.equal(f.error.code, 'EW_ERR_ATTACHMENT_REFUSED');
      assert.equal(f.reason, 'private or internal address');
    }
    assert.equal(s.requests.length, 0);
  });

  it('refuses the metadata server and other link-local targets even with allowPrivate', async () => {
    const results = await downloadAttachments(
      [
        { name: 'm1', url: 'http://169.254.169.254/computeMetadata/v1/' },
        { name: 'm2', url: 'http://metadata.test/computeMetadata/v1/' },
        { name: 'm3', url: 'http://linklocal6.test/' },
        { name: 'm4', url: 'http://[fe80::1]/' },
      ],
      options({ allowPrivate: true, allowedHosts: ['169.254.169.254', '*.test', 'fe80::1'] }),
    );
    for (const r of results) assert.match(failed(r).reason, /link-local/);
  });

  it('refuses plain http when allowPrivate is false', async () => {
    const r = failed((await downloadAttachments([{ name: 'x', url: `http://eu.files.test:${s.port}/x` }], options({ allowPrivate: false })))[0]);
    assert.equal(r.error.code, 'EW_ERR_ATTACHMENT_REFUSED');
    assert.match(r.reason, /https only/);
  });

  it('refuses a redirect to another host without following it', async () => {
    s.route('/away', (_req, res) => res.writeHead(302, { location: `http://other.test:${s.port}/landing` }).end());
    s.route('/landing', (_req, res) => res.end('should not be fetched'));
    const r = failed((await downloadAttachments([{ name: 'r.txt', url: `http://eu.files.test:${s.port}/away` }], options({ mailgunApiKey: KEY })))[0]);
    assert.equal(r.reason, 'redirected to another host');
    assert.deepEqual(s.requests.map((q) => q.url), ['/away']);
  });

  it('follows a same-host redirect and re-checks it', async () => {
    s.route('/old', (_req, res) => res.writeHead(301, { location: '/new' }).end());
    s.route('/new', (_req, res) => res.end('moved content'));
    const [r] = await downloadAttachments([{ name: 'r.txt', url: `${s.origin}/old` }], options());
    assert.ok(r?.ok);
    assert.equal(await readFile(r.path, 'utf8'), 'moved content');
    assert.deepEqual(s.requests.map((q) => q.url), ['/old', '/new']);
  });

  it('gives up after three redirects', async () => {
    s.route('/loop', (_req, res) => res.writeHead(302, { location: '/loop' }).end());
    const r = failed((await downloadAttachments([{ name: 'l', url: `${s.origin}/loop` }], options()))[0]);
    assert.match(r.reason, /more than 3 redirects/);
    assert.equal(s.requests.length, 4);
  });

  it('cuts a stalled body with bodyTimeout, notes it, and still downloads the other files', async () => {
    s.route('/stall', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial…'); // then silence
    });
    s.route('/fine', (_req, res) => res.end('fine'));
    const results = await downloadAttachments(
      [
        { name: 'stall.txt', url: `${s.origin}/stall` },
        { name: 'fine-1.txt', url: `${s.origin}/fine` },
        { name: 'fine-2.txt', url: `${s.origin}/fine` },
      ],
      // undici runs body timers on a coarse (~1 s) clock, so each attempt takes about a second.
      options({ bodyTimeoutMs: 80, policy: { attempts: 2, minDelayMs: 5, maxDelayMs: 5 } }),
    );
    const stalled = failed(results[0]);
    assert.equal(stalled.reason, 'the connection to the file server failed');
    assert.equal((stalled.error.cause as { details?: { networkCode?: string } }).details?.networkCode, 'UND_ERR_BODY_TIMEOUT');
    assert.ok(results[1]?.ok && results[2]?.ok);
    assert.equal(s.requests.filter((q) => q.url === '/stall').length, 2, 'a body timeout is retried');
    assert.deepEqual((await readdir(dir)).sort(), ['2-fine-1.txt', '3-fine-2.txt']);
  });

  it('ends a file at its per-file timeout, retries included', async () => {
    s.route('/slow', (_req, res) => {
      res.writeHead(200);
      res.write('a');
      const timer = setInterval(() => res.write('a'), 20); // never idle long enough for bodyTimeout
      res.on('close', () => clearInterval(timer));
    });
    const [r] = await downloadAttachments([{ name: 'slow', url: `${s.origin}/slow` }], options({ perFileTimeoutMs: 150, maxBytes: 1_000_000 }));
    const f = failed(r);
    assert.equal(f.reason, 'the download timed out');
    assert.equal(f.error.code, 'EW_ERR_ATTACHMENT_FAILED');
    assert.equal(f.error.details.causeCode, 'EW_ERR_TIMEOUT');
    assert.deepEqual(await readdir(dir), []);
  });

  it('retries a 503 and keeps the second answer', async () => {
    let calls = 0;
    s.route('/flaky', (_req, res) => {
      calls++;
      if (calls === 1) res.writeHead(503).end('busy');
      else res.end('second answer');
    });
    const retries: RetryEvent[] = [];
    const [r] = await downloadAttachments([{ name: 'f.txt', url: `${s.origin}/flaky` }], options({ onRetry: (e) => retries.push(e) }));
    assert.ok(r?.ok);
    assert.equal(await readFile(r.path, 'utf8'), 'second answer');
    assert.equal(retries.length, 1);
    assert.equal(retries[0]?.error.status, 503);
  });

  it('does not retry a 404', async () => {
    const [r] = await downloadAttachments([{ name: 'gone.pdf', contentType: 'application/pdf', url: `${s.origin}/missing` }], options());
    const f = failed(r);
    assert.equal(f.error.status, 404);
    assert.equal(f.contentType, 'application/pdf');
    assert.match(f.reason, /not found/);
    assert.equal(s.requests.length, 1);
  });

  it('decodes inline base64 attachments to disk', async () => {
    const content = 'inline text ✓';
    const [r] = await downloadAttachments([{ name: 'inline.txt', base64: Buffer.from(content).toString('base64') }], options());
    assert.ok(r?.ok);
    assert.equal(r.contentType, 'text/plain');
    assert.equal(await readFile(r.path, 'utf8'), content);
  });

  it('refuses inline base64 over the cap before decoding', async () => {
    const [r] = await downloadAttachments([{ name: 'big.bin', base64: Buffer.alloc(2048).toString('base64') }], options());
    const f = failed(r);
    assert.equal(f.error.code, 'EW_ERR_ATTACHMENT_TOO_LARGE');
    assert.equal(f.error.details.phase, 'base64');
    assert.deepEqual(await readdir(dir), []);
  });

  it('keeps sender-chosen names inside the job dir and unique', async () => {
    const attachments: JobAttachment[] = [
      { name: '../../escape.txt', base64: Buffer.from('one').toString('base64') },
      { name: '../../escape.txt', base64: Buffer.from('two').toString('base64') },
      { name: '/etc/passwd', base64: Buffer.from('three').toString('base64') },
    ];
    const results = await downloadAttachments(attachments, options());
    const paths = results.map((r) => (r.ok ? r.path : assert.fail('expected ok')));
    for (const p of paths) assert.equal(dirname(p), dir);
    assert.equal(new Set(paths).size, 3);
    assert.deepEqual((await readdir(dir)).sort(), ['1-escape.txt', '2-escape.txt', '3-passwd']);
  });

  it('never puts the Mailgun key in results', async () => {
    s.route('/err', (_req, res) => res.writeHead(500).end(`echo ${KEY}`));
    const results = await downloadAttachments([{ name: 'e', url: `${s.origin}/err` }], options({ mailgunApiKey: KEY, mailgunApiUrl: s.origin, policy: { attempts: 1, minDelayMs: 0, maxDelayMs: 0 } }));
    const text = JSON.stringify(results, (_k, v: unknown) => (v instanceof Error ? { ...v, message: v.message, cause: v.cause } : v));
    assert.ok(!text.includes(KEY));
    assert.ok(!text.includes(Buffer.from(`api:${KEY}`).toString('base64')));
  });

  it('fails the step with the deadline reason when the job deadline has passed', async () => {
    s.route('/hang', () => {});
    const short = Deadline.after(50, { label: 'short job' });
    try {
      await assert.rejects(
        downloadAttachments([{ name: 'h', url: `${s.origin}/hang` }], options({ deadline: short })),
        (e) => (e as { code?: string }).code === 'EW_ERR_DEADLINE_EXCEEDED',
      );
      assert.deepEqual(await readdir(dir), []);
    } finally {
      short.dispose();
    }
  });
});
