/**
 * One side of the ingress benchmark, in its own process (`--side worker|reference`), reporting its
 * URL to the parent over IPC and answering `cpu` requests with its CPU time so far.
 *
 * - worker: the product's HTTP app (`createHttpApp`) with the webhook exactly as `startApp` wires
 *   it (`mailgunRouterFromConfig`: signature, replay store, parsing, loop guard, sender policy,
 *   caps, job validation, publish, metrics, one log line through the product's logger). The pull
 *   consumer that answers the jobs is not started: its cost is what `bench pipeline` measures.
 * - reference: a minimal hand-written express handler: urlencoded body, HMAC check with
 *   timingSafeEqual, publish `{from, subject, text, messageId}` with the same Pub/Sub client.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Server } from 'node:http';
import { parseArgs } from 'node:util';
import express from 'express';
import { PubSub } from '@google-cloud/pubsub';
import { Registry } from 'prom-client';
import { loadConfig } from '../../src/config.ts';
import { createHttpApp } from '../../src/http/server.ts';
import { INGRESS_PUBLISH_OPTIONS, jobPublisher, mailgunRouterFromConfig } from '../../src/ingress/from-config.ts';
import { createIngressMetrics } from '../../src/ingress/ingress-metrics.ts';
import { createIngressStore } from '../../src/ledger/ingress-store.ts';
import { discardingLogger, PROJECT } from '../pipeline/common.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { Writable } from 'node:stream';

const SIGNING_KEY = 'bench-ingress-signing-key';

const { values } = parseArgs({ options: { side: { type: 'string' }, topic: { type: 'string' } } });
const topicName = values.topic!;
process.env.METADATA_SERVER_DETECTION = 'none';
const pubsub = new PubSub({ projectId: PROJECT });
// Both sides publish with the same client and the same publisher settings.
const topic = pubsub.topic(topicName, INGRESS_PUBLISH_OPTIONS);
let app: express.Express;

if (values.side === 'worker') {
  const config = loadConfig({
    GOOGLE_CLOUD_PROJECT: PROJECT,
    PUBSUB_EMULATOR_HOST: process.env.PUBSUB_EMULATOR_HOST,
    PUBSUB_TOPIC: topicName,
    GEMINI_BASE_URL: 'http://127.0.0.1:9',
    MAILGUN_DOMAIN: 'mg.bench.localhost',
    MAILGUN_WEBHOOK_SIGNING_KEY: SIGNING_KEY,
    // Every post is a new sender and thread; the daily cap would stop a benchmark run.
    DAILY_JOB_CAP: '0',
    ...(process.env.BENCH_INGRESS_NO_CAPS ? { REPLY_CAP_PER_SENDER: '0', REPLY_CAP_PER_THREAD: '0' } : {}),
  });
  const registry = new Registry();
  const router = mailgunRouterFromConfig(config, {
    store: await createIngressStore('memory'),
    publish: jobPublisher(topic),
    logger: process.env.BENCH_INGRESS_LOG_LEVEL ? createLogger({ level: process.env.BENCH_INGRESS_LOG_LEVEL, stream: new Writable({ write: (_c, _e, done) => done() }) }) : discardingLogger(),
    metrics: createIngressMetrics(registry),
  });
  app = createHttpApp({ registry, readinessChecks: {}, routers: [router] });
} else {
  app = express();
  app.post('/inbound/mailgun', express.urlencoded({ extended: false, limit: '5mb' }), async (req, res) => {
    const { timestamp, token, signature, from, subject } = req.body as Record<string, string>;
    const expected = createHmac('sha256', SIGNING_KEY).update(`${timestamp}${token}`).digest();
    const given = Buffer.from(signature ?? '', 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return void res.status(401).end();
    const body = req.body as Record<string, string>;
    try {
      const id = await topic.publishMessage({ json: { from, subject, text: body['body-plain'], messageId: body['Message-Id'] } });
      res.json({ id });
    } catch {
      res.status(503).end();
    }
  });
}

const server: Server = await new Promise((resolve) => {
  const s = app.listen(0, '127.0.0.1', () => resolve(s));
});
process.on('message', (m: string) => {
  if (m === 'cpu') {
    const u = process.cpuUsage();
    process.send!({ cpuMs: (u.user + u.system) / 1000 });
  }
  if (m === 'stop') {
    server.close();
    void pubsub.close().then(() => process.exit(0));
  }
});
process.send!({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}` });
