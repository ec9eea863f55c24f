/**
 * The HTTP surface served by express (SPEC §4): liveness, readiness, Prometheus metrics.
 * Ingress routes (Mailgun webhook, push delivery, API) mount on the same app.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type Express, type RequestHandler, type Router } from 'express';
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from 'winston';
import { runReadinessChecks, type ReadinessChecks } from './readiness.ts';
import { requestLog } from './request-log.ts';

export interface HttpServerOptions {
  port: number;
  host?: string;
  registry: Registry;
  /** Each check throws (or rejects) when its dependency is not reachable. */
  readinessChecks: ReadinessChecks;
  /** Bound on each readiness check. @defaultValue 2000 */
  readinessTimeoutMs?: number;
  /**
   * Feature routers (Mailgun webhook, push delivery, API), mounted before the built-in routes.
   * Each owns its body parsing and limits: the app itself parses no bodies.
   */
  routers?: ReadonlyArray<Router | RequestHandler>;
  /** Logs each request with Cloud Logging's `httpRequest` fields. @defaultValue no request log */
  logger?: Logger;
  /** Project for the request log's trace links. @defaultValue none */
  projectId?: string;
  // issue 7: the ingress URL is public
  /** METRICS_TOKEN: when set, `/metrics` requires `Authorization: Bearer <token>`. @defaultValue open */
  metricsToken?: string;
  /** Time to receive a whole request, so a stalled client cannot hold a socket (not scaled). @defaultValue 30000 */
  requestTimeoutMs?: number;
  /** Operator-facing facts added to the readiness body as `details` (e.g. subscription warnings). @defaultValue none */
  readinessDetails?: () => Record<string, unknown>;
}

/** Constant-time check of a bearer token (hashes first, so lengths never leak). */
function bearerMatches(header: string | undefined, token: string): boolean {
  const presented = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1] ?? '';
  const digest = (v: string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(presented), digest(token)) && presented.length > 0;
}

export function createHttpApp(options: Omit<HttpServerOptions, 'port' | 'host'>): Express {
  const app = express();
  app.disable('x-powered-by');
  if (options.logger) app.use(requestLog({ logger: options.logger, ...(options.projectId ? { projectId: options.projectId } : {}) }));
  for (const router of options.routers ?? []) app.use(router);
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const report = await runReadinessChecks(options.readinessChecks, options.readinessTimeoutMs ?? 2000);
    const details = options.readinessDetails?.();
    res.status(report.ready ? 200 : 503).json({ status: report.ready ? 'ready' : 'not ready', checks: report.checks, ...(details ? { details } : {}) });
  });
  app.get('/metrics', async (req, res) => {
    if (options.metricsToken && !bearerMatches(req.headers.authorization, options.metricsToken)) {
      res.set('WWW-Authenticate', 'Bearer').status(401).json({ error: 'METRICS_TOKEN required' });
      return;
    }
    res.type(options.registry.contentType).send(await options.registry.metrics());
  });
  return app;
}

export async function startHttpServer(options: HttpServerOptions): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const app = createHttpApp(options);
  // The request timeout is checked every connectionsCheckingInterval: keep that well below it.
  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  const server = createServer({ requestTimeout, headersTimeout: requestTimeout, connectionsCheckingInterval: Math.max(50, Math.min(1000, requestTimeout / 10)) }, app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
