/**
 * The HTTP surface served by express (SPEC §4): liveness, readiness, Prometheus metrics.
 * Ingress routes (Mailgun webhook, push delivery, API) mount on the same app.
 */
import express, { type Express, type RequestHandler, type Router } from 'express';
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface HttpServerOptions {
  port: number;
  host?: string;
  registry: Registry;
  /** Each check throws (or rejects) when its dependency is not reachable. */
  readinessChecks: Record<string, () => Promise<void>>;
  /** Bound on each readiness check. @defaultValue 2000 */
  readinessTimeoutMs?: number;
  /**
   * Feature routers (Mailgun webhook, push delivery, API), mounted before the built-in routes.
   * Each owns its body parsing and limits: the app itself parses no bodies.
   */
  routers?: ReadonlyArray<Router | RequestHandler>;
  /** Operator-facing facts added to the readiness body as `details` (e.g. subscription warnings). @defaultValue none */
  readinessDetails?: () => Record<string, unknown>;
}

export function createHttpApp(options: Omit<HttpServerOptions, 'port' | 'host'>): Express {
  const app = express();
  app.disable('x-powered-by');
  for (const router of options.routers ?? []) app.use(router);
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const limit = options.readinessTimeoutMs ?? 2000;
    const results = await Promise.all(
      Object.entries(options.readinessChecks).map(async ([name, check]) => {
        const signal = AbortSignal.timeout(limit);
        try {
          await Promise.race([
            check(),
            new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error(`no answer within ${limit}ms`)), { once: true })),
          ]);
          return [name, 'ok'] as const;
        } catch (error) {
          return [name, (error as Error).message] as const;
        }
      }),
    );
    const ready = results.every(([, state]) => state === 'ok');
    const details = options.readinessDetails?.();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks: Object.fromEntries(results), ...(details ? { details } : {}) });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(options.registry.contentType).send(await options.registry.metrics());
  });
  return app;
}

export async function startHttpServer(options: HttpServerOptions): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const app = createHttpApp(options);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(options.port, options.host ?? '0.0.0.0', (error?: Error) => (error ? reject(error) : resolve(s)));
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
