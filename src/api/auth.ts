/** `Authorization: Bearer <API key>` for the API routes: 401 without a configured key. */
import type { NextFunction, Request, Response } from 'express';
import { ErrorCodes } from '../errors.ts';
import { bearerToken, findApiKey, type ApiKey } from './api-keys.ts';

export function requireApiKey(keys: readonly ApiKey[]) {
  return (req: Request, res: Response, next: NextFunction) => {
    const token = bearerToken(req.headers.authorization);
    const key = token === undefined ? undefined : findApiKey(token, keys);
    if (!key) {
      res.set('WWW-Authenticate', 'Bearer').status(401).json({ error: ErrorCodes.API_UNAUTHORIZED, message: 'a valid API key is required (Authorization: Bearer <key>)' });
      return;
    }
    res.locals.apiKey = key;
    next();
  };
}

export function apiKeyOf(res: Response): ApiKey {
  return res.locals.apiKey as ApiKey;
}

/** 405 with an Allow header for any other method on a route. */
export function methodNotAllowed(allow: string) {
  return (_req: Request, res: Response) => {
    res.set('Allow', allow).status(405).json({ error: 'method not allowed' });
  };
}
