/**
 * An HTTP/2 (h2c) proxy for gRPC between worker processes and the Pub/Sub emulator, whose one job
 * is what real Pub/Sub does and the emulator on these machines (0.8.20) does not: when a client's
 * connection drops (its process was SIGKILLed), end the client's streaming pulls on the server.
 *
 * The emulator removes a streaming pull the client cancels (RST_STREAM), but not one whose TCP
 * connection merely closed: it keeps handing that dead stream messages, each lost until its ack
 * deadline, minutes after the kill (`npm run bench -- emulator-streams`). Google added stream
 * teardown to the emulator in 0.8.32. Here, when the client's session closes, every stream still
 * open upstream is cancelled (RST_STREAM CANCEL) — the emulator then forgets it, as Pub/Sub would.
 * Everything else is forwarded unchanged: headers, messages, trailers, resets.
 */
import http2, { type ClientHttp2Stream, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, HTTP2_HEADER_STATUS } = http2.constants;

export interface GrpcCancelProxy {
  /** `127.0.0.1:PORT`, the value for PUBSUB_EMULATOR_HOST. */
  host: string;
  /** Client sessions whose close cancelled streams upstream, and how many streams. */
  readonly cancelled: { sessions: number; streams: number };
  close(): Promise<void>;
}

/** Request headers that belong to the hop, not to the call. */
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'http2-settings']);

function forwardable(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP.has(k)) out[k] = v;
  return out;
}

export async function startGrpcCancelProxy(target: string): Promise<GrpcCancelProxy> {
  const cancelled = { sessions: 0, streams: 0 };
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer();
  server.on('session', (down) => {
    sessions.add(down);
    const up = http2.connect(`http://${target}`);
    const open = new Set<ClientHttp2Stream>();
    up.on('error', () => down.destroy());
    down.on('error', () => {});
    down.on('close', () => {
      sessions.delete(down);
      if (open.size) {
        cancelled.sessions += 1;
        cancelled.streams += open.size;
      }
      for (const s of open) s.close(NGHTTP2_CANCEL);
      up.close();
    });
    down.on('stream', (ds: ServerHttp2Stream, headers) => {
      const us = up.request(forwardable(headers), { endStream: false });
      open.add(us);
      let trailers: Record<string, string | string[]> | undefined;
      let trailersOnly = false;
      us.on('response', (h) => {
        if (ds.destroyed) return;
        // A trailers-only answer (an error status at once) is headers that end the stream.
        trailersOnly = h['grpc-status'] !== undefined;
        ds.respond(forwardable(h), trailersOnly ? { endStream: true } : { waitForTrailers: true });
      });
      us.on('trailers', (t) => (trailers = forwardable(t)));
      ds.on('wantTrailers', () => {
        const t = trailers ?? {};
        delete t[HTTP2_HEADER_STATUS];
        if (Object.keys(t).length) ds.sendTrailers(t);
        else ds.close();
      });
      us.on('data', (chunk: Buffer) => ds.destroyed || trailersOnly || ds.write(chunk));
      us.on('end', () => ds.destroyed || trailersOnly || ds.end());
      ds.on('data', (chunk: Buffer) => us.destroyed || us.write(chunk));
      ds.on('end', () => us.destroyed || us.end());
      // A reset on either side (a client cancelling a stream, the server ending one) goes across.
      us.on('close', () => {
        open.delete(us);
        // A normal end reaches the client through 'end' and the trailers; only a reset is passed on.
        if (us.rstCode && us.rstCode !== NGHTTP2_NO_ERROR && !ds.closed) ds.close(us.rstCode);
      });
      ds.on('close', () => {
        if (!us.closed) us.close(ds.rstCode && ds.rstCode !== 0 ? ds.rstCode : NGHTTP2_CANCEL);
      });
      us.on('error', () => {});
      ds.on('error', () => {});
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    get cancelled() {
      return cancelled;
    },
    async close() {
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
