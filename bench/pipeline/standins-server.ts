/**
 * The child process of `standins.ts`: starts the Gemini and Mailgun stand-ins (and the file server)
 * and answers the parent's IPC requests. Not run directly.
 */
import { createServer, type Server } from 'node:http';
import { startGeminiStandin } from '../../src/dev/gemini-standin.ts';
import { startMailgunStandin } from '../../src/dev/mailgun-standin.ts';
import type { StandinsReply as Reply, StandinsRequest as Request, StandinsSpec } from './standins.ts';

// Same clock as `wallNow` in common.ts (not imported: that module loads the Pub/Sub client).
const wallNow = (): number => performance.timeOrigin + performance.now();

function fileServer(bytes: number): Promise<Server> {
  const block = Buffer.alloc(64 * 1024, 0x61);
  const server = createServer((req, res) => {
    req.resume();
    const asked = Number(new URL(req.url ?? '/', 'http://file').searchParams.get('bytes') ?? bytes);
    const size = Math.min(bytes, Number.isFinite(asked) && asked >= 0 ? asked : bytes);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        const n = Math.min(block.length, size - sent);
        sent += n;
        if (!res.write(n === block.length ? block : block.subarray(0, n))) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function serve(spec: StandinsSpec): Promise<void> {
  const gemini = await startGeminiStandin(spec.gemini);
  const mailgun = await startMailgunStandin({ apiKey: spec.mailgunKey });
  const files = spec.fileBytes ? await fileServer(spec.fileBytes) : undefined;
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, gemini.openStreams)), 5);
  const waits = new Set<{ id: number; count: number }>();
  let checker: NodeJS.Timeout | undefined;
  // Checked every millisecond while someone waits: the time the count is reached ends a throughput round.
  const check = () => {
    for (const w of waits) {
      if (mailgun.messages.length >= w.count) {
        waits.delete(w);
        process.send!({ id: w.id, at: wallNow() } satisfies Reply);
      }
    }
    if (!waits.size) checker = void clearInterval(checker);
  };
  process.on('message', (m: Request) => {
    if (m.cmd === 'stats') {
      peak = Math.max(peak, gemini.openStreams);
      const stats = { openStreams: gemini.openStreams, peakOpenStreams: peak, geminiRequests: gemini.requests.length, messages: mailgun.messages.length };
      process.send!({ id: m.id, stats } satisfies Reply);
    } else if (m.cmd === 'reset') {
      gemini.reset();
      // Bench-only: the stand-in keeps every message; rounds would otherwise pile them up.
      mailgun.messages.length = 0;
      mailgun.requests.length = 0;
      peak = gemini.openStreams;
      process.send!({ id: m.id, ok: true } satisfies Reply);
    } else if (m.cmd === 'wait') {
      waits.add({ id: m.id, count: m.count });
      checker ??= setInterval(check, 1);
    }
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    clearInterval(sampler);
    clearInterval(checker);
    files?.closeAllConnections();
    files?.close();
    void Promise.all([gemini.close(), mailgun.close()]).then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  // The parent died without closing us (a failed scenario exits at once): do not outlive it.
  process.once('disconnect', stop);
  const filePort = files ? (files.address() as { port: number }).port : undefined;
  process.send!({ geminiUrl: gemini.url, mailgunUrl: mailgun.url, ...(filePort ? { fileUrl: `http://127.0.0.1:${filePort}/file` } : {}) });
}

await serve(JSON.parse(process.argv[2] ?? '{}') as StandinsSpec);
