/**
 * A local stand-in for the Mailgun API, for the demo and tests. It speaks Mailgun's wire format,
 * so the official mailgun.js SDK talks to it unchanged through `MAILGUN_API_URL`:
 *
 * - `POST /v3/{domain}/messages`: multipart/form-data (or urlencoded), Basic auth `api:<key>`;
 *   fields `from`, `to`, `cc`, `bcc`, `subject`, `text`, `html`, `h:<Header>`, `o:…`, `v:…`, files
 *   `attachment` / `inline` → 200 `{"id":"<…>","message":"Queued. Thank you."}`. The id is the
 *   `h:Message-Id` sent, else a new one. Missing `from`/`to`/body → 400 `{"message":"…"}` like
 *   Mailgun; bad credentials → 401 `Forbidden`.
 * - `GET /v3/{domain}/events?message-id=…&event=…&recipient=…&limit=…` (and the paging URLs it
 *   returns) → `{"items":[{"event":"accepted","message":{"headers":{"message-id":"…"}},…}],
 *   "paging":{"first","last","next","previous"}}`, newest first. An accepted message yields one
 *   `accepted` event per recipient; `eventsLagMs` delays their visibility like Mailgun's.
 *
 * Failure scenarios are queued with `enqueue()`; each is consumed by the next request to its route
 * (`messages` unless `route: 'events'` is given), then requests are answered normally:
 *
 * | scenario                              | behaviour                                                      |
 * |---------------------------------------|----------------------------------------------------------------|
 * | `{ kind: 'status', status: 500 }`     | that status, Mailgun's JSON error body; nothing stored         |
 * | `{ kind: 'accept-then-hang', ms }`    | stores the message (event visible), answers only after `ms`    |
 * | `{ kind: 'accept-then-reset' }`       | stores the message, then destroys the socket without answering |
 * | `{ kind: 'reset' }`                   | reads the request, destroys the socket; nothing stored         |
 *
 * With `saveDir`, every accepted message is also written there as an `.eml` file.
 *
 * Standalone: `npx node src/dev/mailgun-standin.ts [--port N] [--host H] [--api-key K]
 * [--save-dir D] [--events-lag-ms N]` prints its URL; use it as `MAILGUN_API_URL`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { Logger } from 'winston';
import { closeServer } from './close-server.ts';

export type MailgunScenario = (
  | { kind: 'ok' }
  | {
      kind: 'status';
      status: number;
      /** Error message in the body. @defaultValue a message like Mailgun's for the status */
      message?: string;
      /** Adds a `Retry-After` header with this value. */
      retryAfter?: string;
    }
  | { kind: 'accept-then-hang'; /** Delay before the 200 answer, ms. */ ms: number }
  | { kind: 'accept-then-reset' }
  | { kind: 'reset' }
) & {
  /** Which requests the scenario applies to. @defaultValue 'messages' */
  route?: 'messages' | 'events';
};

export interface StoredAttachment {
  /** Form field: `attachment` or `inline`. */
  field: string;
  filename: string;
  contentType: string;
  size: number;
  data: Buffer;
}

export interface StoredMessage {
  /** The id answered, `<…>`. */
  id: string;
  domain: string;
  receivedAt: Date;
  /** Plain form fields (`from`, `to`, `subject`, `text`, `html`, `o:…`, `v:…`); repeated fields joined with `, `. */
  fields: Record<string, string>;
  /** `h:` fields without the prefix, as sent (`In-Reply-To`, `References`, `Message-Id`…). */
  headers: Record<string, string>;
  attachments: StoredAttachment[];
  /** The `.eml` written to `saveDir`. */
  path?: string;
}

export interface RecordedRequest {
  method: string;
  /** Path and query. */
  path: string;
  route: 'messages' | 'events' | 'storage' | 'other';
  /** Status answered; `reset` when the socket was destroyed, `pending` while an answer is held back. */
  outcome: number | 'reset' | 'pending';
  scenario: MailgunScenario['kind'];
}

export interface MailgunStandinOptions {
  /** Port to listen on. @defaultValue 0 (a free port) */
  port?: number;
  /** Interface to listen on. @defaultValue '127.0.0.1' */
  host?: string;
  /** The only API key accepted. @defaultValue any non-empty key */
  apiKey?: string;
  /** Write every accepted message there as `.eml`. @defaultValue unset */
  saveDir?: string;
  /** Accepted events show up in the events API this long after acceptance, ms. @defaultValue 0 */
  eventsLagMs?: number;
  /** Largest request body accepted, bytes. @defaultValue 64 MiB */
  maxBodyBytes?: number;
  /** Debug line per request. @defaultValue no logging */
  logger?: Logger;
}

export interface MailgunStandin {
  /** Base URL for `MAILGUN_API_URL`, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Every message accepted, oldest first. */
  readonly messages: StoredMessage[];
  /** Every request received, oldest first. */
  readonly requests: RecordedRequest[];
  /**
   * Keeps a file as Mailgun's message storage does for store() routes and returns its URL
   * (`/v3/domains/{domain}/messages/{key}/attachments/{n}`, Basic auth like the API).
   */
  storeAttachment(domain: string, file: { name: string; contentType: string; data: Buffer }): string;
  /** Queues scenarios; each is consumed by the next request to its route. */
  enqueue(...scenarios: MailgunScenario[]): void;
  /** Stops listening and ends every connection, held-back answers included. */
  close(): Promise<void>;
}

const STATUS_MESSAGES: Record<number, string> = {
  400: 'Bad request',
  401: 'Forbidden',
  402: 'Request failed',
  404: 'Not found',
  408: 'Request timeout',
  413: 'Request entity too large',
  429: 'Too many requests',
  500: 'Internal server error',
  502: 'Bad gateway',
  503: 'Service unavailable',
  504: 'Gateway timeout',
};

interface StoredEvent {
  visibleAt: number;
  event: Record<string, unknown>;
}

const bare = (id: string) => id.trim().replace(/^<|>$/g, '');

function authorized(req: IncomingMessage, apiKey: string | undefined): boolean {
  const match = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!match) return false;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const [user, key] = colon < 0 ? [decoded, ''] : [decoded.slice(0, colon), decoded.slice(colon + 1)];
  return user === 'api' && key.length > 0 && (apiKey === undefined || key === apiKey);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Past the limit the body is drained, not kept: stopping to read would leave no way to answer.
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  return size > limit ? undefined : Buffer.concat(chunks);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** The message Mailgun would build from the fields, as `.eml` (for `saveDir`). */
async function toEml(message: StoredMessage): Promise<Buffer> {
  const { 'Message-Id': _id, 'In-Reply-To': inReplyTo, References: references, ...headers } = message.headers;
  const f = message.fields;
  return new MailComposer({
    from: f.from,
    to: f.to,
    ...(f.cc ? { cc: f.cc } : {}),
    subject: f.subject ?? '',
    messageId: message.id,
    ...(inReplyTo ? { inReplyTo } : {}),
    ...(references ? { references } : {}),
    date: message.receivedAt,
    headers,
    ...(f.text !== undefined ? { text: f.text } : {}),
    ...(f.html !== undefined ? { html: f.html } : {}),
    attachments: message.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.data })),
    disableFileAccess: true,
    disableUrlAccess: true,
    newline: '\r\n',
  })
    .compile()
    .build();
}

export async function startMailgunStandin(options: MailgunStandinOptions = {}): Promise<MailgunStandin> {
  const host = options.host ?? '127.0.0.1';
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
  const eventsLagMs = options.eventsLagMs ?? 0;
  const logger = options.logger?.child({ component: 'mailgun-standin' });
  const messages: StoredMessage[] = [];
  const requests: RecordedRequest[] = [];
  const events = new Map<string, StoredEvent[]>();
  const queue: MailgunScenario[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const stored = new Map<string, { contentType: string; data: Buffer }>();
  let url = '';

  const takeScenario = (route: 'messages' | 'events'): MailgunScenario => {
    const index = queue.findIndex((s) => (s.route ?? 'messages') === route);
    return index < 0 ? { kind: 'ok' } : queue.splice(index, 1)[0]!;
  };

  const storeMessage = async (domain: string, form: FormData): Promise<StoredMessage> => {
    const fields: Record<string, string> = {};
    const headers: Record<string, string> = {};
    const attachments: StoredAttachment[] = [];
    for (const [name, value] of form.entries()) {
      if (typeof value !== 'string') {
        const data = Buffer.from(await value.arrayBuffer());
        attachments.push({ field: name, filename: value.name, contentType: value.type || 'application/octet-stream', size: data.length, data });
      } else if (name.startsWith('h:')) {
        headers[name.slice(2)] = value;
      } else {
        fields[name] = fields[name] === undefined ? value : `${fields[name]}, ${value}`;
      }
    }
    const ownId = Object.entries(headers).find(([k]) => k.toLowerCase() === 'message-id')?.[1];
    const id = ownId ? `<${bare(ownId)}>` : `<${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}.${randomUUID().slice(0, 8)}@${domain}>`;
    const message: StoredMessage = { id, domain, receivedAt: new Date(), fields, headers, attachments };
    if (options.saveDir) {
      await mkdir(options.saveDir, { recursive: true });
      const path = join(options.saveDir, `${bare(id).replace(/[^A-Za-z0-9._@+-]/g, '_')}.eml`);
      await writeFile(path, await toEml(message));
      message.path = path;
    }
    messages.push(message);
    const recipients = [fields.to, fields.cc, fields.bcc].filter(Boolean).join(',').split(',').map((r) => r.trim()).filter(Boolean);
    const list = events.get(domain) ?? [];
    for (const recipient of recipients) {
      const address = /<([^>]+)>/.exec(recipient)?.[1] ?? recipient;
      list.push({
        visibleAt: Date.now() + eventsLagMs,
        event: {
          id: randomUUID().replace(/-/g, '').slice(0, 22),
          event: 'accepted',
          timestamp: message.receivedAt.getTime() / 1000,
          'log-level': 'info',
          method: 'HTTP',
          recipient: address,
          'recipient-domain': address.split('@')[1] ?? '',
          envelope: { sender: fields.from ?? '', targets: address, transport: 'smtp' },
          flags: { 'is-authenticated': true, 'is-test-mode': fields['o:testmode'] === 'yes' },
          message: {
            headers: { 'message-id': bare(id), from: fields.from ?? '', to: fields.to ?? '', subject: fields.subject ?? '' },
            attachments: attachments.map((a) => ({ filename: a.filename, 'content-type': a.contentType, size: a.size })),
            size: attachments.reduce((n, a) => n + a.size, (fields.text ?? '').length + (fields.html ?? '').length),
          },
          storage: { url: `${url}/v3/domains/${domain}/messages/${encodeURIComponent(bare(id))}`, key: bare(id) },
          tags: [],
          'user-variables': {},
        },
      });
    }
    events.set(domain, list);
    return message;
  };

  const handleMessages = async (req: IncomingMessage, res: ServerResponse, domain: string, record: RecordedRequest) => {
    const body = await readBody(req, maxBodyBytes);
    if (!body) {
      record.outcome = 413;
      return sendJson(res, 413, { message: STATUS_MESSAGES[413] });
    }
    const scenario = takeScenario('messages');
    record.scenario = scenario.kind;
    if (scenario.kind === 'reset') {
      record.outcome = 'reset';
      return void req.socket.destroy();
    }
    if (scenario.kind === 'status') {
      record.outcome = scenario.status;
      return sendJson(res, scenario.status, { message: scenario.message ?? STATUS_MESSAGES[scenario.status] ?? `HTTP ${scenario.status}` }, scenario.retryAfter ? { 'retry-after': scenario.retryAfter } : {});
    }
    let form: FormData;
    try {
      form = await new Request(`${url}${req.url}`, { method: 'POST', headers: { 'content-type': req.headers['content-type'] ?? '' }, body }).formData();
    } catch {
      record.outcome = 400;
      return sendJson(res, 400, { message: 'Could not parse the request body' });
    }
    const missing = !form.get('from') ? "'from' parameter is missing" : !form.get('to') ? "'to' parameter is missing" : undefined;
    if (missing || !(form.get('text') || form.get('html') || form.get('template'))) {
      record.outcome = 400;
      return sendJson(res, 400, { message: missing ?? "Need at least one of 'text', 'html' or 'template' parameters specified" });
    }
    const message = await storeMessage(domain, form);
    logger?.debug('Message accepted', { id: message.id, to: message.fields.to, scenario: scenario.kind });
    const answer = () => {
      record.outcome = 200;
      sendJson(res, 200, { id: message.id, message: 'Queued. Thank you.' });
    };
    if (scenario.kind === 'accept-then-reset') {
      record.outcome = 'reset';
      return void req.socket.destroy();
    }
    if (scenario.kind === 'accept-then-hang') {
      record.outcome = 'pending';
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (res.destroyed) {
          record.outcome = 'reset';
          return;
        }
        answer();
      }, scenario.ms);
      timers.add(timer);
      return;
    }
    answer();
  };

  const handleEvents = (req: IncomingMessage, res: ServerResponse, domain: string, page: string | undefined, record: RecordedRequest) => {
    req.resume();
    const scenario = takeScenario('events');
    record.scenario = scenario.kind;
    if (scenario.kind === 'reset' || scenario.kind === 'accept-then-reset') {
      record.outcome = 'reset';
      return void req.socket.destroy();
    }
    if (scenario.kind === 'status') {
      record.outcome = scenario.status;
      return sendJson(res, scenario.status, { message: scenario.message ?? STATUS_MESSAGES[scenario.status] ?? `HTTP ${scenario.status}` });
    }
    const query = new URL(req.url ?? '/', url).searchParams;
    // Paging URLs carry the query and the offset in one opaque token, like Mailgun's.
    let params = query;
    let offset = 0;
    if (page) {
      try {
        const state = JSON.parse(Buffer.from(page, 'base64url').toString('utf8')) as { q: string; o: number };
        params = new URLSearchParams(state.q);
        offset = state.o;
      } catch {
        record.outcome = 400;
        return sendJson(res, 400, { message: 'Invalid page token' });
      }
    }
    const limit = Math.min(300, Math.max(1, Number(params.get('limit') ?? 100) || 100));
    const wantedId = params.get('message-id');
    const wantedEvent = params.get('event');
    const wantedRecipient = params.get('recipient');
    const now = Date.now();
    let matching = (events.get(domain) ?? [])
      .filter((e) => e.visibleAt <= now)
      .map((e) => e.event)
      .filter((e) => !wantedId || (e.message as { headers: Record<string, string> }).headers['message-id'] === bare(wantedId))
      .filter((e) => !wantedEvent || wantedEvent.split(/\s+OR\s+/i).includes(String(e.event)))
      .filter((e) => !wantedRecipient || e.recipient === wantedRecipient);
    if (params.get('ascending') !== 'yes') matching = matching.slice().reverse();
    const items = matching.slice(offset, offset + limit);
    const q = params.toString();
    const link = (o: number) => `${url}/v3/${domain}/events/${Buffer.from(JSON.stringify({ q, o: Math.max(0, o) })).toString('base64url')}`;
    record.outcome = 200;
    sendJson(res, 200, {
      items,
      paging: { first: link(0), last: link(Math.max(0, matching.length - limit)), next: link(offset + limit), previous: link(offset - limit) },
    });
  };

  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    const pathname = new URL(path, 'http://standin').pathname;
    const messagesMatch = /^\/v3\/([^/]+)\/messages\/?$/.exec(pathname);
    const eventsMatch = /^\/v3\/([^/]+)\/events(?:\/([^/]+))?\/?$/.exec(pathname);
    const storageMatch = /^\/v3\/domains\/[^/]+\/messages\/[^/]+\/attachments\/\d+$/.exec(pathname);
    const route = messagesMatch && req.method === 'POST' ? 'messages' : eventsMatch && req.method === 'GET' ? 'events' : storageMatch && req.method === 'GET' ? 'storage' : 'other';
    const record: RecordedRequest = { method: req.method ?? '', path, route, outcome: 'pending', scenario: 'ok' };
    requests.push(record);
    logger?.debug('Request', { method: req.method, path });
    if (!authorized(req, options.apiKey)) {
      req.resume();
      record.outcome = 401;
      if (!res.destroyed) {
        res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Basic realm="MG API"' });
        res.end('Forbidden');
      }
      return;
    }
    if (route === 'messages') {
      handleMessages(req, res, decodeURIComponent(messagesMatch![1]!), record).catch((error: unknown) => {
        logger?.warn('Stand-in failed to handle a message', { err: error });
        record.outcome = 500;
        sendJson(res, 500, { message: STATUS_MESSAGES[500] });
      });
      return;
    }
    if (route === 'events') return handleEvents(req, res, decodeURIComponent(eventsMatch![1]!), eventsMatch![2], record);
    req.resume();
    const file = route === 'storage' ? stored.get(pathname) : undefined;
    if (file) {
      record.outcome = 200;
      res.writeHead(200, { 'content-type': file.contentType, 'content-length': file.data.length }).end(file.data);
      return;
    }
    record.outcome = 404;
    sendJson(res, 404, { message: STATUS_MESSAGES[404] });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('Mailgun stand-in: no TCP address');
  url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;

  return {
    url,
    messages,
    requests,
    storeAttachment(domain, file) {
      const path = `/v3/domains/${encodeURIComponent(domain)}/messages/${randomUUID().replace(/-/g, '')}/attachments/0`;
      stored.set(path, { contentType: file.contentType, data: file.data });
      return `${url}${path}`;
    },
    enqueue(...scenarios) {
      queue.push(...scenarios);
    },
    close: () => closeServer(server, timers),
  };
}

// ── standalone ───────────────────────────────────────────────────────────────────────────────

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      'api-key': { type: 'string' },
      'save-dir': { type: 'string' },
      'events-lag-ms': { type: 'string' },
    },
  });
  const standin = await startMailgunStandin({
    port: Number(values.port),
    host: values.host,
    ...(values['api-key'] ? { apiKey: values['api-key'] } : {}),
    ...(values['save-dir'] ? { saveDir: values['save-dir'] } : {}),
    ...(values['events-lag-ms'] ? { eventsLagMs: Number(values['events-lag-ms']) } : {}),
  });
  console.log(`Mailgun stand-in (not the real Mailgun) listening on ${standin.url}`);
  console.log(`  MAILGUN_API_URL=${standin.url} MAILGUN_API_KEY=${values['api-key'] ?? '<any>'}`);
  const stop = () => {
    void standin.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
