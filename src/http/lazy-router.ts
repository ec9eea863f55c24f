/**
 * A feature router (Mailgun webhook, /v1 API) built on its first request instead of at start-up:
 * an instance scaled from zero is ready without loading what most of its requests never use
 * (bench/README.md, startup). Requests outside `prefixes` pass straight on, so `/readyz`,
 * `/healthz` and `/metrics` never trigger the load. A load that fails answers 503 with
 * `EW_ERR_FEATURE_UNAVAILABLE` (Mailgun and API clients retry) and is tried again on the next
 * request (`src/lazy.ts`).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'winston';
import { ErrorCodes, describeError, retryable } from '../errors.ts';
import { httpStatusForError } from '../errors-outcome.ts';
import { lazy } from '../lazy.ts';

export interface LazyRouterOptions {
  /** Name for the log line and the error message, e.g. 'Mailgun webhook'. */
  name: string;
  /** Path prefixes the router serves (e.g. '/v1/'); other requests are not its concern. */
  prefixes: readonly string[];
  /** Builds the router; called once, again only after a failure. */
  load: () => Promise<RequestHandler>;
  logger?: Logger;
}

export function lazyRouter(options: LazyRouterOptions): RequestHandler {
  const router = lazy(options.load);
  return (req: Request, res: Response, next: NextFunction) => {
    if (!options.prefixes.some((p) => req.path.startsWith(p))) return next();
    router().then(
      (handler) => handler(req, res, next),
      (cause: unknown) => {
        const error = retryable(ErrorCodes.FEATURE_UNAVAILABLE, `${options.name} could not be loaded: ${describeError(cause)}`, { cause });
        options.logger?.error(`${options.name} could not be loaded; answering 503`, { err: error });
        res.status(httpStatusForError(error)).json({ error: error.code, message: `${options.name} is unavailable; try again` });
      },
    );
  };
}
