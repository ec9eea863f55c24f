/**
 * `email-worker send`: posts one email to a running worker's `/inbound/mailgun` exactly as a
 * Mailgun route would — store(notify=…) style (urlencoded, attachments as URLs), signed with
 * MAILGUN_WEBHOOK_SIGNING_KEY. Attachments given with --attach are served from a loopback URL
 * until the worker has fetched them (the worker must allow it: ATTACHMENT_ALLOW_PRIVATE=true and
 * 127.0.0.1 in ATTACHMENT_ALLOWED_HOSTS, as `npm run dev` does); `--action forward` uploads them
 * in a multipart forward() post instead.
 *
 *   email-worker send --from alice@example.com --subject "Q3" --text "Summarise this" --attach report.pdf
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { guessContentType } from '../attachments/mime.ts';
import { forwardPost, storePost, type RoutePostInput, type StoredAttachmentRef, type UploadedFile } from '../ingress/mailgun-post.ts';

const HELP = `Usage: email-worker send --from ADDRESS [options]

Posts one email to a running worker's /inbound/mailgun, signed like Mailgun
(MAILGUN_WEBHOOK_SIGNING_KEY), and prints the worker's answer.

Options:
  --from ADDRESS        sender who gets the reply (required)
  --to ADDRESS          the inbound address (default ask@MAILGUN_DOMAIN); a +pdf/+docx/+html
                        tag asks for exports, e.g. ask+pdf@mg.example.com
  --subject TEXT        subject
  --text TEXT           the question (or --text-file FILE)
  --text-file FILE      read the question from a file
  --attach FILE         attach a file; repeatable
  --action store|forward  route action to imitate (default store)
  --message-id ID       Message-ID (default: a new one)
  --in-reply-to ID      In-Reply-To (a follow-up in a thread)
  --references IDS      References, space-separated
  --header "Name: v"    one more mail header; repeatable
  --url URL             worker base URL (default EMAIL_WORKER_URL or http://127.0.0.1:PORT)
  --wait-seconds N      how long attachments stay served for the worker (default 120)
  -h, --help            this help`;

interface Served {
  refs: StoredAttachmentRef[];
  /** Resolves when every file was fetched once (or the wait ends). */
  fetched: Promise<boolean>;
  close(): Promise<void>;
}

/** Serves files on loopback, each at an unguessable path, until fetched. */
async function serveFiles(files: UploadedFile[], waitMs: number): Promise<Served> {
  const secret = randomUUID();
  const pending = new Set(files.map((_, i) => i));
  let done: (all: boolean) => void = () => {};
  const fetched = new Promise<boolean>((r) => (done = r));
  const server: Server = createServer((req, res) => {
    const match = new RegExp(`^/${secret}/(\\d+)/`).exec(req.url ?? '');
    const file = match ? files[Number(match[1])] : undefined;
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': file.contentType, 'content-length': file.data.length }).end(file.data);
    pending.delete(Number(match![1]));
    if (pending.size === 0) done(true);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const timer = setTimeout(() => done(false), waitMs);
  return {
    refs: files.map((f, i) => ({ url: `http://127.0.0.1:${port}/${secret}/${i}/${encodeURIComponent(f.name)}`, name: f.name, contentType: f.contentType, size: f.data.length })),
    fetched,
    close: async () => {
      clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        from: { type: 'string' }, to: { type: 'string' }, subject: { type: 'string' }, text: { type: 'string' }, 'text-file': { type: 'string' },
        attach: { type: 'string', multiple: true }, action: { type: 'string' }, 'message-id': { type: 'string' }, 'in-reply-to': { type: 'string' },
        references: { type: 'string' }, header: { type: 'string', multiple: true }, url: { type: 'string' }, 'wait-seconds': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    console.error(`email-worker send: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const signingKey = process.env.MAILGUN_WEBHOOK_SIGNING_KEY;
  const problems = [
    !values.from && '--from is required',
    !signingKey && 'MAILGUN_WEBHOOK_SIGNING_KEY must be set (the key the worker verifies with)',
    values.action && !['store', 'forward'].includes(values.action) && '--action must be store or forward',
    ...(values.header ?? []).filter((h) => !/^[\w-]+:\s*\S/.test(h)).map((h) => `--header "${h}" is not "Name: value"`),
  ].filter(Boolean);
  if (problems.length) {
    console.error(`email-worker send: ${problems.join('; ')}\n\n${HELP}`);
    return 2;
  }
  const base = values.url ?? process.env.EMAIL_WORKER_URL ?? `http://127.0.0.1:${process.env.PORT ?? 8080}`;
  const input: RoutePostInput = {
    signingKey: signingKey!,
    from: values.from!,
    recipient: values.to ?? `ask@${process.env.MAILGUN_DOMAIN ?? 'mg.localhost'}`,
    subject: values.subject ?? '',
    text: values['text-file'] ? await readFile(values['text-file'], 'utf8') : (values.text ?? ''),
    ...(values['message-id'] ? { messageId: values['message-id'] } : {}),
    ...(values['in-reply-to'] ? { inReplyTo: values['in-reply-to'] } : {}),
    ...(values.references ? { references: values.references.split(/\s+/).filter(Boolean) } : {}),
    headers: (values.header ?? []).map((h) => [h.slice(0, h.indexOf(':')).trim(), h.slice(h.indexOf(':') + 1).trim()] as [string, string]),
  };
  const files: UploadedFile[] = [];
  for (const path of values.attach ?? []) files.push({ name: basename(path), contentType: guessContentType(path), data: await readFile(path) });

  const served = values.action !== 'forward' && files.length ? await serveFiles(files, Number(values['wait-seconds'] ?? 120) * 1000) : undefined;
  try {
    const body = values.action === 'forward' ? forwardPost(input, files) : storePost(input, served?.refs ?? []);
    let response: Response;
    try {
      response = await fetch(new URL('/inbound/mailgun', base), { method: 'POST', body });
    } catch (error) {
      console.error(`email-worker send: cannot reach ${base}: ${(error as Error).message}`);
      return 1;
    }
    const answer = await response.text();
    console.log(JSON.stringify({ status: response.status, answer: safeJson(answer) }));
    if (response.status !== 200) return 1;
    if (served && !(safeJson(answer) as { ignored?: unknown }).ignored) {
      console.error(`serving ${files.length} attachment(s) on loopback until the worker fetches them …`);
      if (!(await served.fetched)) console.error('email-worker send: the worker did not fetch every attachment in time');
    }
    return 0;
  } finally {
    await served?.close();
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
