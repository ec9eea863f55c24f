/**
 * One log line per HTTP request with Cloud Logging's `httpRequest` fields (method, URL, status,
 * sizes, latency, user agent, remote IP) and the request's trace, so an inbound webhook and the
 * job it published can be found together. Probes and scrapes log at debug: they arrive every few
 * seconds and Cloud Run's own request log already counts them.
 */
import type { RequestHandler } from 'express';
import type { Logger } from 'winston';
import { traceFromHeaders } from '../observability/logger.ts';

const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

export interface RequestLogOptions {
  logger: Logger;
  /** Links the trace header to `projects/<id>/traces/<trace>`. @defaultValue none */
  projectId?: string;
}

export function requestLog(options: RequestLogOptions): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const latencyS = Number(process.hrtime.bigint() - started) / 1e9;
      const length = Number(req.headers['content-length']);
      const trace = traceFromHeaders(req.headers, options.projectId);
      const httpRequest = {
        requestMethod: req.method,
        // Only the path: query strings can carry tokens.
        requestUrl: req.path,
        status: res.statusCode,
        ...(Number.isFinite(length) ? { requestSize: String(length) } : {}),
        ...(res.getHeader('content-length') !== undefined ? { responseSize: String(res.getHeader('content-length')) } : {}),
        ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}),
        ...(req.ip ? { remoteIp: req.ip } : {}),
        latency: `${latencyS.toFixed(6)}s`,
        protocol: `HTTP/${req.httpVersion}`,
      };
      const level = QUIET_PATHS.has(req.path) ? 'debug' : res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info';
      options.logger.log(level, `${req.method} ${req.path} ${res.statusCode}`, { httpRequest, ...(trace ? { trace } : {}) });
    });
    next();
  };
}
