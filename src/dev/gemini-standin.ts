/**
 * A local stand-in for the Gemini API (generativelanguage.googleapis.com), for the demo, tests and
 * benchmarks. It speaks the real wire format, so the official SDK talks to it unchanged through
 * `httpOptions.baseUrl` (`GEMINI_BASE_URL`):
 *
 * - `POST /{v1,v1beta}/models/{model}:streamGenerateContent?alt=sse` → `text/event-stream`, one
 *   `data: {GenerateContentResponse}\r\n\r\n` event per chunk, `finishReason: "STOP"` and the final
 *   usage on the last one (the SDK splits events on `\r\n\r\n` / `\n\n`, reads `data:` lines);
 * - `POST …:generateContent` → the whole `GenerateContentResponse` as JSON;
 * - errors in Google's shape: `{"error":{"code":429,"message":"…","status":"RESOURCE_EXHAUSTED",
 *   "details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"2s"}]}}`;
 * - an API key is required (`x-goog-api-key` header or `?key=`), else 401 UNAUTHENTICATED.
 *
 * The answer is deterministic and labelled: it starts with `**[Gemini stand-in — not a real
 * model]**`, quotes the question and lists the parts it received.
 *
 * Failure scenarios, each consumed by one request (then the default, `ok`): `enqueue()` them, or
 * put a marker in the prompt text, so a job published from outside can pick one:
 *
 * | marker                        | scenario                                                  |
 * |-------------------------------|-----------------------------------------------------------|
 * | `[standin:ok]`                | normal answer                                             |
 * | `[standin:503]` (any status)  | that HTTP status, Google error body                       |
 * | `[standin:429:2s]`            | 429 with `RetryInfo.retryDelay` "2s"                      |
 * | `[standin:hang]`              | headers sent, never any data                              |
 * | `[standin:hang-after:2]`      | 2 chunks, then silence                                    |
 * | `[standin:reset]`             | 1 chunk, then the socket is destroyed                     |
 * | `[standin:reset-after:2]`     | 2 chunks, then the socket is destroyed                    |
 * | `[standin:blocked]`           | prompt blocked (`promptFeedback.blockReason: SAFETY`)     |
 * | `[standin:blocked-finish]`    | one chunk, then `finishReason: SAFETY`                    |
 * | `[standin:slow:200]`          | 200 ms between chunks                                     |
 * | `[standin:empty]`             | `finishReason: STOP` with no text                         |
 * | `[standin:max-tokens]`        | half the answer, then `finishReason: MAX_TOKENS`          |
 * | `[standin:finish:other]`      | half the answer, then that finish reason (`OTHER`)        |
 *
 * `generationConfig.maxOutputTokens` is honoured like Gemini does: an answer longer than the cap
 * (at ~4 characters a token) is cut there and ends with `finishReason: MAX_TOKENS`.
 *
 * A marker ending in `xN` (`[standin:503x2]`) applies to the first N requests carrying that
 * marker and prompt only, then the answer is normal — so retries can be shown from outside.
 * Precedence: enqueued scenario, then marker, then the default.
 *
 * Standalone: `npx node src/dev/gemini-standin.ts [--port N] [--host H] [--chunk-delay-ms N]
 * [--chunk-count N]` prints its URL; use it as `GEMINI_BASE_URL` with any `GEMINI_API_KEY`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Logger } from 'winston';
import { closeServer } from './close-server.ts';

export type Scenario =
  | { kind: 'ok' }
  | {
      kind: 'status';
      /** HTTP status of the error answer. */
      status: number;
      /** Adds `google.rpc.RetryInfo` with this `retryDelay` ("2s", "0.5s"). */
      retryDelay?: string;
      /** Adds a `Retry-After` header with this value. */
      retryAfter?: string;
      /** Error message. @defaultValue a message like Google's for the status */
      message?: string;
    }
  | { kind: 'hang-before-first-chunk' }
  | { kind: 'hang-after'; chunks: number }
  | { kind: 'reset-after'; chunks: number }
  | {
      kind: 'blocked';
      /** `prompt`: `promptFeedback.blockReason`; `finish`: a chunk, then `finishReason: SAFETY`. @defaultValue 'prompt' */
      via?: 'prompt' | 'finish';
    }
  | { kind: 'slow'; chunkDelayMs: number }
  | { kind: 'empty' }
  | {
      kind: 'finish';
      /** The finish reason the last chunk carries instead of `STOP` (`MAX_TOKENS`, `OTHER`…). */
      reason: string;
    };

export interface RecordedRequest {
  method: string;
  /** Path and query, without any `key` query parameter. */
  path: string;
  apiVersion: string;
  model: string;
  action: 'streamGenerateContent' | 'generateContent';
  /** Request headers without `x-goog-api-key` and `authorization`. */
  headers: Record<string, string | string[] | undefined>;
  /** Whether an API key was sent (its value is never recorded). */
  apiKeyPresent: boolean;
  /** The parsed JSON body. */
  body: unknown;
  /** The scenario this request got. */
  scenario: Scenario;
}

export interface GeminiStandinOptions {
  /** Port to listen on. @defaultValue 0 (a free port) */
  port?: number;
  /** Interface to listen on. @defaultValue '127.0.0.1' */
  host?: string;
  /** Chunks per streamed answer. @defaultValue 4 */
  chunkCount?: number;
  /** Delay before each chunk, ms. @defaultValue 10 */
  chunkDelayMs?: number;
  /** Spread the chunks evenly over this many ms (overrides `chunkDelayMs`). @defaultValue unset */
  streamDurationMs?: number;
  /** Largest request body accepted, bytes (Gemini's inline request limit is 20 MB). @defaultValue 64 MiB */
  maxBodyBytes?: number;
  /** Debug line per request. @defaultValue no logging */
  logger?: Logger;
}

export interface GeminiStandin {
  /** Base URL for `GEMINI_BASE_URL` / `httpOptions.baseUrl`, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Every request received, oldest first. */
  readonly requests: RecordedRequest[];
  /** Streams currently open (for benchmarks). */
  readonly openStreams: number;
  /** Queues scenarios; each is consumed by one request, in order. */
  enqueue(...scenarios: Scenario[]): void;
  /** The scenario for requests with nothing queued and no marker. @defaultValue `{ kind: 'ok' }` */
  setDefault(scenario: Scenario): void;
  /** Clears the queue, the recorded requests and the marker counts; the default becomes `ok`. */
  reset(): void;
  /** Stops listening and ends every connection, hanging streams included. */
  close(): Promise<void>;
}

export const STANDIN_LABEL = '**[Gemini stand-in — not a real model]**';

const GOOGLE_STATUS: Record<number, [status: string, message: string]> = {
  400: ['INVALID_ARGUMENT', 'Request contains an invalid argument.'],
  401: ['UNAUTHENTICATED', 'Request is missing required authentication credential.'],
  403: ['PERMISSION_DENIED', 'The caller does not have permission.'],
  404: ['NOT_FOUND', 'Requested entity was not found.'],
  408: ['DEADLINE_EXCEEDED', 'Request timed out.'],
  413: ['INVALID_ARGUMENT', 'Request payload size exceeds the limit.'],
  429: ['RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).'],
  500: ['INTERNAL', 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting'],
  502: ['UNAVAILABLE', 'Bad gateway.'],
  503: ['UNAVAILABLE', 'The model is overloaded. Please try again later.'],
  504: ['DEADLINE_EXCEEDED', 'The request timed out. Please try again.'],
};

/** Google's error body for a status. */
export function googleError(status: number, message?: string, retryDelay?: string): { error: Record<string, unknown> } {
  const [name, text] = GOOGLE_STATUS[status] ?? [status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION', `HTTP ${status}`];
  return {
    error: {
      code: status,
      message: message ?? text,
      status: name,
      ...(retryDelay ? { details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay }] } : {}),
    },
  };
}

// ── prompt markers ───────────────────────────────────────────────────────────────────────────

const MARKER = /\[standin:([a-z0-9.:-]+?)(?:x(\d+))?\]/i;

/** The scenario a marker names (without the `xN` count), or undefined when it names none. */
export function scenarioFromMarker(marker: string): Scenario | undefined {
  const [name = '', arg] = marker.toLowerCase().split(':');
  const n = (v: string | undefined, fallback: number) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : fallback);
  if (/^\d{3}$/.test(name)) return { kind: 'status', status: Number(name), ...(arg ? { retryDelay: arg } : {}) };
  switch (name) {
    case 'ok':
      return { kind: 'ok' };
    case 'hang':
      return { kind: 'hang-before-first-chunk' };
    case 'hang-after':
      return { kind: 'hang-after', chunks: n(arg, 1) };
    case 'reset':
    case 'reset-after':
      return { kind: 'reset-after', chunks: n(arg, 1) };
    case 'blocked':
      return { kind: 'blocked', via: 'prompt' };
    case 'blocked-finish':
      return { kind: 'blocked', via: 'finish' };
    case 'slow':
      return { kind: 'slow', chunkDelayMs: n(arg, 200) };
    case 'empty':
      return { kind: 'empty' };
    case 'max-tokens':
      return { kind: 'finish', reason: 'MAX_TOKENS' };
    case 'finish':
      return /^[a-z_]+$/.test(arg ?? '') ? { kind: 'finish', reason: arg!.toUpperCase() } : undefined;
    default:
      return undefined;
  }
}

// ── request body reading ─────────────────────────────────────────────────────────────────────

interface WirePart {
  text?: unknown;
  inlineData?: { mimeType?: unknown; data?: unknown };
  fileData?: { mimeType?: unknown; fileUri?: unknown };
}
interface WireBody {
  contents?: Array<{ role?: unknown; parts?: WirePart[] }>;
  systemInstruction?: { parts?: WirePart[] };
  generationConfig?: { maxOutputTokens?: unknown };
}

/**
 * The answer as it will be sent and how it ends: a `finish` scenario keeps about half of it;
 * `maxOutputTokens` cuts it at the cap. Either way the last chunk says why instead of `STOP`.
 */
export function limitAnswer(answer: string, scenario: Scenario, body: WireBody): { answer: string; finishReason: string } {
  if (scenario.kind === 'finish') return { answer: answer.slice(0, Math.max(1, Math.ceil(answer.length / 2))), finishReason: scenario.reason };
  const cap = body.generationConfig?.maxOutputTokens;
  if (typeof cap === 'number' && cap > 0 && tokens(answer.length) > cap) return { answer: answer.slice(0, cap * 4), finishReason: 'MAX_TOKENS' };
  return { answer, finishReason: 'STOP' };
}

function textParts(body: WireBody): string[] {
  const out: string[] = [];
  for (const c of body.contents ?? []) for (const p of c.parts ?? []) if (typeof p.text === 'string') out.push(p.text);
  return out;
}

function inlineParts(body: WireBody): string[] {
  const out: string[] = [];
  for (const c of body.contents ?? []) {
    for (const p of c.parts ?? []) {
      if (p.inlineData) out.push(String(p.inlineData.mimeType ?? 'application/octet-stream'));
      else if (p.fileData) out.push(String(p.fileData.mimeType ?? 'application/octet-stream'));
    }
  }
  return out;
}

const oneLine = (s: string, max: number) => {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
};

// Names of files in a text part: `<attachment name="a.pdf">`-style tags or `Attachment: a.pdf` lines.
const NAME_TAG = /<(?:attachment|document|file)\b[^>]*?\b(?:name|filename|path)="([^"]+)"/gi;
const NAME_LINE = /^\s*(?:#+\s*)?(?:attachment|file|document)\s*[:—-]\s*(.+)$/gim;

function namesIn(text: string): string[] {
  const names = [...text.matchAll(NAME_TAG), ...text.matchAll(NAME_LINE)].map((m) => m[1]!.trim());
  return [...new Set(names)];
}

/** The deterministic, clearly labelled Markdown answer to a request body. */
export function standinAnswer(body: WireBody, model: string): string {
  const texts = textParts(body);
  const inline = inlineParts(body);
  const all = texts.join('\n');
  const subject =
    /<email\b[^>]*\bsubject="([^"]*)"/i.exec(all)?.[1]?.trim() ||
    (/^\s*subject\s*:\s*(.+)$/im.exec(all)?.[1]?.trim() ?? /<subject>([^<]+)<\/subject>/i.exec(all)?.[1]?.trim());
  // The question's first lines: prose only, no header lines or tags.
  const lines = all
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^(?:subject|from|to|cc|date|attachment|file|document)\s*:/i.test(l) && !/^<[^>]+>$/.test(l));
  const question = subject ?? lines[0] ?? '(no text)';
  const system = (body.systemInstruction?.parts ?? []).map((p) => (typeof p.text === 'string' ? p.text : '')).join('');

  const out: string[] = [STANDIN_LABEL, ''];
  out.push(`This answer comes from a local stand-in for the Gemini API (model \`${model}\` was asked), not from a language model.`, '');
  out.push(`**Question:** ${oneLine(question, 120)}`, '');
  for (const l of lines.slice(0, 3)) out.push(`> ${oneLine(l, 160)}`);
  if (lines.length) out.push('');
  out.push(`**Received:** ${texts.length} text part${texts.length === 1 ? '' : 's'}, ${inline.length} inline part${inline.length === 1 ? '' : 's'}${system ? `, a system instruction of ${system.length} characters` : ''}.`, '');
  texts.forEach((t, i) => {
    const names = namesIn(t);
    out.push(`- Text part ${i + 1}${names.length ? ` (${oneLine(names.join(', '), 120)})` : ''}, ${t.length} characters: "${oneLine(t, 80)}"`);
  });
  const byType = new Map<string, number>();
  for (const m of inline) byType.set(m, (byType.get(m) ?? 0) + 1);
  for (const [type, count] of byType) out.push(`- Inline: ${count} × ${type}`);
  out.push('', '_End of the stand-in answer._');
  return out.join('\n');
}

/** Splits text into at most `count` non-empty pieces at whitespace, concatenating back to `text`. */
export function splitIntoChunks(text: string, count: number): string[] {
  const pieces: string[] = [];
  let start = 0;
  for (let i = 1; i <= count && start < text.length; i++) {
    let end = i === count ? text.length : Math.round((text.length * i) / count);
    if (end <= start) continue;
    const space = text.indexOf(' ', end);
    if (i < count && space > 0 && space - end < 40) end = space + 1;
    pieces.push(text.slice(start, end));
    start = end;
  }
  if (start < text.length) pieces.push(text.slice(start));
  return pieces;
}

// ── responses ────────────────────────────────────────────────────────────────────────────────

const tokens = (chars: number) => Math.max(1, Math.ceil(chars / 4));

interface ResponseMeta {
  model: string;
  responseId: string;
  promptTokens: number;
}

function responseJson(meta: ResponseMeta, text: string | undefined, finishReason: string | undefined, outputChars: number): Record<string, unknown> {
  const candidate: Record<string, unknown> = {
    content: { parts: text === undefined ? [] : [{ text }], role: 'model' },
    index: 0,
  };
  if (finishReason) candidate.finishReason = finishReason;
  if (finishReason === 'SAFETY') {
    candidate.safetyRatings = [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true }];
  }
  const output = finishReason ? tokens(outputChars) : undefined;
  return {
    candidates: [candidate],
    usageMetadata: {
      promptTokenCount: meta.promptTokens,
      ...(output === undefined ? {} : { candidatesTokenCount: output }),
      totalTokenCount: meta.promptTokens + (output ?? 0),
    },
    modelVersion: meta.model,
    responseId: meta.responseId,
  };
}

function promptBlockedJson(meta: ResponseMeta): Record<string, unknown> {
  return {
    promptFeedback: {
      blockReason: 'SAFETY',
      safetyRatings: [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH' }],
    },
    usageMetadata: { promptTokenCount: meta.promptTokens, totalTokenCount: meta.promptTokens },
    modelVersion: meta.model,
    responseId: meta.responseId,
  };
}

const sse = (json: unknown) => `data: ${JSON.stringify(json)}\r\n\r\n`;

// ── server ───────────────────────────────────────────────────────────────────────────────────

const ROUTE = /^\/(v1|v1beta|v1alpha)\/models\/([^/:]+):(streamGenerateContent|generateContent)$/;

export async function startGeminiStandin(options: GeminiStandinOptions = {}): Promise<GeminiStandin> {
  const host = options.host ?? '127.0.0.1';
  const chunkCount = Math.max(1, options.chunkCount ?? 4);
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
  const baseDelay = options.streamDurationMs !== undefined ? options.streamDurationMs / chunkCount : (options.chunkDelayMs ?? 10);
  const logger = options.logger?.child({ component: 'gemini-standin' });

  const requests: RecordedRequest[] = [];
  const queue: Scenario[] = [];
  const markerUses = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  let fallback: Scenario = { kind: 'ok' };
  let openStreams = 0;

  const later = (ms: number, fn: () => void): NodeJS.Timeout => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
    return t;
  };

  const sendJson = (res: ServerResponse, status: number, json: unknown, headers: Record<string, string> = {}) => {
    const body = JSON.stringify(json);
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(body), ...headers }).end(body);
  };

  const pickScenario = (body: WireBody): Scenario => {
    const queued = queue.shift();
    if (queued) return queued;
    const match = MARKER.exec(textParts(body).join('\n'));
    const named = match ? scenarioFromMarker(match[1]!) : undefined;
    if (match && named) {
      if (match[2] === undefined) return named;
      // `xN`: only the first N requests with this marker and this prompt.
      const key = createHash('sha256').update(match[0]).update(JSON.stringify(body.contents ?? [])).digest('hex');
      const used = markerUses.get(key) ?? 0;
      markerUses.set(key, used + 1);
      if (used < Number(match[2])) return named;
    }
    return fallback;
  };

  const readBody = (req: IncomingMessage): Promise<Buffer | undefined> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= maxBodyBytes) chunks.push(c);
      });
      req.on('end', () => resolve(size > maxBodyBytes ? undefined : Buffer.concat(chunks)));
      req.on('error', reject);
    });

  const stream = (req: IncomingMessage, res: ServerResponse, scenario: Scenario, answer: string, meta: ResponseMeta, finishReason: string) => {
    const pieces = splitIntoChunks(answer, chunkCount);
    const delay = scenario.kind === 'slow' ? scenario.chunkDelayMs : baseDelay;
    // How many chunks to send, and what happens after them.
    let limit = pieces.length;
    let then: 'finish' | 'hang' | 'reset' = 'finish';
    if (scenario.kind === 'hang-before-first-chunk') [limit, then] = [0, 'hang'];
    if (scenario.kind === 'hang-after') [limit, then] = [Math.min(scenario.chunks, pieces.length - 1), 'hang'];
    if (scenario.kind === 'reset-after') [limit, then] = [Math.min(scenario.chunks, pieces.length - 1), 'reset'];

    openStreams++;
    let pending: NodeJS.Timeout | undefined;
    res.on('close', () => {
      openStreams--;
      if (pending) {
        clearTimeout(pending);
        timers.delete(pending);
      }
    });
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    res.flushHeaders();

    if (scenario.kind === 'blocked') {
      if (scenario.via === 'finish') {
        const first = pieces[0] ?? '';
        pending = later(delay, () => {
          res.write(sse(responseJson(meta, first, undefined, 0)));
          pending = later(delay, () => res.end(sse(responseJson(meta, undefined, 'SAFETY', first.length))));
        });
      } else {
        pending = later(delay, () => res.end(sse(promptBlockedJson(meta))));
      }
      return;
    }
    if (scenario.kind === 'empty') {
      pending = later(delay, () => res.end(sse(responseJson(meta, '', 'STOP', 0))));
      return;
    }

    let sent = 0;
    let chars = 0;
    const next = () => {
      pending = undefined;
      if (res.destroyed) return;
      if (sent < limit) {
        const piece = pieces[sent]!;
        chars += piece.length;
        sent++;
        const last = then === 'finish' && sent === pieces.length;
        res.write(sse(responseJson(meta, piece, last ? finishReason : undefined, chars)));
        if (last) res.end();
        else pending = later(delay, next);
        return;
      }
      if (then === 'reset') req.socket.destroy();
      // 'hang': keep the connection open and silent until the client gives up or close() runs.
    };
    if (limit > 0) pending = later(delay, next);
    else if (then === 'reset') req.socket.destroy();
  };

  const unary = (req: IncomingMessage, res: ServerResponse, scenario: Scenario, answer: string, meta: ResponseMeta, finishReason: string) => {
    const delay = (scenario.kind === 'slow' ? scenario.chunkDelayMs : baseDelay) * chunkCount;
    switch (scenario.kind) {
      case 'hang-before-first-chunk':
      case 'hang-after':
        return; // never answers
      case 'reset-after':
        req.socket.destroy();
        return;
      case 'blocked':
        later(delay, () => sendJson(res, 200, scenario.via === 'finish' ? responseJson(meta, undefined, 'SAFETY', 0) : promptBlockedJson(meta)));
        return;
      case 'empty':
        later(delay, () => sendJson(res, 200, responseJson(meta, '', 'STOP', 0)));
        return;
      default:
        later(delay, () => sendJson(res, 200, responseJson(meta, answer, finishReason, answer.length)));
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://standin.invalid');
    const apiKey = req.headers['x-goog-api-key'] ?? url.searchParams.get('key') ?? undefined;
    url.searchParams.delete('key');
    const route = ROUTE.exec(url.pathname);
    if (req.method !== 'POST' || !route) {
      sendJson(res, 404, googleError(404, `Method not found: ${req.method} ${url.pathname}`));
      return;
    }
    const [, apiVersion, model, action] = route as unknown as [string, string, string, RecordedRequest['action']];
    const raw = await readBody(req);
    if (raw === undefined) {
      sendJson(res, 413, googleError(413));
      return;
    }
    let body: WireBody;
    try {
      body = JSON.parse(raw.toString('utf8')) as WireBody;
    } catch {
      sendJson(res, 400, googleError(400, 'Invalid JSON payload received.'));
      return;
    }
    const headers = { ...req.headers };
    delete headers['x-goog-api-key'];
    delete headers.authorization;
    const scenario: Scenario = apiKey ? pickScenario(body) : { kind: 'status', status: 401 };
    requests.push({ method: req.method, path: url.pathname + url.search, apiVersion, model, action, headers, apiKeyPresent: Boolean(apiKey), body, scenario });
    logger?.debug('Gemini stand-in request', { action, model, apiVersion, scenario: scenario.kind });

    if (!apiKey) {
      sendJson(res, 401, googleError(401, 'API key not present. Please pass a valid API key (x-goog-api-key header).'));
      return;
    }
    if (!Array.isArray(body.contents) || body.contents.length === 0) {
      sendJson(res, 400, googleError(400, '* GenerateContentRequest.contents: contents is not specified'));
      return;
    }
    if (action === 'streamGenerateContent' && url.searchParams.get('alt') !== 'sse') {
      sendJson(res, 400, googleError(400, 'The stand-in streams Server-Sent Events only: add ?alt=sse.'));
      return;
    }
    if (scenario.kind === 'status') {
      sendJson(res, scenario.status, googleError(scenario.status, scenario.message, scenario.retryDelay), scenario.retryAfter ? { 'retry-after': scenario.retryAfter } : {});
      return;
    }
    const { answer, finishReason } = limitAnswer(standinAnswer(body, model), scenario, body);
    const promptChars = textParts(body).reduce((n, t) => n + t.length, 0);
    const meta: ResponseMeta = { model, responseId: randomUUID().replace(/-/g, '').slice(0, 22), promptTokens: tokens(promptChars) };
    if (action === 'streamGenerateContent') stream(req, res, scenario, answer, meta, finishReason);
    else unary(req, res, scenario, answer, meta, finishReason);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger?.warn('Gemini stand-in failed to answer', { error: String(error) });
      if (!res.headersSent) sendJson(res, 500, googleError(500));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as { port: number };
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    url,
    requests,
    get openStreams() {
      return openStreams;
    },
    enqueue(...scenarios) {
      queue.push(...scenarios);
    },
    setDefault(scenario) {
      fallback = scenario;
    },
    reset() {
      queue.length = 0;
      requests.length = 0;
      markerUses.clear();
      fallback = { kind: 'ok' };
    },
    close: () => closeServer(server, timers),
  };
}

// ── standalone ───────────────────────────────────────────────────────────────────────────────

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      'chunk-delay-ms': { type: 'string' },
      'chunk-count': { type: 'string' },
    },
  });
  const standin = await startGeminiStandin({
    port: Number(values.port),
    host: values.host,
    ...(values['chunk-delay-ms'] !== undefined ? { chunkDelayMs: Number(values['chunk-delay-ms']) } : {}),
    ...(values['chunk-count'] !== undefined ? { chunkCount: Number(values['chunk-count']) } : {}),
  });
  console.log(`Gemini stand-in (not a real model) listening on ${standin.url}`);
  console.log(`Use it with: GEMINI_BASE_URL=${standin.url} GEMINI_API_KEY=any-value`);
  const stop = () => {
    void standin.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
